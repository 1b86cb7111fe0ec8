/**
 * The one pattern for every change of store (Incus moves between pools the same way): build the new store
 * under a temporary name, park the old one, move the new one into place, point the config at it, destroy
 * the old one. A journal records the phase; the container config is the commit point. Any failure, and
 * any process killed on the way, is rolled back to the old rootfs by `recoverSwap`, in this run or the next.
 *
 * The journal names the two final locations only, as rootfs strings; the temporary names are derived from
 * them (`relocate`), never read. A journal is acted on only once every location in it is checked to be
 * this container's own (journal.ts): one copied from another container directory, or crafted, is refused.
 */
import { Unsafe } from "../model/errors";
import { DRIVERS } from "../drivers";
import { Driver, Location, OpContext } from "../drivers/types";
import { clearRootfsPath, setRootfsPath } from "../host/lxc-config";
import {
  clearJournal,
  JournalFile,
  journalPath,
  journalRefused,
  locationField,
  locationProblem,
  isPoolRoot,
  Owner,
  ownerOf,
  slotProblem,
  readJournal,
  SWAP_JOURNAL,
  writeJournal,
} from "./journal";
import { failpoint } from "./failpoint";

export interface SwapRequest {
  newDriver: Driver;
  newFinal: Location;
  old?: { driver: Driver; loc: Location };
  /** Makes and fills the store at `built`. */
  build(built: Location): Promise<void>;
  /** Whether the config then has LXC mount it idmapped (idmapMode mount), written with the commit; unset: kept. */
  idmappedMount?: boolean;
}

type Phase = "building" | "swapping" | "cleanup";
const PHASES: readonly Phase[] = ["building", "swapping", "cleanup"];

/** A swap: its phase, its final locations, and the temporary ones derived from them. */
interface Swap {
  phase: Phase;
  newDriver: Driver;
  newFinal: Location;
  built: Location;
  old?: { driver: Driver; final: Location; parked: Location };
  /**
   * The config already names the new store, and the old one's own name is not known to be this
   * container's (a volume of another name): only its parked name may be touched, to finish the swap.
   */
  parkedOnly: boolean;
}

function swapOf(phase: Phase, newDriver: Driver, newFinal: Location, old?: { driver: Driver; loc: Location }): Swap {
  return {
    phase,
    newDriver,
    newFinal,
    built: newDriver.relocate(newFinal, "new"),
    old: old && { driver: old.driver, final: old.loc, parked: old.driver.relocate(old.loc, "old") },
    parkedOnly: false,
  };
}

/** The journal of a swap: the phase and the final locations; the temporary names, for a reader, derived. */
function journalOf(s: Swap): object {
  return {
    phase: s.phase,
    newFinal: s.newFinal.rootfsPath,
    built: s.built.rootfsPath,
    ...(s.old ? { oldFinal: s.old.final.rootfsPath, oldParked: s.old.parked.rootfsPath } : {}),
  };
}

/**
 * Why a swap is not one this container may carry out or recover, or null. Both final locations must be
 * the container's own, and the temporary names derived from them must stand on its own paths. The old
 * store's final name alone may be another's (a volume of another name) once the config names the new
 * store: then only its parked name is touched, to finish the swap, and `parkedOnly` says so.
 */
async function swapProblem(s: Swap, owner: Owner): Promise<string | null> {
  const newProblem = (await locationProblem(owner, s.newFinal)) ?? (await slotProblem(owner, s.built));
  if (newProblem) return `its newFinal ${s.newFinal.rootfsPath}: ${newProblem}`;
  if (!s.old) return null;
  const oldProblem = await locationProblem(owner, s.old.final);
  if (oldProblem) {
    const committed = s.phase !== "building" && owner.configured === s.newFinal.rootfsPath;
    if (s.old.final.localRoot !== undefined || isPoolRoot(s.old.final) || !committed)
      return `its oldFinal ${s.old.final.rootfsPath}: ${oldProblem}`;
    s.parkedOnly = true;
  }
  const parkedProblem = await slotProblem(owner, s.old.parked);
  return parkedProblem && `its oldFinal ${s.old.final.rootfsPath}: ${parkedProblem}`;
}

