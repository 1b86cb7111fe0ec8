/**
 * The journals that let the next operation finish or undo what a killed one left half-done: the swap's
 * (swap.ts), a snapshot's (snapshot-store.ts) and a shift in place's (shift-in-place.ts), kept in the
 * container's work directory.
 *
 * A journal is untrusted input. What is on disk may have been copied with its container directory from
 * another (`cp -a` of a directory an update was killed in), left by another version, damaged, or written
 * by someone else; acted on as it stands, it would move, rename or delete whatever it names. So each one
 * records the container directory it was written for (its path, device and inode), and a journal is read
 * only through `readJournal`, which refuses one that names another directory, is not JSON of a known
 * version, or holds a line break anywhere; its readers then parse every location again from its rootfs
 * string and check it against what this container owns (`locationProblem`). A refusal names the file and
 * what to do, and comes before anything is touched.
 */
import { promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { ContainerRef, containerDirOf } from "../model/requests";
import { SNAPS_DIR } from "../model/snapshots";
import { DRIVERS, Location, OpContext, parseRootfsString } from "../drivers";
import { configValue, readConfig } from "../host/lxc-config";
import { canonicalSpelling, isInside, lstatOrNull, readSmallFile, removeFile, writeFileAtomically } from "../host/paths";
import { ensureWorkDir, WORK_DIR } from "./context";

/** The format this version writes. Version 1 (no `version`, no `container`) is still read: see the readers. */
export const JOURNAL_VERSION = 2;

export const SWAP_JOURNAL = "journal.json";
export const SNAPSHOT_JOURNAL = "snapshot.json";
export const SHIFT_JOURNAL = "shift.json";

/** A directory as the journal records it: device and inode as decimal strings (exact beyond 2^53). */
export interface DirIdentity {
  path: string;
  dev: string;
  ino: string;
}

/** A journal read and checked for its container; `body` is still to be checked field by field. */
export interface JournalFile {
  file: string;
  version: 1 | 2;
  body: Record<string, unknown>;
}

/** The journal's file; the swap's by default, a snapshot's is SNAPSHOT_JOURNAL. */
export function journalPath(containerDir: string, name = SWAP_JOURNAL): string {
  return path.join(containerDir, WORK_DIR, name);
}

/**
 * Whether an operation on this container was interrupted: a journal (a swap's, a snapshot's, a shift's) is still
 * there. Whatever reads the container then recovers first, and so refuses a journal it must not act on.
 */
export function hasJournal(spec: ContainerRef): Promise<boolean> {
  return journalsIn(containerDirOf(spec));
}

/** Whether a journal of either kind is in the container directory's work directory (see hasJournal). */
export async function journalsIn(containerDir: string): Promise<boolean> {
  const dir = path.join(containerDir, WORK_DIR);
  const st = await lstatOrNull(dir);
  if (!st) return false;
  // A symlinked work directory would make an outside file pass for our journal.
  if (!st.isDirectory()) throw new Unsafe(`refusing to use ${dir}: it is not a directory (a symbolic link?)`);
  for (const name of [SWAP_JOURNAL, SNAPSHOT_JOURNAL, SHIFT_JOURNAL]) if ((await lstatOrNull(path.join(dir, name))) !== null) return true;
  return false;
}

/** The container directory's identity now. */
export async function identityOf(containerDir: string): Promise<DirIdentity> {
  const st = await fs.stat(containerDir, { bigint: true });
  return { path: containerDir, dev: st.dev.toString(), ino: st.ino.toString() };
}

/** Writes `body` as a journal of this version, stamped with the container directory it belongs to. */
export async function writeJournal(ctx: OpContext, body: object, name = SWAP_JOURNAL): Promise<void> {
  const file = journalPath(ctx.containerDir, name);
  const journal = { version: JOURNAL_VERSION, container: await identityOf(ctx.containerDir), ...body };
  // What is written is read back under the same rules: never a journal this tool would then refuse.
  if (brokenString(journal)) throw new Unsafe(`internal: the journal ${file} would hold a line break`);
  await ensureWorkDir(path.dirname(file));
  await writeFileAtomically(file, JSON.stringify(journal), 0o600);
}

export async function clearJournal(ctx: OpContext, name = SWAP_JOURNAL): Promise<void> {
  await removeFile(ctx.containerDir, journalPath(ctx.containerDir, name));
}

/** What to do about a journal that is refused: the same words wherever it is. */
const WHAT_TO_DO =
  "Nothing was changed. Inspect it and what it names: if this container directory was copied or restored from " +
  "another (cp -a), or the file is not this tool's, move it away by hand; else re-run the interrupted command with its options";

/** The one refusal of a journal: one line, naming the file, why, and what to do. */
export function journalRefused(file: string, why: string): Unsafe {
  const line = `refusing to act on the journal ${file}: ${why}. ${WHAT_TO_DO}.`;
  return new Unsafe(line.replace(/[\r\n]+/g, " "));
}

const LINE_BREAK = /[\n\r\0\u2028\u2029\u0085]/;

/** The first string (a key or a value) in `v` that holds a line break or a NUL, JSON-quoted; null when none. */
function brokenString(v: unknown): string | null {
  if (typeof v === "string") return LINE_BREAK.test(v) ? JSON.stringify(v) : null;
  if (Array.isArray(v)) {
    for (const x of v) {
      const bad = brokenString(x);
      if (bad) return bad;
    }
    return null;
  }
  if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      const bad = brokenString(k) ?? brokenString(x);
      if (bad) return bad;
    }
  }
  return null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Reads a journal and checks what every journal must be: a JSON object of a known version, without a
 * line break or NUL in any string, and (version 2) written for this very container directory: the same
 * path, device and inode. Null when there is none. Its fields are the reader's to check.
 */
