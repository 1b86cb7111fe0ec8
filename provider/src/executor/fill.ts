/** Filling a new store: a snapshot where the store can, a block copy between block stores, else a file copy. */
import { promises as fs } from "fs";
import { NoSpace } from "../model/errors";
import { FillStrategy, Target } from "../model/plans";
import { CopyMethod } from "../model/results";
import { Driver, Location, OpContext, StoreUsage } from "../drivers/types";
import { isBlock } from "../drivers";
import { copyAllocatedBlocks } from "../host/blockcopy";
import { runIsolated } from "./isolated";
import { growBlockStore } from "./resize";

export interface Source {
  driver: Driver;
  loc: Location;
  usage: StoreUsage;
}

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
  if (strategy === "clone" && source && driver.kind === "tree" && driver.cloneFrom && (await driver.cloneFrom(ctx, source.loc, built))) {
    if (target.size !== undefined) await driver.setLimit?.(ctx, built, target.size);
    return "snapshot";
  }
  if (
    strategy === "block-copy" &&
    source &&
    isBlock(driver) &&
    isBlock(source.driver) &&
    source.usage.sizeBytes !== null &&
    target.fstype
  ) {
    const from = source.driver.blockPath(source.loc);
    const srcSize = source.usage.sizeBytes;
    const size = target.size ?? srcSize;
    await driver.create(ctx, built, { size, fstype: target.fstype, format: false });
    const result = await copyAllocatedBlocks(from, driver.blockPath(built), srcSize).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOSPC") throw e;
      const { bavail, bsize } = await fs.statfs(ctx.containerDir);
      throw new NoSpace(ctx.containerDir, source.usage.allocatedBytes, bavail * bsize);
    });
    if (size > srcSize) await growBlockStore(ctx, driver, built, target.fstype, srcSize, size);
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
