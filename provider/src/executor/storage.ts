/**
 * Generic steps written once for every driver: mounting a store, growing and shrinking a block store in
 * the right order, and filling a new store from another by block copy or a file copy.
 */
import { promises as fs } from "fs";
import path from "path";
import { InUse, NoSpace, Unsafe } from "../model/errors";
import { Fstype } from "../model/requests";
import { BlockDevice, Driver, Location, OpContext, StoreUsage } from "../drivers/types";
import { BlockCopyMethod, copyAllocatedBlocks } from "../host/blockcopy";
import { growExtOffline, growsOffline, isExt, shrinkExtOffline } from "../host/filesystem";
import { Mounted, mountOnScratch, mountsUnder } from "../host/mounts";
import { assertInside, lstatOrNull } from "../host/paths";
import { loopsBackedBy } from "../native/loop";
import { runIsolated } from "./isolated";
import { FillStrategy, Target } from "../planner/plan";

export async function withAttached<T>(ctx: OpContext, driver: Driver, loc: Location, readOnly: boolean, fn: (dev: BlockDevice) => Promise<T>): Promise<T> {
  const dev = await driver.attach!(ctx, loc, readOnly);
  try {
    return await fn(dev);
  } finally {
    await dev.release();
  }
}

async function mountDevice(ctx: OpContext, device: string, fstype: Fstype, readOnly: boolean): Promise<Mounted> {
  // A read-only ext3/4 mount must not replay a journal onto the source.
  const data = readOnly && isExt(fstype) && fstype !== "ext2" ? "noload" : undefined;
  return mountOnScratch(await ctx.scratchDir("mnt"), device, fstype, { readOnly, data });
}

export async function withMountedDevice<T>(ctx: OpContext, device: string, fstype: Fstype, readOnly: boolean, fn: (mp: string) => Promise<T>): Promise<T> {
  const m = await mountDevice(ctx, device, fstype, readOnly);
  try {
    return await fn(m.root);
  } finally {
    await m.release();
  }
}

/** A view of a store's files: block stores are attached and mounted, tree stores give their directory. */
export async function mountStore(ctx: OpContext, driver: Driver, loc: Location, fstype: Fstype | null, readOnly: boolean): Promise<Mounted> {
  if (driver.mountTree) return driver.mountTree(ctx, loc, readOnly);
  const dev = await driver.attach!(ctx, loc, readOnly);
  try {
    const m = await mountDevice(ctx, dev.path, fstype!, readOnly);
    return {
      root: m.root,
      release: async () => {
        try {
          await m.release();
        } finally {
          await dev.release();
        }
      },
    };
  } catch (e) {
    await dev.release();
    throw e;
  }
}

export async function withMountedStore<T>(ctx: OpContext, driver: Driver, loc: Location, fstype: Fstype | null, readOnly: boolean, fn: (root: string) => Promise<T>): Promise<T> {
  const m = await mountStore(ctx, driver, loc, fstype, readOnly);
  try {
    return await fn(m.root);
  } finally {
    await m.release();
  }
}

/**
 * Grow: the device first, then the filesystem (offline for ext*, mounted for xfs and btrfs). If the
 * filesystem step fails, the device goes back to its old size.
 */
export async function growBlockStore(ctx: OpContext, driver: Driver, loc: Location, fstype: Fstype, fromSize: number, toSize: number): Promise<void> {
  await withAttached(ctx, driver, loc, false, async (dev) => {
    await driver.resizeDevice!(ctx, loc, toSize);
    try {
      await dev.refreshCapacity();
      if (growsOffline(fstype)) await growExtOffline(ctx.run, dev.path);
      else await runIsolated(ctx, { kind: "grow-fs", containerDir: ctx.containerDir, device: dev.path, fstype });
    } catch (e) {
      await driver.resizeDevice!(ctx, loc, fromSize).catch((re: Error) => ctx.log(`could not restore the device size: ${re.message}`));
      throw e;
    }
  });
}

/** Shrink: the filesystem first (ext offline, btrfs online), then the device. */
export async function shrinkBlockStore(ctx: OpContext, driver: Driver, loc: Location, fstype: Fstype, size: number): Promise<void> {
  await withAttached(ctx, driver, loc, false, async (dev) => {
    if (isExt(fstype)) await shrinkExtOffline(ctx.run, fstype, dev.path, size);
    else await runIsolated(ctx, { kind: "shrink-btrfs", containerDir: ctx.containerDir, device: dev.path, size });
  });
  await driver.resizeDevice!(ctx, loc, size);
}

export interface Source {
  driver: Driver;
  loc: Location;
  usage: StoreUsage;
}

/** How a fill or update moved the data, as reported to the user. */
export type CopyMethod = BlockCopyMethod | "cp" | "snapshot" | "none";

/**
 * Makes the store at `built` and fills it from `source` with the planned strategy. The caller owns
 * `built`: on failure it destroys it.
 */
