/**
 * Snapshots of a rootfs, as `lxc-snapshot` keeps them: `<lxcPath>/<container>/snaps/<name>/` holding a
 * `config` (the container's, its `lxc.rootfs.path` naming the snapshot's own storage), the storage, a `ts`
 * and an optional `comment`. The requests and answers of the core's snapshot calls.
 */
import path from "path";
import type { ContainerRef, Store } from "./requests";

/** The directory under a container's that holds its snapshots (LXC's `snaps`). */
export const SNAPS_DIR = "snaps";

/** Which snapshot: the container, and the snapshot's name (a directory under `snaps`). */
export interface SnapshotRef extends Pick<ContainerRef, "container" | "lxcPath"> {
  name: string;
}

/** A snapshot to take. */
export interface SnapshotSpec extends SnapshotRef {
  /** Written to the snapshot's `comment` file, as `lxc-snapshot -c` does. */
  comment?: string;
}

/**
 * How a snapshot was made: a store's own snapshot (btrfs), extents shared (reflink), a block copy with
 * holes kept, a file copy; `copy` for one made by a copy this tool did not make (lxc-snapshot's rsync).
 */
export type SnapshotMethod = "snapshot" | "reflink" | "sparse-copy" | "cp" | "copy";

/** What is on the host for one snapshot. These are the resource's outputs. */
export interface SnapshotObserved extends SnapshotRef {
  comment: string | null;
  /** From `ts` (LXC's local-time `%Y:%m:%d %H:%M:%S`), as ISO 8601 in UTC; null when `ts` is missing. */
  createdAt: string | null;
  /** `ts` as it is: what tells this snapshot from one made again under its name, whatever the reader's time zone. */
  timestamp: string | null;
  /** The snapshot's own `lxc.rootfs.path`: a Rootfs's `from` that restores it. */
  rootfsPath: string;
  backingStore: Store;
  sizeBytes: number | null;
  allocatedBytes: number;
  /** The method a store's own snapshot implies; null for a copy, whose kind the disk does not tell. */
  method: SnapshotMethod | null;
}

export interface SnapshotResult extends SnapshotObserved {
  method: SnapshotMethod;
}

/** What taking a snapshot will do: the method the store allows, and the bytes it moves at most. */
export interface SnapshotPlan {
  /** The best the store can do; a reflink falls back to a copy where the host cannot share extents. */
  method: SnapshotMethod;
  bytesToMove: number;
  summary: string;
}

export function snapsDirOf(ref: Pick<ContainerRef, "container" | "lxcPath">): string {
  return path.join(ref.lxcPath, ref.container, SNAPS_DIR);
}

export function snapshotDirOf(ref: SnapshotRef): string {
  return path.join(snapsDirOf(ref), ref.name);
}