export async function readJournal(ctx: OpContext, name = SWAP_JOURNAL): Promise<JournalFile | null> {
  const file = journalPath(ctx.containerDir, name);
  let text: string | null;
  try {
    text = await readSmallFile(file);
  } catch (e) {
    if (e instanceof Unsafe) throw journalRefused(file, e.message.replace(/^refusing to read \S+: /, ""));
    throw e;
  }
  if (text === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw journalRefused(file, "it is not valid JSON");
  }
  if (!isRecord(body)) throw journalRefused(file, "it is not a JSON object");
  const bad = brokenString(body);
  if (bad) throw journalRefused(file, `it holds a line break or NUL in ${bad.slice(0, 200)}`);
  if (body.version === undefined) return { file, version: 1, body };
  if (body.version !== JOURNAL_VERSION) {
    throw journalRefused(file, `its version ${JSON.stringify(body.version)} is not one this version of the tool reads`);
  }
  const recorded = body.container;
  if (!isRecord(recorded) || ![recorded.path, recorded.dev, recorded.ino].every((x) => typeof x === "string")) {
    throw journalRefused(file, "it does not name the container directory it was written for");
  }
  const here = await identityOf(ctx.containerDir);
  if (recorded.path !== here.path || recorded.dev !== here.dev || recorded.ino !== here.ino) {
    throw journalRefused(
      file,
      `it was written for the container directory ${String(recorded.path)} (device ${String(recorded.dev)}, inode ${String(recorded.ino)}), ` +
        `not for ${here.path} (device ${here.dev}, inode ${here.ino}): the directory was copied, moved or restored since`,
    );
  }
  return { file, version: 2, body };
}

