/**
 * The one pattern for every change of store (Incus moves between pools the same way): build the new store
 * under a temporary name, park the old one, move the new one into place, point the config at it, destroy
 * the old one. A journal records the phase; the container config is the commit point. Any failure, and
 * any process killed on the way, is rolled back to the old rootfs by `recover`, in this run or the next.
 */
import { DRIVERS } from "../drivers";
import { Driver, Location, OpContext } from "../drivers/types";
import { clearRootfsPath, setRootfsPath } from "../host/lxc-config";
import { clearJournal, Journal, readJournal, writeJournal } from "./journal";
import { failpoint } from "./failpoint";

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
    await req.build(journal.built).catch(async (e) => {
      // Asked before the roll-back removes what the failure can still be read from (a full thin pool).
      throw (await req.newDriver.explainFailure?.(ctx, journal.built, e).catch(() => null)) ?? e;
    });
    failpoint("swap:built");
    await writeJournal(ctx, { ...journal, phase: "swapping" });
    if (req.old) await req.old.driver.move(ctx, req.old.loc, journal.oldParked!);
    failpoint("swap:parked");
    await req.newDriver.move(ctx, journal.built, req.newFinal);
    failpoint("swap:moved");
    // The config first, then the mount point: an empty loop mount point where the old dir rootfs was
    // must never be what the config names.
    await setRootfsPath(ctx.containerDir, req.newFinal.rootfsPath);
    failpoint("swap:committed");
    await req.newDriver.finalize?.(ctx, req.newFinal);
  } catch (e) {
    await recover(ctx).catch((re: Error) => ctx.log(`roll-back failed: ${re.message}`));
    throw e;
  }
  await writeJournal(ctx, { ...journal, phase: "cleanup" });
  if (req.old) await req.old.driver.destroy(ctx, journal.oldParked!);
  await clearJournal(ctx);
}

/**
 * Finishes or undoes an interrupted swap, from what the journal and the host say:
 * - building: the new store is half-made; it goes, the old one never moved;
 * - swapping: once the new store sits at its final place (old parked, temporary name gone), the swap is
 *   finished (finalize, config, clean-up); before that, the old store goes back to its place;
 * - cleanup: the swap was committed; the parked old store goes.
 */
export async function recover(ctx: OpContext): Promise<boolean> {
  const j = await readJournal(ctx);
  if (!j) return false;
  const exists = (loc: Location | undefined) => (loc ? DRIVERS[loc.store].exists(ctx, loc) : Promise.resolve(false));
  const newDriver = DRIVERS[j.newFinal.store];
  const oldDriver = j.oldFinal ? DRIVERS[j.oldFinal.store] : undefined;
  if (j.phase === "swapping") {
    const oldParked = await exists(j.oldParked);
    const newInPlace = !(await exists(j.built)) && (await exists(j.newFinal)) && (!j.oldFinal || oldParked);
    if (newInPlace) {
      await setRootfsPath(ctx.containerDir, j.newFinal.rootfsPath);
      await newDriver.finalize?.(ctx, j.newFinal);
      ctx.log(`completed an interrupted change of ${ctx.containerDir}: the new rootfs is in place`);
    } else {
      if (oldParked && oldDriver) await oldDriver.move(ctx, j.oldParked!, j.oldFinal!);
      if (j.oldFinal) await setRootfsPath(ctx.containerDir, j.oldFinal.rootfsPath);
      else await clearRootfsPath(ctx.containerDir);
      if (j.oldFinal) await oldDriver!.finalize?.(ctx, j.oldFinal);
      ctx.log(`rolled back an interrupted change of ${ctx.containerDir}: the previous rootfs is in place`);
    }
  }
  if (j.phase !== "building" && j.oldParked && (await exists(j.oldParked))) await DRIVERS[j.oldParked.store].destroy(ctx, j.oldParked);
  if (await exists(j.built)) await newDriver.destroy(ctx, j.built);
  await clearJournal(ctx);
  return true;
}
