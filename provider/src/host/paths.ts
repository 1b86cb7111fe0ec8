import { constants as fsConstants, promises as fs, Stats } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { heldFor, throughHeld, viaFd } from "./held";
import { Runner } from "./run";

export async function lstatOrNull(p: string) {
  try {
    return await fs.lstat(p);
  } catch (e) {
    // ENOTDIR: a file where a directory on the way should be; the path does not exist either.
    if (["ENOENT", "ENOTDIR"].includes((e as NodeJS.ErrnoException).code ?? "")) return null;
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
 * Where `p`, inside `containerDir`, is reached for a destructive step: through the directory the operation
 * holds open when it holds one (see held.ts), else by name after the lexical check. Refuses a path that
 * is neither lexically inside nor inside by identity (another spelling of the same directory).
 */
async function actInside<T>(containerDir: string, p: string, step: string, act: (q: string) => Promise<T>): Promise<T> {
  const found = await heldFor(p, containerDir);
  if (found) return throughHeld(found, step, act);
  assertInside(containerDir, p);
  return act(p);
}

/** As actInside, for a path whose container the caller does not name: through a hold when one contains it. */
export async function actAnywhere<T>(p: string, step: string, act: (q: string) => Promise<T>): Promise<T> {
  const found = await heldFor(p);
  return found ? throughHeld(found, step, act) : act(p);
}

/**
 * Removes a directory tree the way destroy must: never following a symlink (rm -r does not), never
 * crossing into another filesystem (a mount inside makes it fail instead), and never a symlink itself.
 */
export async function removeTree(run: Runner, containerDir: string, dir: string): Promise<void> {
  await actInside(containerDir, dir, "remove-tree", async (q) => {
    const st = await lstatOrNull(q);
    if (!st) return;
    if (st.isSymbolicLink()) throw new Unsafe(`refusing to delete ${dir}: it is a symbolic link`);
    if (!st.isDirectory()) throw new Unsafe(`refusing to delete ${dir}: it is not a directory`);
    await run(["rm", "-rf", "--one-file-system", "--", q]);
  });
}

/** Removes a regular file; refuses symlinks and anything else. */
export async function removeFile(containerDir: string, file: string): Promise<void> {
  await actInside(containerDir, file, "remove-file", async (q) => {
    const st = await lstatOrNull(q);
    if (!st) return;
    if (!st.isFile()) throw new Unsafe(`refusing to delete ${file}: it is not a regular file`);
    await fs.unlink(q);
  });
}

/**
 * rmdir that tolerates a missing or non-empty directory (a mount point LXC may still use), and leaves
 * alone whatever is there that is not a directory: it is not ours.
 */
export async function removeEmptyDir(dir: string): Promise<void> {
  await actAnywhere(dir, "remove-empty-dir", (q) =>
    fs.rmdir(q).catch((e: NodeJS.ErrnoException) => {
      if (!["ENOENT", "ENOTEMPTY", "EEXIST", "EBUSY", "ENOTDIR", "ELOOP"].includes(e.code ?? "")) throw e;
    }),
  );
}

/** Renames without ever replacing: the target must not exist. */
export async function renameNoReplace(from: string, to: string): Promise<void> {
  const [src, dst] = [await heldFor(from), await heldFor(to)];
  if (!src || !dst) {
    if (await lstatOrNull(to)) throw new Unsafe(`refusing to rename ${from} over existing ${to}`);
    return fs.rename(from, to);
  }
  // Both ends through the held directory: the target's directory opened first, the source's inside.
  await throughHeld(dst, "rename", async (q) => {
    if (await lstatOrNull(q)) throw new Unsafe(`refusing to rename ${from} over existing ${to}`);
    await throughHeld(src, "rename-source", (p) => fs.rename(p, q));
  });
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
    const flags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;
    fh = await actAnywhere(file, "read", (q) => fs.open(q, flags));
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
 * Opens the regular file `rel` inside a tree a stranger made (an unpacked image) with `flags`, every
 * directory on the way opened O_NOFOLLOW from the one before, and the file itself only once lstat says
 * it is a regular file (a device node's open alone can act: a watchdog's arms it), then O_NOFOLLOW and
 * O_NONBLOCK: a symlink anywhere on the path (an image's /etc pointing at the host's) is never followed,
 * nor a FIFO waited on. Null when there is no regular file there by that path, of at most SMALL_FILE_LIMIT.
 * The tree is the operation's own, mounted for it alone: nothing swaps the file between the two steps.
 */
async function openInTree(root: string, rel: string, flags: number): Promise<fs.FileHandle | null> {
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.includes("..")) return null;
  const opened: fs.FileHandle[] = [];
  const dirFlags = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;
  try {
    let dir = await fs.open(root, dirFlags);
    opened.push(dir);
    for (const part of parts.slice(0, -1)) {
      dir = await fs.open(viaFd(dir.fd, part), dirFlags);
      opened.push(dir);
    }
    const file = viaFd(dir.fd, parts[parts.length - 1]);
    const found = await fs.lstat(file);
    if (!found.isFile() || found.size > SMALL_FILE_LIMIT) return null;
    const fh = await fs.open(file, flags | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
    const st = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (st.isFile() && st.size <= SMALL_FILE_LIMIT) return fh;
    await fh.close();
    return null;
  } catch (e) {
    if (["ENOENT", "ELOOP", "ENOTDIR", "EISDIR"].includes((e as NodeJS.ErrnoException).code ?? "")) return null;
    throw e;
  } finally {
    for (const h of opened.reverse()) await h.close();
  }
}

/** Reads a small file inside a tree a stranger made, never through a symlink (openInTree); null when there is none. */
export async function readSmallFileInTree(root: string, rel: string): Promise<string | null> {
  const fh = await openInTree(root, rel, fsConstants.O_RDONLY);
  if (!fh) return null;
  try {
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/**
 * Rewrites a small file inside a tree a stranger made with `edit`, in place (its inode, owner, mode,
 * xattrs and hard links stay), never through a symlink (openInTree). The text is the file's bytes one
 * character each (latin1), as sed sees them: bytes that are not UTF-8 come back as they were; `edit`
 * gives its own non-ASCII text the same way (Buffer.from(text).toString("latin1")). False when there is
 * no such file.
 */
export async function editFileInTree(root: string, rel: string, edit: (bytes: string) => string): Promise<boolean> {
  const fh = await openInTree(root, rel, fsConstants.O_RDWR);
  if (!fh) return false;
  try {
    const text = (await fh.readFile()).toString("latin1");
    const edited = edit(text);
    if (edited !== text) {
      const bytes = Buffer.from(edited, "latin1");
      await fh.truncate(0);
      await fh.write(bytes, 0, bytes.length, 0);
    }
    return true;
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
  await actAnywhere(tmp, "write-file", async (q) => {
    const st = await lstatOrNull(q);
    if (st) {
      if (st.isDirectory()) throw new Unsafe(`refusing to use ${tmp}: it is a directory`);
      await fs.unlink(q); // unlink removes a symlink itself, never its target
    }
    const fh = await fs.open(q, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
  return () => renameOver(tmp, file);
}

/** rename(2) of a staged file over its target, both through the held directory when there is one. */
async function renameOver(from: string, to: string): Promise<void> {
  const [src, dst] = [await heldFor(from), await heldFor(to)];
  if (!src || !dst) return fs.rename(from, to);
  await throughHeld(dst, "commit-file", (q) => throughHeld(src, "commit-file-source", (p) => fs.rename(p, q)));
}

/**
 * The canonical spelling of a path that may not exist yet: the real path of its longest existing
 * ancestor, followed by the rest as given (the part a create will make).
 */
export async function canonicalPath(p: string): Promise<{ canonical: string; existing: string; existingStat: Stats }> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let a = abs; ; a = path.dirname(a)) {
    const st = await fs.stat(a).catch((e: NodeJS.ErrnoException) => {
      // ENOTDIR: a file on the way (`/dev/null/x`); the caller refuses what exists and is no directory.
      if (e.code === "ENOENT" || e.code === "ENOTDIR") return null;
      throw e;
    });
    if (st) {
      const real = await fs.realpath(a);
      return { canonical: path.join(real, ...rest.reverse()), existing: real, existingStat: st };
    }
    if (a === path.dirname(a)) throw new Unsafe(`no part of ${p} exists`);
    rest.push(path.basename(a));
  }
}

/**
 * A rootfs string written through another spelling of the lxcPath (`lxc-create -P /link`, or a state from
 * before the lxcPath was resolved), its paths put under the canonical container directory, found by
 * identity as every destructive step finds it (the held directory, host/held.ts): the checks that follow
 * compare paths (inside the container, LXC's own mount point). Paths elsewhere are kept as written.
 */
export async function canonicalSpelling(value: string, containerDir: string): Promise<string> {
  const under = async (p: string): Promise<string> => {
    // Only a plain spelling is respelled: `link/../x` is resolved by the kernel through the link, not as written.
    if (path.normalize(p) !== p) return p;
    const abs = path.resolve(p);
    if (abs === containerDir || isInside(containerDir, abs)) return p;
    const found = await heldFor(abs, containerDir);
    return found ? path.join(found.held.dir, found.rel) : p;
  };
  const parts = value.split(":");
  for (let i = 0; i < parts.length; i++) if (parts[i].startsWith("/")) parts[i] = await under(parts[i]);
  return parts.join(":");
}
