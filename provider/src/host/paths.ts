import { constants as fsConstants, promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { Runner } from "./run";

export async function lstatOrNull(p: string) {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** Whether a path is strictly below `containerDir` (lexically: `..` never escapes). */
export function isInside(containerDir: string, p: string): boolean {
  const rel = path.relative(containerDir, path.resolve(p));
  return !(rel === "" || rel.startsWith("..") || path.isAbsolute(rel));
}

/** Refuses any path that is not strictly below `containerDir`. */
export function assertInside(containerDir: string, p: string): void {
  if (!isInside(containerDir, p)) throw new Unsafe(`refusing to touch ${p}: it is outside ${containerDir}`);
}

/**
 * Removes a directory tree the way destroy must: never following a symlink (rm -r does not), never
 * crossing into another filesystem (a mount inside makes it fail instead), and never a symlink itself.
 */
export async function removeTree(run: Runner, containerDir: string, dir: string): Promise<void> {
  assertInside(containerDir, dir);
  const st = await lstatOrNull(dir);
  if (!st) return;
  if (st.isSymbolicLink()) throw new Unsafe(`refusing to delete ${dir}: it is a symbolic link`);
  if (!st.isDirectory()) throw new Unsafe(`refusing to delete ${dir}: it is not a directory`);
  await run(["rm", "-rf", "--one-file-system", "--", dir]);
}

/** Removes a regular file; refuses symlinks and anything else. */
export async function removeFile(containerDir: string, file: string): Promise<void> {
  assertInside(containerDir, file);
  const st = await lstatOrNull(file);
  if (!st) return;
  if (!st.isFile()) throw new Unsafe(`refusing to delete ${file}: it is not a regular file`);
  await fs.unlink(file);
}

/**
 * rmdir that tolerates a missing or non-empty directory (a mount point LXC may still use), and leaves
 * alone whatever is there that is not a directory: it is not ours.
 */
export async function removeEmptyDir(dir: string): Promise<void> {
  await fs.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (!["ENOENT", "ENOTEMPTY", "EEXIST", "EBUSY", "ENOTDIR"].includes(e.code ?? "")) throw e;
  });
}

/** Renames without ever replacing: the target must not exist. */
export async function renameNoReplace(from: string, to: string): Promise<void> {
  if (await lstatOrNull(to)) throw new Unsafe(`refusing to rename ${from} over existing ${to}`);
  await fs.rename(from, to);
}

/** At most this much of a small control file (an LXC config, a journal) is read. */
const SMALL_FILE_LIMIT = 1 << 20;

/**
 * Reads a small control file that must be a regular file: never through a symlink (O_NOFOLLOW), never
 * blocking on a FIFO planted in its place (O_NONBLOCK), never endless (/dev/zero). Null when missing.
 */
export async function readSmallFile(file: string): Promise<string | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new Unsafe(`refusing to read ${file}: it is a symbolic link`);
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Unsafe(`refusing to read ${file}: it is not a regular file`);
    if (st.size > SMALL_FILE_LIMIT) throw new Unsafe(`refusing to read ${file}: ${st.size} bytes is too large for it`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `file` atomically with `text`: a temporary beside it, created afresh (O_EXCL|O_NOFOLLOW, so a
 * planted symlink or file of that name is never written through), synced, then renamed over `file`.
 */
export async function writeFileAtomically(file: string, text: string, mode = 0o640): Promise<void> {
  await (
    await stageFile(file, text, mode)
  )();
}

/**
 * The first half of writeFileAtomically: the temporary is written and synced, and the returned function
 * renames it over `file`. Whoever stages and then does not commit removes the temporary.
 */
export async function stageFile(file: string, text: string, mode = 0o640): Promise<() => Promise<void>> {
  const tmp = `${file}.lxc-rootfs-tmp`;
  const st = await lstatOrNull(tmp);
  if (st) {
    if (st.isDirectory()) throw new Unsafe(`refusing to use ${tmp}: it is a directory`);
    await fs.unlink(tmp); // unlink removes a symlink itself, never its target
  }
  const fh = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return () => fs.rename(tmp, file);
}
