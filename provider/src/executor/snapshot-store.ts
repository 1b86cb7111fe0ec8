/**
 * A snapshot's files, laid out as `lxc-snapshot` lays them (src/lxc/lxccontainer.c, do_lxcapi_snapshot):
 * `snaps/<name>/` holds the storage, `rootfs/` (the mount point LXC expects), `ts`, `comment`, and last
 * the `config` that names the storage. LXC lists only an entry with a config, so the config is the commit
 * point: a journal names the snapshot until then, and whatever a killed run left without one is removed.
 */
import { promises as fs } from "fs";
import path from "path";
import { NoSpace, Unsafe } from "../model/errors";
import { SNAPS_DIR, SnapshotMethod } from "../model/snapshots";
import { SUPER_MAGIC } from "../model/filesystems";
import { DRIVERS, Driver, isBlock, Location, OpContext, parseRootfsString, StoreUsage } from "../drivers";
import { copyAllocatedBlocks } from "../host/blockcopy";
import { configPath, configValue, readConfig, withRootfsPath } from "../host/lxc-config";
import { isInside, lstatOrNull, readSmallFile, removeEmptyDir, removeTree, writeFileAtomically } from "../host/paths";
import { copyTree } from "../host/treecopy";
import { clearJournal, readJournal, writeJournal } from "./context";
import { failpoint } from "./failpoint";

/** The rootfs a snapshot is taken of; its usage is read only when a copy needs it (du of a whole tree costs). */
export interface SnapshotSource {
  driver: Driver;
  loc: Location;
  usage?: StoreUsage;
}

const JOURNAL = "snapshot.json";

interface SnapshotJournal {
  snapDir: string;
  loc: Location;
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

/** Whether the host filesystem under `dir` can share extents between files (reflinks). */
export async function sharesExtents(dir: string): Promise<boolean> {
  const { type } = await fs.statfs(dir);
  return type === SUPER_MAGIC.btrfs || type === SUPER_MAGIC.xfs;
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
  if (!(await fs.lstat(dir)).isDirectory()) throw new Unsafe(`refusing to use ${dir}: it is not a directory (a symbolic link?)`);
}

/** Fills `dst` from the rootfs: the store's own snapshot, else a copy that shares extents where the host can. */
async function copyInto(ctx: OpContext, source: SnapshotSource, dst: Location): Promise<SnapshotMethod> {
  const { driver, loc } = source;
  if (await driver.snapshotFrom?.(ctx, loc, dst)) return "snapshot";
  const observed = source.usage ?? (await driver.inspect(ctx, loc));
  const { bavail, bsize } = await fs.statfs(ctx.containerDir);
  const available = bavail * bsize;
  if (isBlock(driver)) {
    const size = observed.sizeBytes ?? 0;
    // A copy that cannot share extents writes every allocated block: refused up front when they do not fit.
    if (!(await sharesExtents(ctx.containerDir)) && observed.allocatedBytes > available) {
      throw new NoSpace(`${ctx.containerDir} (snapshot)`, observed.allocatedBytes, available);
    }
    await driver.create(ctx, dst, { size, format: false });
    const result = await copyAllocatedBlocks(driver.blockPath(loc), driver.blockPath(dst), size).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "ENOSPC" ? new NoSpace(`${ctx.containerDir} (snapshot)`, observed.allocatedBytes, available) : e;
    });
    return result.method;
  }
  await fs.mkdir(dst.path, { mode: 0o755 });
  return copyTree(ctx.run, loc.path, dst.path, { needed: observed.usedBytes, available }, true);
}

/**
 * Takes the snapshot into `snapDir`, which must not exist. On any failure, and in the next operation after
 * a kill, nothing of it is left.
 */
export async function makeSnapshot(
  ctx: OpContext,
  source: SnapshotSource,
  snapDir: string,
  dst: Location,
  comment: string | undefined,
  now: Date,
): Promise<SnapshotMethod> {
  await ensureSnapsDir(ctx.containerDir);
  await writeJournal<SnapshotJournal>(ctx, { snapDir, loc: dst }, JOURNAL);
  let method: SnapshotMethod;
  try {
    await fs.mkdir(snapDir, { mode: 0o755 });
    method = await copyInto(ctx, source, dst);
    failpoint("snapshot:built");
    const mountPoint = path.join(snapDir, "rootfs");
    if (!(await lstatOrNull(mountPoint))) await fs.mkdir(mountPoint, { mode: 0o755 });
    await writeFileAtomically(path.join(snapDir, "ts"), lxcTimestamp(now), 0o644);
    if (comment !== undefined) await writeFileAtomically(path.join(snapDir, "comment"), `${comment}\n`, 0o644);
    const config = withRootfsPath((await readConfig(ctx.containerDir)) ?? "", dst.rootfsPath);
    await writeFileAtomically(configPath(snapDir), config, 0o640);
  } catch (e) {
    await recoverSnapshot(ctx, "failed").catch((re: Error) => ctx.log(`clean-up of the failed snapshot failed: ${re.message}`));
    throw e;
  }
  await clearJournal(ctx, JOURNAL);
  return method;
}

/** Removes a snapshot made by anyone: its storage, which must be its own (inside its directory), then the directory. */
export async function removeSnapshot(ctx: OpContext, snapDir: string, found: { driver: Driver; loc: Location } | null): Promise<void> {
  if (found) {
    // Its own: inside its directory, or that directory itself (an overlay snapshot's delta0 and olwork).
    const root = found.loc.localRoot;
    if (root !== undefined && path.resolve(root) !== snapDir && !isInside(snapDir, root)) {
      throw new Unsafe(`refusing to delete ${found.loc.rootfsPath}: ${configPath(snapDir)} names storage outside ${snapDir}`);
    }
    if (await found.driver.exists(ctx, found.loc)) {
      // A volume (an LV, a dataset) is deleted only if it is a snapshot: a config could name any volume.
      if (root === undefined && !(await found.driver.isSnapshotVolume?.(ctx, found.loc))) {
        throw new Unsafe(`refusing to delete ${found.loc.rootfsPath}: ${configPath(snapDir)} names a volume that is not a snapshot`);
      }
      await found.driver.destroy(ctx, found.loc);
    }
  }
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

/** Undoes a snapshot a killed or failed run left without its config; one that got its config is kept. */
export async function recoverSnapshot(ctx: OpContext, why: "failed" | "interrupted" = "interrupted"): Promise<boolean> {
  const j = await readJournal<SnapshotJournal>(ctx, JOURNAL);
  if (!j) return false;
  if (!isInside(ctx.containerDir, j.snapDir)) throw new Unsafe(`refusing to resume from a snapshot journal naming ${j.snapDir}`);
  if (!(await lstatOrNull(configPath(j.snapDir)))) {
    await removeSnapshot(ctx, j.snapDir, { driver: DRIVERS[j.loc.store], loc: j.loc });
    ctx.log(`removed the half-made snapshot ${path.basename(j.snapDir)}${why === "interrupted" ? " an interrupted run left" : ""}`);
  }
  await clearJournal(ctx, JOURNAL);
  return true;
}
