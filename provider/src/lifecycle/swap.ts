/**
 * The one pattern for every change of store (Incus moves between pools the same way): build the new store
 * under a temporary name, park the old one, move the new one into place, point the config at it, destroy
 * the old one. A journal records the phase; the container config is the commit point. Any failure, and
 * any process killed on the way, is rolled back to the old rootfs by `recover`, in this run or the next.
 */
import { DRIVERS } from "../drivers";
import { Driver, Location, OpContext } from "../drivers/types";
import { clearRootfsPath, setRootfsPath } from "../host/lxc-config";
import { clearJournal, Journal, readJournal, writeJournal } from "./context";

export interface SwapRequest {
  newDriver: Driver;
  newFinal: Location;
  old?: { driver: Driver; loc: Location };
  /** Makes and fills the store at `built`. */
  build(built: Location): Promise<void>;
}

export async function buildAndSwap(ctx: OpContext, req: SwapRequest): Promise<void> {
  const journal: Journal = {
    phase: "building",
    built: req.newDriver.relocate(req.newFinal, "new"),
    newFinal: req.newFinal,
    oldFinal: req.old?.loc,
    oldParked: req.old ? req.old.driver.relocate(req.old.loc, "old") : undefined,
  };
  await writeJournal(ctx, journal);
  try {
    await req.build(journal.built);
    await writeJournal(ctx, { ...journal, phase: "swapping" });
    if (req.old) await req.old.driver.move(ctx, req.old.loc, journal.oldParked!);
    await req.newDriver.move(ctx, journal.built, req.newFinal);
    await req.newDriver.finalize?.(ctx, req.newFinal);
    await setRootfsPath(ctx.containerDir, req.newFinal.rootfsPath);
  } catch (e) {
    await recover(ctx).catch((re: Error) => ctx.log(`roll-back failed: ${re.message}`));
    throw e;
  }
  await writeJournal(ctx, { ...journal, phase: "cleanup" });
  if (req.old) await req.old.driver.destroy(ctx, journal.oldParked!);
  await clearJournal(ctx);
}

/** Rolls an interrupted swap back to the old rootfs, or finishes its clean-up once committed. */
export async function recover(ctx: OpContext): Promise<boolean> {
  const j = await readJournal(ctx);
  if (!j) return false;
  const exists = (loc: Location | undefined) => (loc ? DRIVERS[loc.store].exists(ctx, loc) : Promise.resolve(false));
  const newDriver = DRIVERS[j.newFinal.store];
  if (j.phase === "cleanup") {
    if (j.oldParked && (await exists(j.oldParked))) await DRIVERS[j.oldParked.store].destroy(ctx, j.oldParked);
    await clearJournal(ctx);
    return true;
  }
  if (j.phase === "swapping") {
    const oldDriver = j.oldFinal ? DRIVERS[j.oldFinal.store] : undefined;
    const oldParked = j.oldParked && (await exists(j.oldParked));
    // Where the old store was parked, or never existed, whatever sits at newFinal is the new store.
    if ((oldParked || !j.oldFinal) && !(await exists(j.built)) && (await exists(j.newFinal))) {
      await newDriver.move(ctx, j.newFinal, j.built);
    }
    if (oldParked && oldDriver) {
      await oldDriver.move(ctx, j.oldParked!, j.oldFinal!);
      await oldDriver.finalize?.(ctx, j.oldFinal!);
    }
    if (j.oldFinal) await setRootfsPath(ctx.containerDir, j.oldFinal.rootfsPath);
    else await clearRootfsPath(ctx.containerDir);
  }
  if (await exists(j.built)) await newDriver.destroy(ctx, j.built);
  await clearJournal(ctx);
  ctx.log(`rolled back an interrupted operation on ${ctx.containerDir}; the previous rootfs is in place`);
  return true;
}
