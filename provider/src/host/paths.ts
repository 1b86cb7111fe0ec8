import { promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../core/errors";
import { Runner } from "./run";

export async function lstatOrNull(p: string) {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** Refuses any path that is not strictly below `containerDir` (lexically: `..` never escapes). */
export function assertInside(containerDir: string, p: string): void {
  const rel = path.relative(containerDir, path.resolve(p));
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    throw new Unsafe(`refusing to touch ${p}: it is outside ${containerDir}`);
  }
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

/** rmdir that tolerates a missing or non-empty directory (a mount point LXC may still use). */
export async function removeEmptyDir(dir: string): Promise<void> {
  await fs.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (!["ENOENT", "ENOTEMPTY", "EEXIST", "EBUSY"].includes(e.code ?? "")) throw e;
  });
}

/** Renames without ever replacing: the target must not exist. */
export async function renameNoReplace(from: string, to: string): Promise<void> {
  if (await lstatOrNull(to)) throw new Unsafe(`refusing to rename ${from} over existing ${to}`);
  await fs.rename(from, to);
}
