/**
 * A snapshot's files, laid out as `lxc-snapshot` lays them (src/lxc/lxccontainer.c, do_lxcapi_snapshot):
 * `snaps/<name>/` holds the storage, `rootfs/` (the mount point LXC expects), `ts`, `comment`, and last
 * the `config` that names the storage. LXC lists only an entry with a config, so the config is the commit
 * point: a journal names the snapshot until then, and whatever a killed run left without one is removed.
 */
import { promises as fs } from "fs";
import path from "path";
import { AlreadyExists, RootfsError, Unsafe } from "../model/errors";
import { SNAPS_DIR, SnapshotMethod } from "../model/snapshots";
import { Driver, isBlock, Location, OpContext, parseRootfsString, StoreUsage } from "../drivers";
import { configPath, configValue, readConfig, withRootfsPath } from "../host/lxc-config";
import { lstatOrNull, readSmallFile, removeEmptyDir, removeFile, removeTree, stageFile, writeFileAtomically } from "../host/paths";
import {
  clearJournal,
  hostPathProblem,
  hostPathsOf,
  isPoolRoot,
  journalRefused,
  locationField,
  Owner,
  ownerOf,
  readJournal,
  SNAPSHOT_JOURNAL,
  stringField,
  writeJournal,
} from "./journal";
import { copyBlocks, copyFiles } from "./copy";
import { failpoint } from "./failpoint";
import { assertNotInUse } from "./guards";

/** The rootfs a snapshot is taken of; its usage is read only when a copy needs it (du of a whole tree costs). */
export interface SnapshotSource {
  driver: Driver;
  loc: Location;
  usage?: StoreUsage;
}

/** A snapshot's name as this tool takes and removes them (api/validate.ts): one plain path component. */
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A snapshot being made or removed, as its journal names it: the directory under snaps/ and its storage. */
export interface SnapshotInProgress {
  snapDir: string;
  storage: { driver: Driver; loc: Location };
}

/** The journal of a snapshot in progress: its name (a directory of snaps/) and its storage's rootfs string. */
function writeSnapshotJournal(ctx: OpContext, snapDir: string, loc: Location): Promise<void> {
  return writeJournal(ctx, { snapshot: path.basename(snapDir), storage: loc.rootfsPath }, SNAPSHOT_JOURNAL);
}

/** The snapshots of a container: the entries of `snaps/` with a config, as `lxc-snapshot -L` lists them. */
export async function snapshotNames(containerDir: string): Promise<string[]> {
  const dir = path.join(containerDir, SNAPS_DIR);
  const st = await lstatOrNull(dir);
  if (!st?.isDirectory()) return [];
  const names: string[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    if ((await lstatOrNull(path.join(dir, name, "config")))?.isFile()) names.push(name);
  }
  return names;
}

/** LXC's `ts`: local time as `%Y:%m:%d %H:%M:%S`, no newline. */
export function lxcTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A `ts` as ISO 8601 in UTC; null when it is not LXC's format. */
export function parseLxcTimestamp(ts: string | null): string | null {
  const m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})\s*$/.exec(ts ?? "");
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return new Date(y, mo - 1, d, h, mi, s).toISOString();
}

