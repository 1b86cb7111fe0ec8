/**
 * Container directories held open for the length of an operation. A path check followed by an action on
 * the same path leaves a gap: `rename(<c>, <c>.real); symlink(<victim>, <c>)` between the two and the
 * action lands in the victim. So the directory is opened once (O_DIRECTORY | O_NOFOLLOW) and every
 * destructive step reaches it through that descriptor (`/proc/<pid>/fd/<fd>/…`, which names the opened
 * directory whatever its name is now), each further step of the path opened O_NOFOLLOW from the one
 * before, as openat would. The name is also checked against the descriptor before and after each such
 * step, so a swap stops the operation with an error instead of letting it report success.
 */
import { promises as fs, constants as fsc } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";

export interface Held {
  /** The canonical path the directory was opened at. */
  readonly dir: string;
  /** The path as the request spelled it, for messages. */
  readonly given: string;
  readonly dev: number;
  readonly ino: number;
  /** Called before each destructive step, with its name: the tests' race points. */
  beforeStep?: (step: string) => Promise<void>;
  readonly handle: fs.FileHandle;
}

const holds = new Map<string, Held>();

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;

/**
 * The path of an open descriptor, usable by this process and the tools it spawns; with `rest`, the path
 * that reaches it through the open directory `fd`, which it resolves from whatever that directory's name now.
 */
export const viaFd = (fd: number, rest = ""): string => `/proc/${process.pid}/fd/${fd}${rest ? `/${rest}` : ""}`;

/** Opens `dir` (never through a symlink as its last step) and registers it until `release`. */
export async function holdDirectory(dir: string, given: string): Promise<Held> {
  const handle = await fs.open(dir, DIR_FLAGS).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ELOOP" || e.code === "ENOTDIR") throw new Unsafe(`refusing to use ${given}: it is not a directory (a symbolic link?)`);
    throw e;
  });
  const st = await handle.stat();
  const held: Held = { dir, given, dev: st.dev, ino: st.ino, handle };
  holds.set(dir, held);
  return held;
}

export async function releaseHold(held: Held): Promise<void> {
  if (holds.get(held.dir) === held) holds.delete(held.dir);
  await held.handle.close();
}

/** Refuses to go on when the directory's name no longer leads to the directory held open. */
export async function assertStillHeld(held: Held): Promise<void> {
  const st = await fs.lstat(held.dir).catch(() => null);
  if (!st || !st.isDirectory() || st.dev !== held.dev || st.ino !== held.ino) {
    throw new Unsafe(
      `${held.given} was replaced while this operation ran (renamed, or swapped for a symbolic link): stopped; ` +
        "nothing outside the directory this operation opened was touched. Check what moved it, then run again.",
    );
  }
}

/** The held directory `p` lies strictly inside, with its path relative to it; null when none. */
export async function heldFor(p: string, containerDir?: string): Promise<{ held: Held; rel: string } | null> {
  const abs = path.resolve(p);
  const candidates = containerDir ? [holds.get(containerDir)].filter((h): h is Held => !!h) : [...holds.values()];
  for (const held of candidates) {
    const rel = path.relative(held.dir, abs);
    if (rel && !rel.startsWith("..") && !path.isAbsolute(rel)) return { held, rel };
  }
  // Another spelling of the same directory (through a symlinked lxcPath): found by identity, not by name.
  for (let a = path.dirname(abs); a !== path.dirname(a); a = path.dirname(a)) {
    const st = await fs.stat(a).catch(() => null);
    const held = st && candidates.find((h) => h.dev === st.dev && h.ino === st.ino);
    if (held) return { held, rel: path.relative(a, abs) };
  }
  return null;
}

/**
 * Runs `act` on `p` as reached through the held directory: every directory between the held one and
 * `p` opened O_NOFOLLOW from the one before, so none of them can be a symlink swapped in; `act` gets a
 * path that resolves only through those descriptors. The name is checked before and after.
 */
export async function throughHeld<T>(found: { held: Held; rel: string }, step: string, act: (p: string) => Promise<T>): Promise<T> {
  const { held, rel } = found;
  const parts = rel.split(path.sep);
  const opened: fs.FileHandle[] = [];
  try {
    await assertStillHeld(held);
    let fd = held.handle.fd;
    for (const part of parts.slice(0, -1)) {
      const h = await fs.open(viaFd(fd, part), DIR_FLAGS).catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ELOOP" || e.code === "ENOTDIR") {
          const step = path.join(held.given, ...parts.slice(0, opened.length + 1));
          throw new Unsafe(`refusing to use ${step}: it is not a directory (a symbolic link?)`);
        }
        throw e;
      });
      opened.push(h);
      fd = h.fd;
    }
    await held.beforeStep?.(step);
    const result = await act(viaFd(fd, parts[parts.length - 1]));
    await assertStillHeld(held);
    return result;
  } finally {
    for (const h of opened.reverse()) await h.close();
  }
}
