/**
 * Update: from what is on the host and what the change asks, one plan, checked against the host, then
 * carried out. The preview runs the same preparation, read-only, so a preview that passes means the
 * update will not fail on anything the host can tell beforehand.
 */
import { AlreadyExists, NotFound, RootfsError } from "../model/errors";
import { ContainerRef, RootfsChange, RootfsSpec } from "../model/requests";
import { UpdatePlan } from "../model/plans";
import { CopyMethod, UpdateResult } from "../model/results";
import { BlockDriver, Driver, DRIVERS, isBlock, Location, OpContext } from "../drivers";
import { bytesWritten, grownMetadataBytes, planChange } from "../planner/plan";
import { destinationOf } from "../planner/target";
import { OperationOptions, withOperation } from "./context";
import { hasJournal } from "./journal";
import { buildStore } from "./fill";
import { assertNotInUse, assertSpace } from "./guards";
import { observeOwned } from "./inspect";
import { Current, observeCurrent, shapeOf } from "./observe";
import { growBlockStore, shrinkBlockStore } from "./resize";
import { buildAndSwap } from "./swap";
import { recoverInterrupted, requestedNames } from "./recovery";
import { snapshotNames } from "./snapshot-store";
import { planShift, readyShiftInPlace, runShiftInPlace, shiftFresh } from "./shift-in-place";
import { planModeChange } from "./idmap-mode";
import { setIdmappedMount } from "../host/lxc-config";
import { IdmapEntry } from "../model/idmap";

interface Prepared {
  current: Current;
  spec: RootfsSpec;
  plan: UpdatePlan;
  /** The map the rootfs fits after the update, for the record, when the update says one. */
  idmap?: IdmapEntry[];
  /** Copies only: the new store and where it goes. */
  next?: { driver: Driver; loc: Location };
}

function asBlock(driver: Driver): BlockDriver {
  if (!isBlock(driver)) throw new RootfsError(`internal: ${driver.store} is not a block store`);
  return driver;
}

/** The config line an update of idmapMode writes or removes, as its plan says it. */
const MOUNT_STEP = {
  write: "write lxc.rootfs.options = idmap=container (idmapMode mount: LXC maps the owners at mount)",
  remove: "remove lxc.rootfs.options = idmap=container (idmapMode shift)",
};

/**
 * Observes, plans and checks that the host can take the plan: the store can live here (its volume group,
 * pool or parent dataset exists), there is room, a volume to move to is free; a shift of its owners (a new
 * `idmap`, or a new `idmapMode`) is added to the plan, counted when `preview` (the update counts as it
 * shifts), then the config's idmapped-mount line. Changes nothing. Whether the rootfs is in use is left to
 * the update itself: a stack may stop the container before it.
 */
async function prepareUpdate(ctx: OpContext, ref: ContainerRef, change: RootfsChange, preview = false): Promise<Prepared> {
  const prepared = await prepareStoreChange(ctx, ref, change);
  const mode = await planModeChange(ctx, prepared.current, ref, change, prepared.spec.backingStore);
  const shift = mode.shift && (await planShift(ctx, prepared.current, mode.shift.recorded, mode.shift.to, preview));
  let { plan } = prepared;
  const steps = plan.strategy === "none" ? [] : [plan.summary];
  if (shift) {
    steps.push(shift.summary);
    plan = { ...plan, shift: shift.plan };
  }
  if (mode.idmappedMount !== undefined) {
    steps.push(mode.idmappedMount ? MOUNT_STEP.write : MOUNT_STEP.remove);
    plan = { ...plan, idmappedMount: mode.idmappedMount };
  }
  return { ...prepared, plan: { ...plan, summary: steps.length ? steps.join("; then ") : plan.summary }, idmap: mode.idmap };
}

async function prepareStoreChange(ctx: OpContext, ref: ContainerRef, change: RootfsChange): Promise<Prepared> {
  const current = await observeOwned(ctx, ref);
  if (!current) throw new NotFound(`a rootfs for container ${ref.container} in ${ref.lxcPath}`);
  const shape = shapeOf(current);
  const { spec, plan } = planChange(ref, shape, change);
  const { driver, loc } = current;
  switch (plan.strategy) {
    case "none":
    case "set-limit":
    case "shrink-in-place":
      return { current, spec, plan };
    case "grow-in-place":
      // The grown part's metadata (ext's new inode tables, written as the filesystem grows) is what a thin pool gives.
      await assertSpace(ctx, driver, loc, { sizeBytes: plan.toSize - plan.fromSize, dataBytes: grownMetadataBytes(plan) });
      return { current, spec, plan };
    case "block-copy":
    case "file-copy": {
      const { target } = plan;
      const newDriver = DRIVERS[target.store];
      const newLoc = destinationOf(spec, loc);
      await driver.assertReplaceable?.(ctx, loc);
      // The new store's host: its filesystem, volume group, pool or parent dataset, as the destination names them.
      await newDriver.precheck?.(ctx, { ...spec, ...newDriver.optionsOf(newLoc) }, spec.lxcPath);
      // A volume outside the container directory (an LV, a dataset) that already exists is someone's.
      if (newLoc.localRoot === undefined && newLoc.path !== loc.path && (await newDriver.exists(ctx, newLoc))) {
        throw new AlreadyExists(newLoc.rootfsPath);
      }
      // A tree store has no device to make: only its data counts; a new filesystem adds its metadata.
      await assertSpace(ctx, newDriver, newLoc, { sizeBytes: target.size ?? 0, dataBytes: bytesWritten(plan) });
      // The snapshots this tool takes are copies of their own, kept under snaps/ whatever the rootfs becomes;
      // a store whose snapshots hang on their origin refused the move above (assertReplaceable).
      const snapshots = await snapshotNames(ctx.containerDir);
      const kept = snapshots.length ? `; snapshots ${snapshots.join(", ")} stay as they are` : "";
      return { current, spec, plan: { ...plan, summary: plan.summary + kept }, next: { driver: newDriver, loc: newLoc } };
    }
  }
}

