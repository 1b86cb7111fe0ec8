/** Planning a snapshot is pure too: from the rootfs and two facts of its host, the method and its cost. */
import { SnapshotMethod, SnapshotPlan } from "../model/snapshots";
import { mib } from "./plan";

export interface SnapshotFacts {
  /** What the store's own snapshot of this rootfs is ("a read-only btrfs subvolume snapshot"); undefined: a copy. */
  native?: string;
  /** The rootfs is a block image, copied whole with its holes kept; else its files are copied. */
  block: boolean;
  /** The host filesystem under the container directory shares extents (btrfs, xfs). */
  hostSharesExtents: boolean;
  usedBytes: number;
  allocatedBytes: number;
}

export function planSnapshot(name: string, rootfsPath: string, f: SnapshotFacts): SnapshotPlan {
  const plan = (method: SnapshotMethod, bytesToMove: number, how: string): SnapshotPlan => ({
    method,
    bytesToMove,
    summary: `snapshot ${name} of ${rootfsPath}: ${how}`,
  });
  if (f.native) return plan("snapshot", 0, `${f.native}, no data copied`);
  const bytes = f.block ? f.allocatedBytes : f.usedBytes;
  const what = f.block ? "the image" : "the files";
  if (f.hostSharesExtents)
    return plan("reflink", 0, `a reflinked copy of ${what} (shared extents; ${mib(bytes)} copied if the host refuses)`);
  return plan(f.block ? "sparse-copy" : "cp", bytes, `a copy of ${what}, ${mib(bytes)}${f.block ? " allocated, holes kept" : ""}`);
}
