/** Mounting a store's files: block stores attached and mounted, tree stores through their driver. */
import { isExt } from "../model/filesystems";
import { Fstype } from "../model/requests";
import { BlockDevice, BlockDriver, Driver, Location, OpContext } from "../drivers/types";
import { Mounted, mountOnScratch } from "../host/mounts";
import { RootfsError, Unsafe } from "../model/errors";
import { readSuperblock } from "../host/superblock";

export async function withAttached<T>(
  ctx: OpContext,
  driver: BlockDriver,
  loc: Location,
  readOnly: boolean,
  fn: (dev: BlockDevice) => Promise<T>,
): Promise<T> {
  const dev = await driver.attach(ctx, loc, readOnly);
  try {
    return await fn(dev);
  } finally {
    await dev.release();
  }
}

async function mountDevice(ctx: OpContext, device: string, fstype: Fstype, readOnly: boolean, shown = device): Promise<Mounted> {
  // A read-only mount must neither replay a journal onto the source (ext's noload) nor show files from
  // before it: one that needs replaying is refused.
  if (readOnly && (await readSuperblock(device))?.needsRecovery)
    throw new RootfsError(
      `${shown}'s ${fstype} journal has not been replayed (it was not unmounted cleanly, or it is mounted elsewhere), and a read-only mount would show its files as they were before it: mount it read-write once (start and stop its container), or check it with its fsck, then re-run. Nothing was changed.`,
    );
  const noload = readOnly && isExt(fstype) && fstype !== "ext2";
  return mountOnScratch(await ctx.scratchDir("mnt"), device, fstype, { readOnly, data: noload ? "noload" : undefined });
}

export async function withMountedDevice<T>(
  ctx: OpContext,
  device: string,
  fstype: Fstype,
  readOnly: boolean,
  fn: (mp: string) => Promise<T>,
): Promise<T> {
  const m = await mountDevice(ctx, device, fstype, readOnly);
  try {
    return await fn(m.root);
  } finally {
    await m.release();
  }
}

/** A view of a store's files: block stores are attached and mounted, tree stores give their directory. */
export async function mountStore(
  ctx: OpContext,
  driver: Driver,
  loc: Location,
  fstype: Fstype | null,
  readOnly: boolean,
): Promise<Mounted> {
  if (driver.kind === "tree") return driver.mountTree(ctx, loc, readOnly);
  if (fstype === null) throw new Unsafe(`refusing to mount ${loc.rootfsPath}: no filesystem was found in it`);
  const dev = await driver.attach(ctx, loc, readOnly);
  try {
    const m = await mountDevice(ctx, dev.path, fstype, readOnly, loc.rootfsPath);
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

export async function withMountedStore<T>(
  ctx: OpContext,
  driver: Driver,
  loc: Location,
  fstype: Fstype | null,
  readOnly: boolean,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const m = await mountStore(ctx, driver, loc, fstype, readOnly);
  try {
    return await fn(m.root);
  } finally {
    await m.release();
  }
}