/**
 * The plan an update would carry out, from the host as it is now, with the same checks; nothing is
 * changed. Null while an interrupted operation awaits recovery (the update recovers first).
 */
export async function planStoreUpdate(ref: ContainerRef, change: RootfsChange, opts: OperationOptions): Promise<UpdatePlan | null> {
  if (await hasJournal(ref)) return null;
  return withOperation(ref, opts, async (ctx) => (await prepareUpdate(ctx, ref, change, true)).plan, { readOnly: true });
}

async function executeUpdate(ctx: OpContext, prepared: Prepared): Promise<CopyMethod> {
  const { current, plan } = prepared;
  // Offline resizes, moves and shifts need the rootfs to themselves: its container stopped, nothing mounted on it.
  if (plan.shift || (plan.strategy !== "none" && plan.strategy !== "set-limit")) await assertNotInUse(ctx, current.driver, current.loc);
  // A copy shifts its new store before the swap; the rest shift where the rootfs is, journaled, judged
  // before the other step (a resize), so that a refused shift leaves the rootfs as it was.
  const inPlace = plan.shift && plan.strategy !== "block-copy" && plan.strategy !== "file-copy" ? plan.shift : undefined;
  const end = { driver: current.driver, loc: current.loc, fstype: current.observed.fstype };
  const ready = inPlace && (await readyShiftInPlace(ctx, end, inPlace.candidates, inPlace.to));
  const method = await changeStore(ctx, prepared);
  if (ready) {
    await runShiftInPlace(ctx, ready);
    ctx.log(ready.inodes === "there" ? "its owners were in the map already" : `shifted the owners of ${ready.inodes} files`);
  }
  // After the owners (idmap-mode.ts says why); a copy wrote it with its commit.
  const copied = plan.strategy === "block-copy" || plan.strategy === "file-copy";
  if (plan.idmappedMount !== undefined && !copied) await setIdmappedMount(ctx.containerDir, plan.idmappedMount);
  return method;
}

async function changeStore(ctx: OpContext, { current, plan, next }: Prepared): Promise<CopyMethod> {
  const { driver, loc, observed } = current;
  switch (plan.strategy) {
    case "none":
      return "none";
    case "grow-in-place":
      await growBlockStore(ctx, asBlock(driver), loc, plan.fstype, plan.fromSize, plan.toSize);
      return "none";
    case "shrink-in-place":
      await shrinkBlockStore(ctx, asBlock(driver), loc, plan.fstype, plan.size);
      return "none";
    case "set-limit":
      if (driver.kind !== "tree" || !driver.setLimit) throw new RootfsError(`internal: ${driver.store} sets no limit`);
      await driver.setLimit(ctx, loc, plan.limit);
      return "none";
    case "block-copy":
    case "file-copy": {
      if (!next) throw new RootfsError("internal: a copy without a destination");
      let method: CopyMethod = "none";
      // Same store (an fstype change): the old store is parked before the new one takes its name.
      await buildAndSwap(ctx, {
        newDriver: next.driver,
        newFinal: next.loc,
        old: { driver, loc },
        build: async (built) => {
          method = (await buildStore(ctx, next.driver, built, plan, { source: { driver, loc, usage: observed } })).method;
          // On the new store, before the swap: a shift stopped midway goes with it.
          if (plan.shift) await shiftFresh(ctx, { driver: next.driver, loc: built, fstype: plan.target.fstype ?? null }, plan.shift);
        },
        idmappedMount: plan.idmappedMount,
      });
      return method;
    }
  }
}

export async function updateStore(ref: ContainerRef, change: RootfsChange, opts: OperationOptions): Promise<UpdateResult> {
  return withOperation(ref, opts, async (ctx) => {
    await recoverInterrupted(ctx, requestedNames(ctx, ref, change));
    const prepared = await prepareUpdate(ctx, ref, change);
    ctx.log(prepared.plan.summary);
    const method = await executeUpdate(ctx, prepared);
    const after = await observeCurrent(ctx, ref);
    if (!after) throw new RootfsError(`internal: the rootfs of ${ref.container} is gone after its update`);
    const shifted = prepared.idmap !== undefined ? { idmap: prepared.idmap } : {};
    return { ...after.observed, strategy: prepared.plan.strategy, method, summary: prepared.plan.summary, ...shifted };
  });
}