/** The snapshot's `snaps/` directory, made if missing; refused when something else (a symlink) is there. */
async function ensureSnapsDir(containerDir: string): Promise<void> {
  const dir = path.join(containerDir, SNAPS_DIR);
  await fs.mkdir(dir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  await assertSnapsDir(containerDir);
}

/**
 * Refuses a `snaps` that is not a real directory: every path below it is deleted by name (rm -rf), and a
 * planted symlink there would lead the deletion elsewhere.
 */
export async function assertSnapsDir(containerDir: string): Promise<void> {
  const dir = path.join(containerDir, SNAPS_DIR);
  const st = await lstatOrNull(dir);
  if (st && !st.isDirectory()) throw new Unsafe(`refusing to use ${dir}: it is not a directory (a symbolic link?)`);
}

/** Whether `snapDir` is a snapshot a killed run left half-made: the journal names it, and it has no config. */
export async function isHalfMade(ctx: OpContext, snapDir: string): Promise<boolean> {
  const j = await readSnapshotJournal(ctx, await ownerOf(ctx));
  return j?.snapDir === snapDir && !(await lstatOrNull(configPath(snapDir)));
}

/** Fills `dst` from the rootfs: the store's own snapshot, else a copy that shares extents where the host can. */
async function copyInto(ctx: OpContext, source: SnapshotSource, dst: Location): Promise<SnapshotMethod> {
  const { driver, loc } = source;
  if (await driver.snapshotFrom?.(ctx, loc, dst)) return "snapshot";
  // A copy of a rootfs in use would catch its files half-written: LXC refuses a running container too.
  await assertNotInUse(ctx, driver, loc);
  const observed = source.usage ?? (await driver.inspect(ctx, loc));
  if (!isBlock(driver)) {
    const end = (at: Location) => ({ driver, loc: at, fstype: observed.fstype });
    return copyFiles(ctx, end(loc), end(dst), observed.usedBytes, "storage");
  }
  if (observed.sizeBytes === null) throw new RootfsError(`internal: ${loc.rootfsPath} has no size to copy`);
  // A copy of the image whole, at its size, so nothing grows; nothing before counted the room, so it is
  // measured first.
  return copyBlocks(
    ctx,
    { driver, loc, copySize: observed.sizeBytes, allocatedBytes: observed.allocatedBytes },
    { driver, loc: dst, size: observed.sizeBytes },
    { what: `${ctx.containerDir} (snapshot)`, upFront: true },
  );
}

/**
 * Takes the snapshot into `snapDir`, which must not exist, nor `dst` if it is a volume. On any failure, and
 * in the next operation after a kill, nothing of it is left. The directory is made before the journal
 * names it: `lxc-snapshot`, which does not take our lock, may be making one of the same name, and a
 * journal written first would have its half-written entry removed as ours. `measure` reads the storage
 * once it is built, while the config is written: nothing writes to it again.
 */
export async function makeSnapshot(
  ctx: OpContext,
  source: SnapshotSource,
  snapDir: string,
  dst: Location,
  comment: string | undefined,
  now: Date,
  measure: () => Promise<StoreUsage>,
): Promise<{ method: SnapshotMethod; usage: StoreUsage; ts: string }> {
  await ensureSnapsDir(ctx.containerDir);
  await fs.mkdir(snapDir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    throw e.code === "EEXIST" ? new AlreadyExists(snapDir) : e;
  });
  let method: SnapshotMethod;
  let usage: StoreUsage;
  let journaled = false;
  const ts = lxcTimestamp(now);
  try {
    // The journal written must be one the next run would act on: checked as it will be, before anything is made.
    const problem = await snapshotStorageProblem(ctx, await ownerOf(ctx), snapDir, { driver: source.driver, loc: dst });
    if (problem)
      throw new Unsafe(`refusing to take the snapshot ${snapDir} into ${dst.rootfsPath}: it is ${problem}. Nothing was changed.`);
    // ts and comment mean nothing without the config, written last: they are flushed beside the journal.
    // Every write ends before a failure is acted on: a clean-up must not race a file landing in snapDir.
    await settleAll([
      writeSnapshotJournal(ctx, snapDir, dst).then(() => void (journaled = true)),
      writeFileAtomically(path.join(snapDir, "ts"), ts, 0o644),
      comment === undefined ? undefined : writeFileAtomically(path.join(snapDir, "comment"), `${comment}\n`, 0o644),
    ]);
    method = await copyInto(ctx, source, dst);
    failpoint("snapshot:built");
    const mountPoint = path.join(snapDir, "rootfs");
    if (!(await lstatOrNull(mountPoint))) await fs.mkdir(mountPoint, { mode: 0o755 });
    // The storage is measured while the config is flushed: nothing writes to it again. The config is
    // renamed into place, the commit, only once both succeeded, so a failed measure leaves nothing listed.
    const config = withRootfsPath((await readConfig(ctx.containerDir)) ?? "", dst.rootfsPath);
    const [measured, commit] = await settleAll([measure(), stageFile(configPath(snapDir), config, 0o640)]);
    usage = measured;
    await commit();
  } catch (e) {
    // From what this run made, not from the file: without a journal (its write failed, or the storage was
    // refused), the directory made above is all there is.
    const cleanUp = async () => {
      if (journaled) await finishSnapshot(ctx, { snapDir, storage: { driver: source.driver, loc: dst } }, "failed");
      else await removeTree(ctx.run, ctx.containerDir, snapDir);
    };
    await cleanUp().catch((re: Error) => ctx.log(`clean-up of the failed snapshot failed: ${re.message}`));
    throw e;
  }
  await clearJournal(ctx, SNAPSHOT_JOURNAL);
  return { method, usage, ts };
}

