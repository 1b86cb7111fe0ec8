/**
 * Destroy: the storage, and the config left naming what was removed so that LXC refuses to start the
 * container (without `lxc.rootfs.path` it would run on the host's `/`); never storage the config marks as
 * not ours.
 */
import path from "path";
import { HasSnapshots } from "../model/errors";
import { SNAPS_DIR } from "../model/snapshots";
import { ContainerRef, containerDirOf } from "../model/requests";
import { DestroyPlan } from "../model/plans";
import { DestroyResult } from "../model/results";
import { Found, OpContext } from "../drivers";
import { markRootfsDestroyed } from "../host/lxc-config";
import { removeEmptyDir } from "../host/paths";
import { OperationOptions, withOperation } from "./context";
import { hasJournal } from "./journal";
import { Current } from "./observe";
import { assertNotInUse } from "./guards";
import { observeOwned } from "./inspect";
import { recoverInterrupted } from "./recovery";
import { snapshotNames } from "./snapshot-store";

/** The removed store's rootfs string, as one LXC refuses to start from. */
function unbootable({ driver, loc }: Found): string {
  return driver.unbootable?.(loc) ?? loc.rootfsPath;
}

type Prepared = { current: Current } | { kept: DestroyResult };

/**
 * What a destroy would remove, or why it leaves the storage, checked as the destroy checks it: a rootfs with
 * snapshots is refused. Changes nothing: a preview of a replacement runs it for its delete half. Whether the
 * rootfs is in use is left to the destroy itself: a stack may stop the container before it.
 */
async function prepareDestroy(ctx: OpContext, ref: ContainerRef): Promise<Prepared> {
  const current = await observeOwned(ctx, ref);
  if (!current) return { kept: { destroyed: false, reason: "no rootfs found" } };
  if (!current.observed.managed) {
    return {
      kept: {
        destroyed: false,
        reason: `${containerDirOf(ref)}/config sets lxc.rootfs.managed = 0: the storage is not ours to delete; left in place`,
      },
    };
  }
  const snapshots = await snapshotNames(ctx.containerDir);
  if (snapshots.length) throw new HasSnapshots(ctx.containerDir, snapshots);
  return { current };
}

/** What `destroy` would do, from the host as it is now; nothing is changed. Null while a killed operation awaits recovery. */
export async function planDestroy(ref: ContainerRef, opts: OperationOptions): Promise<DestroyPlan | null> {
  if (await hasJournal(ref)) return null;
  return withOperation(
    ref,
    opts,
    async (ctx) => {
      const prepared = await prepareDestroy(ctx, ref);
      if ("kept" in prepared) return { deletes: false, summary: `nothing deleted: ${prepared.kept.reason}` };
      return { deletes: true, summary: `delete ${prepared.current.loc.rootfsPath}` };
    },
    { readOnly: true },
  );
}

export async function destroy(ref: ContainerRef, opts: OperationOptions): Promise<DestroyResult> {
  const containerDir = containerDirOf(ref);
  const result = await withOperation(ref, opts, async (ctx): Promise<DestroyResult> => {
    await recoverInterrupted(ctx);
    const prepared = await prepareDestroy(ctx, ref);
    if ("kept" in prepared) return prepared.kept;
    const { current } = prepared;
    await assertNotInUse(ctx, current.driver, current.loc);
    await current.driver.destroy(ctx, current.loc);
    await markRootfsDestroyed(ctx.containerDir, unbootable(current));
    return { destroyed: true };
  });
  // lxc-snapshot -d leaves snaps/ behind, empty: it goes with the container directory.
  if (result.destroyed) await removeEmptyDir(path.join(containerDir, SNAPS_DIR));
  await removeEmptyDir(containerDir);
  return result;
}
