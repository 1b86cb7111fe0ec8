/** Inspect: what is on the host now, without mounting. */
import { ContainerRef } from "../model/requests";
import { Observed } from "../model/results";
import { OpContext } from "../drivers";
import { OperationOptions, withOperation } from "./context";
import { hasJournal } from "./journal";
import { assertOwned } from "./guards";
import { Current, locateCurrent, observeAt, observeCurrent } from "./observe";
import { recoverInterrupted } from "./recovery";
import { idmapSeen } from "./owners-seen";

/**
 * Null when there is no rootfs. It writes only to finish or roll back an operation that was killed
 * half-way (see swap.ts): until then the rootfs may sit under a temporary name, and reporting it gone
 * would make `pulumi refresh` drop a rootfs that exists. `idmap` is told where the owners are seen in
 * another map than `ref.recordedIdmap` (owners-seen.ts), or than none when the config mounts it idmapped.
 */
export async function inspect(ref: ContainerRef, opts: OperationOptions): Promise<Observed | null> {
  const observe = async (ctx: OpContext) => {
    const current = await observeCurrent(ctx, ref);
    if (!current) return null;
    // Mounted idmapped, the owners on disk are a privileged rootfs's whatever map the record names; seen in
    // a map, the rootfs is a shifted one (the mode its owners say), which the next update in mount mode shifts back.
    const mounted = current.observed.idmapMode === "mount";
    const idmap = await idmapSeen(ctx, current, mounted ? [] : ref.recordedIdmap);
    if (!idmap) return current.observed;
    return { ...current.observed, idmap, ...(mounted ? { idmapMode: "shift" as const } : {}) };
  };
  if (await hasJournal(ref)) {
    return withOperation(ref, opts, async (ctx) => {
      await recoverInterrupted(ctx);
      return observe(ctx);
    });
  }
  return withOperation(ref, opts, observe, { readOnly: true });
}

/** The current rootfs, refused before it is even read when it is not this container's own to change. */
export async function observeOwned(ctx: OpContext, ref: ContainerRef): Promise<Current | null> {
  const found = await locateCurrent(ctx, ref);
  if (!found) return null;
  await assertOwned(ctx, found.loc);
  return { driver: found.driver, loc: found.loc, observed: await observeAt(ctx, ref, found.driver, found.loc, found.managed) };
}