/** Promise.all that waits for every promise to settle before it rejects with the first failure. */
async function settleAll<T extends readonly unknown[] | []>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = (await Promise.allSettled(promises)) as PromiseSettledResult<unknown>[];
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/**
 * Why `storage` is not the snapshot's own at `snapDir` (`<c>/snaps/<name>`), or null, as what the
 * storage is ("a volume that is not a snapshot"). A path must lie in the snapshot's directory (the
 * directory itself is an overlay snapshot's), reached without a symbolic link; a volume must be named
 * for the snapshot (ours, `<origin>.snap.<name>`, or LXC's zfs clone `<parent>/<name>`), be no pool's
 * root, not be what the container's config, the request or `live` names (its rootfs), and, where it
 * exists, be a snapshot. A config, like a journal, can name anything.
 */
async function snapshotStorageProblem(
  ctx: OpContext,
  owner: Owner,
  snapDir: string,
  storage: { driver: Driver; loc: Location },
  live: readonly Location[] = [],
): Promise<string | null> {
  const snapsDir = path.join(ctx.containerDir, SNAPS_DIR);
  const name = path.basename(snapDir);
  if (snapDir !== path.join(snapsDir, name) || !SNAPSHOT_NAME.test(name))
    return `storage of ${snapDir}, which is no snapshot of ${snapsDir}`;
  const dirProblem = await hostPathProblem(snapDir, snapsDir, ctx.containerDir);
  if (dirProblem) return `storage of ${snapDir}, which is no snapshot directory (${dirProblem})`;
  const { driver, loc } = storage;
  for (const p of hostPathsOf(loc)) {
    const problem = p === snapDir ? null : await hostPathProblem(p, snapDir, ctx.containerDir);
    if (problem) return `storage outside ${snapDir} (${problem})`;
  }
  if (loc.localRoot !== undefined) return null;
  const leaf = loc.path.slice(loc.path.lastIndexOf("/") + 1);
  const liveNames = new Set([...owner.named, ...live.map((l) => l.rootfsPath)]);
  if (isPoolRoot(loc)) return "a pool's root dataset";
  if (liveNames.has(loc.rootfsPath) || leaf === owner.container) return "the container's own rootfs, not a snapshot's";
  if (leaf !== name && !leaf.endsWith(`.snap.${name}`)) return `a volume that is not a snapshot of this name (${name})`;
  if ((await driver.exists(ctx, loc)) && !(await driver.isSnapshotVolume?.(ctx, loc))) return "a volume that is not a snapshot";
  return null;
}

/**
 * Removes a snapshot made by anyone. Everything its removal would refuse is refused first, so that a
 * refusal leaves it listed and whole. Its config goes first, so that LXC stops listing it before any of
 * its data goes, and a journal names it until the rest is gone: a kill midway never leaves a listed
 * snapshot over half its data, and the next operation finishes the removal.
 */
export async function removeSnapshot(ctx: OpContext, snapDir: string, found: { driver: Driver; loc: Location } | null): Promise<void> {
  await assertSnapsDir(ctx.containerDir);
  if (found) {
    const problem = await snapshotStorageProblem(ctx, await ownerOf(ctx), snapDir, found);
    if (problem) {
      throw new Unsafe(`refusing to delete ${found.loc.rootfsPath}: ${configPath(snapDir)} names ${problem}. Nothing was changed.`);
    }
    // What the store's own destroy would refuse (a symbolic link, a loop device attached), before it is committed to.
    await found.driver.checkDestroy?.(ctx, found.loc);
    await writeSnapshotJournal(ctx, snapDir, found.loc);
  }
  await removeFile(ctx.containerDir, configPath(snapDir));
  failpoint("snapshot:unlisted");
  await removeRest(ctx, snapDir, found);
  await clearJournal(ctx, SNAPSHOT_JOURNAL);
}

