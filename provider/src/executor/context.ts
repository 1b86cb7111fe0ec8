/**
 * The context of one operation on one container: its lock, its scratch directory, and the journal that
 * lets the next operation undo whatever a killed one left half-done.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { ContainerRef, containerDirOf } from "../model/requests";
import { OpContext } from "../drivers/types";
import { withContainerLock } from "../host/lock";
import { mountsUnder, unmount } from "../host/mounts";
import { lstatOrNull, removeEmptyDir } from "../host/paths";
import { run as realRun, Runner } from "../host/run";

export const WORK_DIR = ".lxc-rootfs";

export interface OperationOptions {
  /** Replaces the command runner (tests of the exact LVM and ZFS commands). */
  run?: Runner;
  log?: (message: string) => void;
}

/**
 * Refuses a container directory that is a symlink or whose lxcPath resolves elsewhere through one: every
 * path this tool deletes is checked lexically against the container directory, so that must be real.
 */
async function checkContainerDir(spec: ContainerRef, dir: string): Promise<void> {
  const st = await lstatOrNull(dir);
  if (st && !st.isDirectory()) throw new Unsafe(`refusing to use ${dir}: it is not a directory (a symbolic link?)`);
  const parent = await lstatOrNull(spec.lxcPath);
  if (parent && !parent.isDirectory()) throw new Unsafe(`refusing to use lxcPath ${spec.lxcPath}: not a directory`);
}

/** Runs `fn` holding the container's lock, after recovering from any interrupted earlier operation. */
export async function withOperation<T>(
  spec: ContainerRef,
  opts: OperationOptions,
  fn: (ctx: OpContext) => Promise<T>,
  { createDir = false, readOnly = false } = {},
): Promise<T> {
  const containerDir = containerDirOf(spec);
  await checkContainerDir(spec, containerDir);
  if (readOnly) return withContainerLock(containerDir, () => fn(readOnlyContext(spec, opts)));
  return withContainerLock(containerDir, async () => {
    if (createDir) {
      await fs.mkdir(spec.lxcPath, { recursive: true, mode: 0o755 });
      await fs.mkdir(containerDir, { mode: 0o750 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
      await checkContainerDir(spec, containerDir);
    }
    const workDir = path.join(containerDir, WORK_DIR);
    const ctx = makeContext(containerDir, opts);
    await releaseLeftovers(workDir);
    try {
      return await fn(ctx);
    } finally {
      await removeEmptyDir(workDir).catch(() => undefined);
    }
  });
}

/** The context of an operation on `containerDir`: scratch mount points live in its work directory. */
export function makeContext(containerDir: string, opts: OperationOptions): OpContext {
  const workDir = path.join(containerDir, WORK_DIR);
  return {
    run: opts.run ?? realRun,
    containerDir,
    log: opts.log ?? (() => undefined),
    async scratchDir(label) {
      await ensureWorkDir(workDir);
      const dir = path.join(workDir, `${label}-${randomBytes(4).toString("hex")}`);
      await fs.mkdir(dir, { mode: 0o700 });
      return dir;
    },
  };
}

/** A context for reads and checks: it can run tools but has no scratch space, so it cannot mount. */
export function readOnlyContext(spec: ContainerRef, opts: OperationOptions): OpContext {
  return {
    run: opts.run ?? realRun,
    containerDir: containerDirOf(spec),
    log: opts.log ?? (() => undefined),
    scratchDir: () => Promise.reject(new Error("internal: a read-only operation asked for a mount point")),
  };
}

/** The work directory, made if missing; a planted symlink there must not lead our mkdir and rmdir elsewhere. */
export async function ensureWorkDir(workDir: string): Promise<void> {
  await fs.mkdir(workDir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  if (!(await fs.lstat(workDir)).isDirectory()) throw new Unsafe(`refusing to use ${workDir}: it is not a directory (a symbolic link?)`);
}

/** Unmounts what a killed operation left mounted in the scratch directory; autoclear then frees its loops. */
async function releaseLeftovers(workDir: string): Promise<void> {
  const st = await lstatOrNull(workDir);
  if (!st) return;
  if (!st.isDirectory()) throw new Unsafe(`refusing to use ${workDir}: it is not a directory (a symbolic link?)`);
  for (const mp of await mountsUnder(workDir)) await unmount(mp);
  for (const entry of await fs.readdir(workDir)) {
    const p = path.join(workDir, entry);
    if ((await fs.lstat(p)).isDirectory()) await removeEmptyDir(p);
  }
}
