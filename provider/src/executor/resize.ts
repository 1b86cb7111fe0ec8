/** Resizing a block store in the order that keeps the data: grow the device first, shrink the filesystem first. */
import { growsOffline, isExt } from "../model/filesystems";
import { Fstype } from "../model/requests";
import { BlockDevice, BlockDriver, Location, OpContext } from "../drivers/types";
import { growExtOffline, shrinkExtOffline } from "../host/filesystem";
import { runIsolated } from "./isolated";
import { withAttached } from "./mount";

/** The filesystem on an attached device grown to the device's size: offline for ext*, mounted for xfs and btrfs. */
async function growFilesystemOn(ctx: OpContext, dev: BlockDevice, fstype: Fstype): Promise<void> {
  await dev.refreshCapacity();
  if (growsOffline(fstype)) await growExtOffline(ctx.run, dev.path);
  else await runIsolated(ctx, { kind: "grow-fs", containerDir: ctx.containerDir, device: dev.path, fstype });
}

/**
 * Grow: the device first, then the filesystem. If the filesystem step fails, the device goes back to its
 * old size.
 */
export async function growBlockStore(
  ctx: OpContext,
  driver: BlockDriver,
  loc: Location,
  fstype: Fstype,
  fromSize: number,
  toSize: number,
): Promise<void> {
  await withAttached(ctx, driver, loc, false, async (dev) => {
    await driver.resizeDevice(ctx, loc, toSize);
    try {
      await growFilesystemOn(ctx, dev, fstype);
    } catch (e) {
      await driver.resizeDevice(ctx, loc, fromSize).catch((re: Error) => ctx.log(`could not restore the device size: ${re.message}`));
      throw e;
    }
  });
}

/**
 * Grows only the filesystem, to a device already at its final size (a block copy's target, made at its
 * size): the device is not resized again, which `lvresize` refuses for a size it already has.
 */
export async function growFilesystem(ctx: OpContext, driver: BlockDriver, loc: Location, fstype: Fstype): Promise<void> {
  await withAttached(ctx, driver, loc, false, (dev) => growFilesystemOn(ctx, dev, fstype));
}

/** Shrink: the filesystem first (ext offline, btrfs online), then the device. */
export async function shrinkBlockStore(ctx: OpContext, driver: BlockDriver, loc: Location, fstype: Fstype, size: number): Promise<void> {
  await withAttached(ctx, driver, loc, false, async (dev) => {
    if (isExt(fstype)) await shrinkExtOffline(ctx.run, fstype, dev.path, size);
    else await runIsolated(ctx, { kind: "shrink-btrfs", containerDir: ctx.containerDir, device: dev.path, size });
  });
  await driver.resizeDevice(ctx, loc, size);
}