/** The storage (when it exists) and the directory of a snapshot whose config is gone. */
async function removeRest(ctx: OpContext, snapDir: string, found: { driver: Driver; loc: Location } | null): Promise<void> {
  if (found && (await found.driver.exists(ctx, found.loc))) await found.driver.destroy(ctx, found.loc);
  await removeTree(ctx.run, ctx.containerDir, snapDir);
  await removeEmptyDir(path.dirname(snapDir));
}

/** The storage a snapshot's config names, read relative to its own directory (a loop image mounts on its rootfs/). */
export async function snapshotStorage(snapDir: string): Promise<{ driver: Driver; loc: Location } | null> {
  const value = configValue(await readConfig(snapDir), "lxc.rootfs.path");
  if (!value) return null;
  try {
    return parseRootfsString(value, "lxc.rootfs.path", snapDir);
  } catch {
    throw new Unsafe(`refusing to use ${configPath(snapDir)}: its lxc.rootfs.path ${JSON.stringify(value)} is not a rootfs string`);
  }
}

/** The snapshot's comment, without the newline its file ends with; null without one. */
export async function readComment(snapDir: string): Promise<string | null> {
  const text = await readSmallFile(path.join(snapDir, "comment"));
  return text === null ? null : text.replace(/\n$/, "");
}

/**
 * The snapshot an interrupted run was making or removing, read from its journal and checked: a directory
 * of this container's snaps/, and storage that is that snapshot's own (never the live rootfs, whatever the
 * config, the request or the swap's journal, `live`, names). Null when there is none; refused, naming the
 * file, when any of it fails.
 */
export async function readSnapshotJournal(
  ctx: OpContext,
  owner: Owner,
  live: readonly Location[] = [],
): Promise<SnapshotInProgress | null> {
  const j = await readJournal(ctx, SNAPSHOT_JOURNAL);
  if (!j) return null;
  const snapsDir = path.join(ctx.containerDir, SNAPS_DIR);
  let name: string;
  if (j.version === 1) {
    const given = stringField(j, "snapDir")!;
    name = path.basename(given);
    if (given !== path.join(snapsDir, name))
      throw journalRefused(j.file, `its snapDir ${JSON.stringify(given)} is not a directory of ${snapsDir}`);
  } else {
    name = stringField(j, "snapshot")!;
  }
  if (!SNAPSHOT_NAME.test(name)) throw journalRefused(j.file, `${JSON.stringify(name)} is not a snapshot's name`);
  const snapDir = path.join(snapsDir, name);
  const storage = locationField(j, j.version === 1 ? "loc" : "storage", snapDir)!;
  const problem = await snapshotStorageProblem(ctx, owner, snapDir, storage, live);
  if (problem) throw journalRefused(j.file, `it names for the snapshot ${name} ${storage.loc.rootfsPath}, ${problem}`);
  return { snapDir, storage };
}

/**
 * Finishes what a killed or failed run left: a snapshot without its config (half made, or half removed)
 * goes; one with its config was committed and is kept.
 */
export async function finishSnapshot(ctx: OpContext, s: SnapshotInProgress, why: "failed" | "interrupted" = "interrupted"): Promise<void> {
  await assertSnapsDir(ctx.containerDir);
  if (!(await lstatOrNull(configPath(s.snapDir)))) {
    // The journal names only storage this tool was about to make, checked free under the lock, or removing.
    await removeRest(ctx, s.snapDir, s.storage);
    ctx.log(`removed the half-made snapshot ${path.basename(s.snapDir)}${why === "interrupted" ? " an interrupted run left" : ""}`);
  }
  await clearJournal(ctx, SNAPSHOT_JOURNAL);
}
