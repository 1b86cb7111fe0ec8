/** The host checks an operation makes before it touches anything: room, ownership, nothing using the store. */
import { promises as fs } from "fs";
import path from "path";
import { InUse, NoSpace, Unsafe } from "../model/errors";
import { Driver, Location, OpContext } from "../drivers/types";
import { isBlock } from "../drivers";
import { mountsUnder } from "../host/mounts";
import { assertInside, lstatOrNull } from "../host/paths";

/** What a new or grown store takes: its capacity, and the bytes that will be written into it. */
export interface SpaceNeed {
  sizeBytes: number;
  dataBytes: number;
}

/**
 * Refuses, before anything is made, a store its host could not hold once written. On the host filesystem
 * a loop image counts at its full size (sparse now, but a container that fills it must not hit ENOSPC
 * underneath its filesystem), a tree at the bytes copied into it. A volume (an LV, a dataset) asks its
 * volume manager: a thin pool or a pool that runs full mid-copy fails slowly and less clearly than this.
 */
export async function assertSpace(ctx: OpContext, driver: Driver, loc: Location, need: SpaceNeed): Promise<void> {
  if (!loc.localRoot) return driver.assertRoom?.(ctx, loc, need);
  const neededBytes = isBlock(driver) ? need.sizeBytes : need.dataBytes;
  if (neededBytes <= 0) return;
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
  if (
    !(await fs.stat(path.join(ctx.containerDir, "config")).then(
      () => true,
      () => false,
    ))
  )
    return false;
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
export async function assertNotInUse(ctx: OpContext, driver: Driver, loc: Location): Promise<void> {
  if (await isRunning(ctx)) throw new InUse(ctx.containerDir, "lxc-info says the container is running");
  if (loc.localRoot) {
    const mounts = (await mountsUnder(loc.localRoot)).filter((m) => m !== loc.mountPoint);
    if (mounts.length) throw new InUse(loc.localRoot, `mounted at ${mounts.join(", ")}`);
  }
  if (loc.mountPoint && (await mountsUnder(loc.mountPoint)).length) throw new InUse(loc.mountPoint, "mounted");
  const holders = driver.kind === "block" ? ((await driver.holders?.(loc)) ?? []) : [];
  if (holders.length) throw new InUse(loc.path, `attached to ${holders.join(", ")}`);
}