export async function buildAndSwap(ctx: OpContext, req: SwapRequest): Promise<void> {
  const swap = swapOf("building", req.newDriver, req.newFinal, req.old);
  // The journal written must be one the next run would act on: checked as it will be, before anything is made.
  const problem = await swapProblem(swap, await ownerOf(ctx, [req.newFinal.rootfsPath, ...(req.old ? [req.old.loc.rootfsPath] : [])]));
  if (problem) throw new Unsafe(`refusing to change the rootfs of ${ctx.containerDir}: ${problem}. Nothing was changed.`);
  const file = journalPath(ctx.containerDir, SWAP_JOURNAL);
  await writeJournal(ctx, journalOf(swap));
  try {
    await req.build(swap.built).catch(async (e) => {
      // Asked before the roll-back removes what the failure can still be read from (a full thin pool).
      throw (await req.newDriver.explainFailure?.(ctx, swap.built, e).catch(() => null)) ?? e;
    });
    failpoint("swap:built");
    swap.phase = "swapping";
    await writeJournal(ctx, journalOf(swap));
    if (swap.old) await swap.old.driver.move(ctx, swap.old.final, swap.old.parked);
    failpoint("swap:parked");
    await req.newDriver.move(ctx, swap.built, req.newFinal);
    failpoint("swap:moved");
    // The config first, then the mount point: an empty loop mount point where the old dir rootfs was
    // must never be what the config names.
    await setRootfsPath(ctx.containerDir, req.newFinal.rootfsPath, req.idmappedMount);
    failpoint("swap:committed");
    await req.newDriver.finalize?.(ctx, req.newFinal);
  } catch (e) {
    // From what this run wrote, not from the file: it is ours, and it may be the file that failed.
    await finishSwap(ctx, swap, file).catch((re: Error) => ctx.log(`roll-back failed: ${re.message}`));
    throw e;
  }
  swap.phase = "cleanup";
  await writeJournal(ctx, journalOf(swap));
  if (swap.old) await swap.old.driver.destroy(ctx, swap.old.parked);
  await clearJournal(ctx, SWAP_JOURNAL);
}

/**
 * The swap an interrupted run left, read from its journal and checked: the phase one of the three, the
 * locations parsed again from their rootfs strings, the temporary names derived (and, where the file gives
 * them, the same), every one the container's own. Null when there is none; refused, naming the file, when
 * any of it fails.
 */
export async function readSwap(ctx: OpContext, owner: Owner): Promise<{ swap: Swap; file: string } | null> {
  const j = await readJournal(ctx, SWAP_JOURNAL);
  if (!j) return null;
  const phase = j.body.phase;
  if (typeof phase !== "string" || !PHASES.includes(phase as Phase)) {
    throw journalRefused(j.file, `its phase ${JSON.stringify(phase) ?? "(missing)"} is not one of ${PHASES.join(", ")}`);
  }
  const newFound = locationField(j, "newFinal", ctx.containerDir)!;
  const oldFound = locationField(j, "oldFinal", ctx.containerDir, true);
  const swap = swapOf(phase as Phase, newFound.driver, newFound.loc, oldFound);
  checkDerived(j, "built", swap.built);
  checkDerived(j, "oldParked", swap.old?.parked);
  const problem = await swapProblem(swap, owner);
  if (problem) throw journalRefused(j.file, problem);
  return { swap, file: j.file };
}

/** A temporary name the file gives (for a reader) must be the one derived from its final location; it is never used. */
function checkDerived(j: JournalFile, key: string, derived: Location | undefined): void {
  const v = j.body[key];
  const given = j.version === 1 && v !== null && typeof v === "object" ? (v as Record<string, unknown>).rootfsPath : v;
  if (given === undefined) return;
  if (given !== derived?.rootfsPath) {
    const expected = derived ? `the temporary name ${derived.rootfsPath} derived from it` : "nothing: it names no oldFinal";
    throw journalRefused(j.file, `its ${key} ${JSON.stringify(given)} is not ${expected}`);
  }
}

/**
 * Finishes or undoes a swap, from its phase and what the host says:
 * - building: the new store is half-made; it goes, the old one never moved;
 * - swapping: once the new store sits at its final place (old parked, temporary name gone), the swap is
 *   finished (finalize, config, clean-up); before that, the old store goes back to its place;
 * - cleanup: the swap was committed; the parked old store goes.
 */
export async function finishSwap(ctx: OpContext, s: Swap, file: string): Promise<void> {
  const exists = (loc: Location | undefined) => (loc ? DRIVERS[loc.store].exists(ctx, loc) : Promise.resolve(false));
  if (s.phase === "swapping") {
    const oldParked = await exists(s.old?.parked);
    const newInPlace = !(await exists(s.built)) && (await exists(s.newFinal)) && (!s.old || oldParked);
    if (newInPlace) {
      await setRootfsPath(ctx.containerDir, s.newFinal.rootfsPath);
      await s.newDriver.finalize?.(ctx, s.newFinal);
      ctx.log(`completed an interrupted change of ${ctx.containerDir}: the new rootfs is in place`);
    } else {
      if (s.parkedOnly) {
        throw journalRefused(
          file,
          `the change must be rolled back to ${s.old!.final.rootfsPath}, which is not known to be this container's`,
        );
      }
      if (oldParked && s.old) await s.old.driver.move(ctx, s.old.parked, s.old.final);
      if (s.old) await setRootfsPath(ctx.containerDir, s.old.final.rootfsPath);
      else await clearRootfsPath(ctx.containerDir);
      if (s.old) await s.old.driver.finalize?.(ctx, s.old.final);
      ctx.log(`rolled back an interrupted change of ${ctx.containerDir}: the previous rootfs is in place`);
    }
  }
  if (s.phase !== "building" && s.old && (await exists(s.old.parked))) await s.old.driver.destroy(ctx, s.old.parked);
  if (await exists(s.built)) await s.newDriver.destroy(ctx, s.built);
  await clearJournal(ctx, SWAP_JOURNAL);
}

export type { Swap };
