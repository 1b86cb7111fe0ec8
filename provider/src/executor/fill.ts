/** Filling a new store as planned: empty, the store's own clone, a block copy, a file copy, or an unpacked image. */
import { RootfsError } from "../model/errors";
import { FillPlan, ImageShape, Target } from "../model/plans";
import { CopyMethod } from "../model/results";
import { Driver, Location, OpContext, StoreUsage } from "../drivers/types";
import { isBlock } from "../drivers";
import { copyBlocks, copyFiles, unpackImage } from "./copy";
import { holdpoint } from "./failpoint";
import { ResolvedImage } from "./source";

export interface Source {
  driver: Driver;
  loc: Location;
  usage: StoreUsage;
}

function sourceOf(source: Source | undefined, plan: FillPlan): Source {
  if (!source) throw new RootfsError(`internal: a ${plan.strategy} without a source`);
  return source;
}

/** A new store, formatted, holding the source's files. */
async function fileCopy(ctx: OpContext, driver: Driver, built: Location, target: Target, source: Source, neededBytes: number) {
  await driver.create(ctx, built, { size: target.size, fstype: target.fstype, format: true });
  await holdpoint("fill:formatted");
  const to = { driver, loc: built, fstype: target.fstype ?? null };
  return copyFiles(ctx, { ...source, fstype: source.usage.fstype }, to, neededBytes, "mounted");
}

/** How a store was filled; for an image, what was unpacked and the config lines it asks for. */
export interface Filled {
  method: CopyMethod;
  sourceDigest?: string;
  sourceConfig?: string[];
}

/**
 * Makes the store at `built` and fills it from `source` as `plan` says. The caller owns `built`: on
 * failure it destroys it.
 */
export async function buildStore(
  ctx: OpContext,
  driver: Driver,
  built: Location,
  plan: FillPlan,
  filling: { source?: Source; image?: ResolvedImage | ImageShape },
): Promise<Filled> {
  if (plan.strategy === "unpack") {
    const { image } = filling;
    if (!image || !("format" in image)) throw new RootfsError("internal: an unpack without its image on the host");
    await driver.create(ctx, built, { size: plan.target.size, fstype: plan.target.fstype, format: true });
    await holdpoint("fill:formatted");
    const unpacked = await unpackImage(ctx, { driver, loc: built, fstype: plan.target.fstype ?? null }, image, plan.bytesToMove);
    return { method: "unpack", ...unpacked };
  }
  return { method: await fillStore(ctx, driver, built, plan, filling.source) };
}

async function fillStore(
  ctx: OpContext,
  driver: Driver,
  built: Location,
  plan: Exclude<FillPlan, { strategy: "unpack" }>,
  source: Source | undefined,
): Promise<CopyMethod> {
  const { target } = plan;
  switch (plan.strategy) {
    case "empty":
      await driver.create(ctx, built, { size: target.size, fstype: target.fstype, format: true });
      return "none";
    case "clone": {
      const from = sourceOf(source, plan);
      if (driver.kind !== "tree" || !driver.cloneFrom) throw new RootfsError(`internal: ${driver.store} makes no clone`);
      if (await driver.cloneFrom(ctx, from.loc, built)) {
        if (target.size !== undefined) await driver.setLimit?.(ctx, built, target.size);
        return "snapshot";
      }
      // Only the host can say the clone cannot be made here (another filesystem or pool): the files are copied.
      return fileCopy(ctx, driver, built, target, from, plan.copyBytes);
    }
    case "block-copy": {
      const from = sourceOf(source, plan);
      if (!isBlock(driver) || !isBlock(from.driver))
        throw new RootfsError(`internal: a block copy from ${from.driver.store} to ${driver.store}`);
      return copyBlocks(
        ctx,
        { driver: from.driver, loc: from.loc, copySize: plan.copySize, allocatedBytes: plan.bytesToMove },
        { driver, loc: built, size: plan.target.size, fstype: plan.target.fstype },
        { what: ctx.containerDir, upFront: false },
      );
    }
    case "file-copy":
      return fileCopy(ctx, driver, built, target, sourceOf(source, plan), plan.bytesToMove);
  }
}
