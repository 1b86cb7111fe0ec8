/**
 * Destroy: the storage, and the config left naming what was removed so that LXC refuses to start the
 * container (without `lxc.rootfs.path` it would run on the host's `/`); never storage the config marks as
 * not ours.
 */
import path from "path";
import { HasSnapshots } from "../model/errors";
import { SNAPS_DIR } from "../model/snapshots";
import { ContainerRef, containerDirOf } from "../model/requests";
import { DestroyResult } from "../model/results";
import { Found } from "../drivers";
import { markRootfsDestroyed } from "../host/lxc-config";
import { removeEmptyDir } from "../host/paths";
import { OperationOptions, withOperation } from "./context";
import { assertNotInUse } from "./guards";
import { observeOwned } from "./inspect";
import { recoverInterrupted } from "./recovery";
import { snapshotNames } from "./snapshot-store";

/** The removed store's rootfs string, as one LXC refuses to start from. */
function unbootable({ driver, loc }: Found): string {
  return driver.unbootable?.(loc) ?? loc.rootfsPath;
}

export async function destroy(ref: ContainerRef, opts: OperationOptions): Promise<DestroyResult> {
  const containerDir = containerDirOf(ref);
  const result = await withOperation(ref, opts, async (ctx): Promise<DestroyResult> => {
    await recoverInterrupted(ctx);
    const current = await observeOwned(ctx, ref);
    if (!current) return { destroyed: false, reason: "no rootfs found" };
    if (!current.observed.managed) {
      return {
        destroyed: false,
        reason: `${containerDir}/config sets lxc.rootfs.managed = 0: the storage is not ours to delete; left in place`,
      };
    }
    const snapshots = await snapshotNames(containerDir);
    if (snapshots.length) throw new HasSnapshots(containerDir, snapshots);
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
