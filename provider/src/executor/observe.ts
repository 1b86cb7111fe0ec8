/** What is on the host for a container, read without mounting anything. */
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, Unsafe } from "../model/errors";
import { parseRootfsString, RootfsRef } from "../drivers/syntax";
import { Observed, RootfsSpec } from "../model/requests";
import { DRIVERS } from "../drivers";
import { Driver, Location, OpContext } from "../drivers/types";
import { configPath, configValue, isManaged, readConfig } from "../host/lxc-config";
import { lstatOrNull } from "../host/paths";
import { isSubvolume } from "../drivers/btrfs";

export interface Current {
  driver: Driver;
  loc: Location;
  observed: Observed;
}

/** Guesses the store of a container with no `lxc.rootfs.path`, from the names LXC gives its storage. */
async function probeLocal(containerDir: string): Promise<string | undefined> {
  const rootdev = await lstatOrNull(path.join(containerDir, "rootdev"));
  if (rootdev?.isFile()) return `loop:${containerDir}/rootdev`;
  const rootfs = path.join(containerDir, "rootfs");
  const st = await lstatOrNull(rootfs);
  if (st?.isDirectory()) return (await isSubvolume(rootfs)) ? `btrfs:${rootfs}` : `dir:${rootfs}`;
  return undefined;
}

/** The config's rootfs string: host data, so a bad one is refused naming the file, not an input. */
function configuredRef(containerDir: string, value: string): RootfsRef {
  try {
    return parseRootfsString(value, "lxc.rootfs.path");
  } catch (e) {
    if (!(e instanceof InvalidInput)) throw e;
    throw new Unsafe(`refusing to use ${configPath(containerDir)}: its ${e.message}`);
  }
}

/** Locates the container's current storage: the config's lxc.rootfs.path, else the spec's store, else LXC's names. */
export async function locateCurrent(ctx: OpContext, spec: RootfsSpec): Promise<{ driver: Driver; loc: Location; managed: boolean } | null> {
  const config = await readConfig(ctx.containerDir);
  const managed = isManaged(config);
  const configured = configValue(config, "lxc.rootfs.path");
  if (configured) {
    const ref = configuredRef(ctx.containerDir, configured);
    const driver = DRIVERS[ref.store];
    const loc = driver.fromRef(ref, ctx.containerDir);
    return (await driver.exists(ctx, loc)) ? { driver, loc, managed } : null;
  }
  const wanted = DRIVERS[spec.backingStore];
  if (!wanted.caps.needsLower || spec.from !== undefined) {
    const loc = wanted.locate(spec, ctx.containerDir);
    if (await wanted.exists(ctx, loc)) return { driver: wanted, loc, managed };
  }
  const probed = await probeLocal(ctx.containerDir);
  if (!probed) return null;
  const ref = parseRootfsString(probed, "rootfs");
  return { driver: DRIVERS[ref.store], loc: DRIVERS[ref.store].fromRef(ref, ctx.containerDir), managed };
}

export async function observeAt(ctx: OpContext, spec: RootfsSpec, driver: Driver, loc: Location, managed: boolean): Promise<Observed> {
  const usage = await driver.inspect(ctx, loc);
  return {
    container: spec.container,
    lxcPath: spec.lxcPath,
    backingStore: driver.store,
    rootfsPath: loc.rootfsPath,
    ...usage,
    managed,
  };
}

export async function observeCurrent(ctx: OpContext, spec: RootfsSpec): Promise<Current | null> {
  const found = await locateCurrent(ctx, spec);
  if (!found) return null;
  return { driver: found.driver, loc: found.loc, observed: await observeAt(ctx, spec, found.driver, found.loc, found.managed) };
}

/** Kernel filesystems hold no rootfs: copying /proc, /sys or /dev would never end or would copy devices. */
const PSEUDO_FS = new Set([0x9fa0 /* proc */, 0x62656572 /* sysfs */, 0x1cd1 /* devpts */, 0x27e0eb /* cgroup */, 0x63677270 /* cgroup2 */, 0x64626720 /* debugfs */, 0x73636673 /* securityfs */]);

/** A source that is the host's own root, lives on a kernel filesystem, or is not the store it says is refused. */
async function checkSourcePath(from: string, ref: RootfsRef): Promise<void> {
  const paths = [ref.path, ...(ref.lower ? [ref.lower] : [])];
  for (const p of paths) {
    const real = await fs.realpath(p).catch(() => p);
    if (real === "/") throw new InvalidInput("from", from, "a container's rootfs, not the host's root directory");
    // A dangling symlink passed the existence check (lstat): nothing is there either.
    const st = await fs.statfs(real).catch(() => null);
    if (!st) throw new InvalidInput("from", from, "an existing rootfs; nothing is there");
    if (PSEUDO_FS.has(Number(st.type)) || real === "/dev" || real.startsWith("/dev/")) {
      throw new InvalidInput("from", from, "a container's rootfs, not a kernel filesystem (/proc, /sys, /dev)");
    }
  }
  if (ref.store === "btrfs" && !(await isSubvolume(ref.path))) throw new InvalidInput("from", from, "btrfs: names a btrfs subvolume; this is not one");
}

/** A `from` rootfs: it must exist, and is read, never written. */
export async function observeSource(ctx: OpContext, from: string) {
  const ref = parseRootfsString(from, "from");
  const driver = DRIVERS[ref.store];
  const loc = driver.fromRef(ref, path.dirname(ref.path));
  if (!(await driver.exists(ctx, loc).catch(() => false))) {
    throw new InvalidInput("from", from, "an existing rootfs; nothing is there");
  }
  if (ref.store !== "lvm" && ref.store !== "zfs") await checkSourcePath(from, ref);
  const usage = await driver.inspect(ctx, loc);
  if (driver.caps.isBlock && usage.fstype === null) throw new InvalidInput("from", from, "a block rootfs holding ext2/3/4, xfs or btrfs; no filesystem was found in it");
  return { driver, loc, usage };
}
