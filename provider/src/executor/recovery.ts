/**
 * What every changing operation does first: finish or undo what a killed one left (a swap, a snapshot, a
 * shift in place). Every journal is read and checked before any is acted on: a refusal of one leaves
 * everything as it was.
 */
import { DRIVERS, OpContext } from "../drivers";
import { ContainerRef, RootfsSpec } from "../model/requests";
import { journalsIn, ownerOf } from "./journal";
import { finishSnapshot, readSnapshotJournal } from "./snapshot-store";
import { finishSwap, readSwap } from "./swap";
import { finishShift, readShiftJournal } from "./shift-in-place";

/**
 * The rootfs strings a request names, which a journal's volumes may be besides those the config names or
 * LXC names for the container: its hint (`rootfsPath`), and the volume its store options place (an update
 * or a create with `--lvname`, `--vgname`, `--zfsroot`). Re-running an interrupted command with the same
 * options so lets its recovery act on a volume of another name.
 */
export function requestedNames(ctx: OpContext, ref: ContainerRef, spec: Partial<RootfsSpec> = {}): string[] {
  const names = ref.rootfsPath !== undefined ? [ref.rootfsPath] : [];
  const given = spec as Record<string, unknown>;
  for (const driver of Object.values(DRIVERS)) {
    const options = Object.keys(driver.options);
    if (!options.length || (spec.backingStore !== driver.store && !options.some((k) => given[k] !== undefined))) continue;
    try {
      names.push(driver.locate({ ...spec, ...ref, backingStore: driver.store } as RootfsSpec, ctx.containerDir).rootfsPath);
    } catch {
      // A request this store cannot place names nothing of it.
    }
  }
  return names;
}

/** `requested`: the rootfs strings the request names (see requestedNames). */
export async function recoverInterrupted(ctx: OpContext, requested: readonly string[] = []): Promise<void> {
  if (!(await journalsIn(ctx.containerDir))) return;
  const owner = await ownerOf(ctx, requested);
  const swap = await readSwap(ctx, owner);
  const live = swap ? [swap.swap.newFinal, ...(swap.swap.old ? [swap.swap.old.final] : [])] : [];
  const snapshot = await readSnapshotJournal(ctx, owner, live);
  const shift = await readShiftJournal(ctx, owner);
  if (swap) await finishSwap(ctx, swap.swap, swap.file);
  if (snapshot) await finishSnapshot(ctx, snapshot);
  if (shift) await finishShift(ctx, shift);
}