export async function buildStore(
  ctx: OpContext,
  driver: Driver,
  built: Location,
  target: Target,
  source: Source | undefined,
  strategy: FillStrategy,
): Promise<CopyMethod> {
  if (strategy === "clone" && source && driver.cloneFrom && (await driver.cloneFrom(ctx, source.loc, source.driver, built))) {
    if (target.size !== undefined) await driver.setLimit?.(ctx, built, target.size);
    return "snapshot";
  }
  if (strategy === "block-copy" && source) {
    await driver.create(ctx, built, { size: target.size, fstype: target.fstype, format: false });
    const srcSize = source.usage.sizeBytes!;
    const result = await copyAllocatedBlocks(source.driver.blockPath!(source.loc), driver.blockPath!(built), srcSize).catch(
      async (e: NodeJS.ErrnoException) => {
        if (e.code !== "ENOSPC") throw e;
        const { bavail, bsize } = await fs.statfs(ctx.containerDir);
        throw new NoSpace(ctx.containerDir, source.usage.allocatedBytes, bavail * bsize);
      },
    );
    if (target.size! > srcSize) await growBlockStore(ctx, driver, built, target.fstype!, srcSize, target.size!);
    return result.method;
  }
  await driver.create(ctx, built, { size: target.size, fstype: target.fstype, format: true });
  if (!source) return "none";
  const { method } = await runIsolated(ctx, {
    kind: "copy",
    containerDir: ctx.containerDir,
    src: { store: source.driver.store, loc: source.loc, fstype: source.usage.fstype },
    dst: { store: driver.store, loc: built, fstype: target.fstype ?? null },
    neededBytes: source.usage.usedBytes,
  });
  return method ?? "cp";
}

/**
 * Refuses, before anything is made, a store the host filesystem could not hold once written: a loop image
 * counts at its full size (sparse now, but a container that fills it must not hit ENOSPC underneath its
 * filesystem), a tree at the bytes copied into it. Volumes (LV, dataset) are their volume manager's to
 * account for.
 */
export async function assertHostSpace(ctx: OpContext, driver: Driver, loc: Location, neededBytes: number): Promise<void> {
  if (!loc.localRoot || neededBytes <= 0) return;
  const { bavail, bsize } = await fs.statfs(ctx.containerDir);
  const available = bavail * bsize;
  if (neededBytes > available) throw new NoSpace(`${ctx.containerDir} (${driver.store})`, neededBytes, available);
}

/**
 * Refuses to change a store that is not this container's own: one whose rootfs string points outside
 * `<lxcPath>/<container>`, or reached through a symbolic link. Inspecting it stays allowed.
 */
export async function assertOwned(ctx: OpContext, loc: Location): Promise<void> {
  for (const p of [loc.localRoot, loc.mountPoint]) {
    if (p === undefined) continue;
    assertInside(ctx.containerDir, p);
    const rel = path.relative(ctx.containerDir, p).split(path.sep);
    for (let i = 1; i <= rel.length; i++) {
      const step = path.join(ctx.containerDir, ...rel.slice(0, i));
      const st = await lstatOrNull(step);
      if (st?.isSymbolicLink()) throw new Unsafe(`refusing to change ${p}: ${step} is a symbolic link`);
    }
  }
}

/** Whether LXC says the container is running (`lxc-info -s`); false where LXC does not know it. */
async function isRunning(ctx: OpContext): Promise<boolean> {
  if (!(await fs.stat(path.join(ctx.containerDir, "config")).then(() => true, () => false))) return false;
  try {
    const { stdout } = await ctx.run(["lxc-info", "-P", path.dirname(ctx.containerDir), "-n", path.basename(ctx.containerDir), "-s"]);
    return /State:\s+(RUNNING|STARTING|FREEZING|FROZEN|THAWED)/.test(stdout);
  } catch {
    return false;
  }
}

/**
 * Refuses to move, resize offline or destroy storage in use: its container running (its rootfs is then
 * mounted in the container's own mount namespace, invisible from here), a mount on it, or a loop device.
 */
export async function assertNotInUse(ctx: OpContext, loc: Location): Promise<void> {
  if (await isRunning(ctx)) throw new InUse(ctx.containerDir, "lxc-info says the container is running");
  if (loc.localRoot) {
    const mounts = (await mountsUnder(loc.localRoot)).filter((m) => m !== loc.mountPoint);
    if (mounts.length) throw new InUse(loc.localRoot, `mounted at ${mounts.join(", ")}`);
  }
  if (loc.mountPoint && (await mountsUnder(loc.mountPoint)).length) throw new InUse(loc.mountPoint, "mounted");
  if (loc.store === "loop") {
    const loops = await loopsBackedBy(loc.path);
    if (loops.length) throw new InUse(loc.path, `attached to ${loops.join(", ")}`);
  }
}
