import { createHash } from "crypto";
import { promises as fs, constants as fsc } from "fs";
import { LOCK_EX, LOCK_UN, tryFlock } from "../native/libc";
import { RootfsError } from "../model/errors";

/** Outside every lxcPath, like LXC's own /run/lxc/lock: a lock must outlive the directory it guards. */
const LOCK_DIR = "/run/lxc-rootfs/locks";
const TIMEOUT_MS = 30 * 60 * 1000;

/**
 * Serializes operations on one container, across processes: flock on a file named after the container
 * directory. The caller passes the canonical directory (executor/context.ts resolves the lxcPath through
 * its symlinks first), so every spelling of one container takes the one lock. Polls with LOCK_NB so no
 * thread of the pool ever sleeps in the kernel.
 */
export async function withContainerLock<T>(containerDir: string, fn: () => Promise<T>, { create = true } = {}): Promise<T> {
  const name = createHash("sha256").update(containerDir).digest("hex").slice(0, 32);
  if (!create) {
    // A reader (a preview, a refresh) leaves nothing behind, not even a lock file. Without one, no operation
    // has run on this container since /run was last cleared, so none holds it: the read runs unlocked.
    const handle = await fs.open(`${LOCK_DIR}/${name}.lock`, fsc.O_RDWR).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return null;
      throw e;
    });
    if (handle) return holding(handle, containerDir, fn);
    const result = await fn();
    // A writer that began meanwhile made the file: what was read may be its work half-done. Read again
    // under the lock (a read changes nothing, so twice is as once).
    const late = await fs.open(`${LOCK_DIR}/${name}.lock`, fsc.O_RDWR).catch(() => null);
    return late ? holding(late, containerDir, fn) : result;
  }
  await fs.mkdir(LOCK_DIR, { recursive: true, mode: 0o700 });
  return holding(await fs.open(`${LOCK_DIR}/${name}.lock`, fsc.O_RDWR | fsc.O_CREAT, 0o600), containerDir, fn);
}

async function holding<T>(handle: fs.FileHandle, containerDir: string, fn: () => Promise<T>): Promise<T> {
  try {
    const deadline = Date.now() + TIMEOUT_MS;
    let wait = 5;
    while (!(await tryFlock(handle.fd, LOCK_EX))) {
      if (Date.now() > deadline) throw new RootfsError(`timed out waiting for another operation on ${containerDir}`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 200);
    }
    try {
      return await fn();
    } finally {
      await tryFlock(handle.fd, LOCK_UN);
    }
  } finally {
    await handle.close();
  }
}