/** A field that must be a string, or absent when `optional`. */
export function stringField(j: JournalFile, key: string, optional = false): string | undefined {
  const v = j.body[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string") throw journalRefused(j.file, `its ${key} is ${v === undefined ? "missing" : "not a string"}`);
  return v;
}

/**
 * A location the journal names: a rootfs string parsed again for this container directory (`relativeTo`,
 * a snapshot's directory for its storage) exactly as a config's is. Version 1 wrote the whole location;
 * only its rootfs string is read, and its store must be the one that string names.
 */
export function locationField(j: JournalFile, key: string, relativeTo: string, optional = false) {
  const v = j.body[key];
  if (v === undefined && optional) return undefined;
  let rootfsPath: unknown = v;
  if (j.version === 1) {
    if (!isRecord(v)) throw journalRefused(j.file, `its ${key} is ${v === undefined ? "missing" : "not a location"}`);
    rootfsPath = v.rootfsPath;
  }
  if (typeof rootfsPath !== "string") throw journalRefused(j.file, `its ${key} is ${v === undefined ? "missing" : "not a rootfs string"}`);
  let found;
  try {
    found = parseRootfsString(rootfsPath, key, relativeTo);
  } catch {
    throw journalRefused(j.file, `its ${key} ${JSON.stringify(rootfsPath)} is not a rootfs string of a known store`);
  }
  if (j.version === 1 && isRecord(v) && v.store !== found.driver.store) {
    throw journalRefused(j.file, `its ${key} says store ${JSON.stringify(v.store)} for ${JSON.stringify(rootfsPath)}`);
  }
  return found;
}

/**
 * Everything this container may own outside its directory, and what its config uses now: the volumes
 * (an LV, a dataset) its config or the request names, and the rootfs string the config names.
 */
export interface Owner {
  containerDir: string;
  /** The container's name: LXC names its volumes after it (`<vg>/<name>`, `<zfsroot>/<name>`). */
  container: string;
  /** The rootfs strings the config and the request name, as parsed (canonical). */
  named: Set<string>;
  /** The config's lxc.rootfs.path, as parsed; undefined when it names none (or none this tool reads). */
  configured?: string;
}

/** What the container owns: its config read now, and the rootfs strings the request names (hints, destinations). */
export async function ownerOf(ctx: OpContext, requested: readonly string[] = []): Promise<Owner> {
  const canonical = (value: string | undefined) => {
    if (value === undefined) return undefined;
    try {
      return parseRootfsString(value, "lxc.rootfs.path", ctx.containerDir).loc.rootfsPath;
    } catch {
      return undefined;
    }
  };
  // Through another spelling of the lxcPath (`lxc-create -P /link`), the config names the same rootfs.
  const written = configValue(await readConfig(ctx.containerDir), "lxc.rootfs.path");
  const configured = canonical(written === undefined ? undefined : await canonicalSpelling(written, ctx.containerDir));
  const named = new Set<string>();
  for (const s of [configured, ...requested.map(canonical)]) if (s !== undefined) named.add(s);
  return { containerDir: ctx.containerDir, container: path.basename(ctx.containerDir), named, configured };
}

/** The entries of a container directory that are never a rootfs: its config, its snapshots, our work directory. */
const NOT_A_ROOTFS = new Set(["config", SNAPS_DIR, WORK_DIR]);

/**
 * Why a host path is not one of `within`'s own, or null: it must be written plainly (absolute, normalized,
 * no trailing slash), strictly below `within`, and reached without a symbolic link on the way nor at the
 * end (a link would lead the move or the deletion elsewhere). For a store of the container (not of a
 * snapshot), never in `snaps/`, the work directory or the config.
 */
export async function hostPathProblem(p: string, within: string, containerDir: string): Promise<string | null> {
  if (!path.isAbsolute(p) || path.normalize(p) !== p || p.endsWith("/")) return `${p} is not a plain absolute path`;
  if (!isInside(within, p)) return `${p} is outside ${within}`;
  if (within === containerDir && NOT_A_ROOTFS.has(path.relative(containerDir, p).split(path.sep)[0])) {
    return `${p} is not a rootfs of ${containerDir} (its config, its snapshots or the work directory)`;
  }
  // From the container directory down: its own parent directories are not ours to judge.
  const rel = path.relative(containerDir, p).split(path.sep);
  for (let i = 1; i <= rel.length; i++) {
    const step = path.join(containerDir, ...rel.slice(0, i));
    const st = await lstatOrNull(step);
    if (!st) break;
    if (st.isSymbolicLink()) return `${step} is a symbolic link`;
  }
  return null;
}

/** The host paths a location stands on: what is moved or deleted, and the mount point that goes with it. */
export function hostPathsOf(loc: Location): string[] {
  if (loc.localRoot === undefined) return loc.mountPoint ? [loc.mountPoint] : [];
  return [...new Set([loc.localRoot, loc.path, ...(loc.mountPoint ? [loc.mountPoint] : [])])];
}

/** A location whose destruction would take more than one rootfs (a pool's root dataset). */
export function isPoolRoot(loc: Location): boolean {
  return DRIVERS[loc.store].holdsOthers?.(loc) === true;
}

/**
 * Why a temporary location (a slot, derived from a final one) does not stand on the container's own
 * ground, or null: its host paths are checked as a final's are, and a dataset is never a pool's root.
 * Its name is the final's with a suffix: whose it is follows from the final's.
 */
export async function slotProblem(owner: Owner, loc: Location): Promise<string | null> {
  for (const p of hostPathsOf(loc)) {
    const problem = await hostPathProblem(p, owner.containerDir, owner.containerDir);
    if (problem) return problem;
  }
  return isPoolRoot(loc) ? `${loc.rootfsPath} is a pool's root dataset` : null;
}

/**
 * Why a final location a swap journal names is not one of this container's own stores, or null. A local
 * store lies strictly below the container directory (not in snaps/, nor the work directory); a volume is
 * one the config or the request names, or one named for the container as LXC names it (its LV or its
 * dataset's last component is the container's name), and never a pool's root.
 */
export async function locationProblem(owner: Owner, loc: Location): Promise<string | null> {
  const problem = await slotProblem(owner, loc);
  if (problem || loc.localRoot !== undefined) return problem;
  if (owner.named.has(loc.rootfsPath)) return null;
  const leaf = loc.path.slice(loc.path.lastIndexOf("/") + 1);
  if (leaf === owner.container) return null;
  return (
    `${loc.rootfsPath} is a volume neither named for ${owner.container} nor named by its config or the request ` +
    "(if it is this container's, re-run the interrupted command with its --vgname, --lvname or --zfsroot)"
  );
}
