/** The planner's vocabulary: what an update or a fill will do, and what it costs. */
import type { Fstype, Store } from "./requests";
import type { Idmap } from "./idmap";
import type { StoreUsage } from "./usage";

export type UpdateStrategy = UpdatePlan["strategy"];
export type FillStrategy = FillPlan["strategy"];

/** The storage as it is, or as it will be. */
export interface StoreShape extends StoreUsage {
  store: Store;
  /** Where it is (`lxc.rootfs.path`), when known: a spec naming another volume moves the data there. */
  rootfsPath?: string;
}

/** What a request resolves to: the store, and for sized stores the size, for block stores the filesystem. */
export interface Target {
  store: Store;
  size?: number;
  fstype?: Fstype;
}

/*
 * Each plan is a union keyed by its strategy, each variant carrying what the executor needs to carry it
 * out: the executor decides nothing again.
 */

/** A target a block copy can fill: a block store of a known size holding the source's filesystem. */
export interface BlockTarget extends Target {
  size: number;
  fstype: Fstype;
}

/**
 * The source's filesystem copied byte for byte (its holes kept) into a new block store made at the target's
 * size; the copy's filesystem is then grown to fill it.
 */
export interface BlockCopyPlan {
  strategy: "block-copy";
  target: BlockTarget;
  /**
   * The bytes read: the source's filesystem in whole sectors, not its device, which may be longer (an image
   * lxc-create made one byte over). The size of the copy's filesystem before it grows.
   */
  copySize: number;
  /** The source's allocated bytes. */
  bytesToMove: number;
}

/** A new store made and formatted, and the source's files copied into it. */
export interface FileCopyPlan {
  strategy: "file-copy";
  target: Target;
  /** The source's used bytes. */
  bytesToMove: number;
}

/** An OS image as the planner sees it: its name for a plan line, its digest, and its tar stream's bytes. */
export interface ImageShape {
  /** The file's name, never its path or URL, which may hold a secret. */
  name: string;
  /** `sha256:<hex>` of the tarball; null when the create takes it as it unpacks (a local file with no sha256 to check: read once). */
  digest: string | null;
  /** The tar stream's bytes; null for an image not fetched yet (a preview): the create counts them once it is. */
  streamBytes: number | null;
  /** For an image to fetch: the bytes the server says it will send, when it says. */
  fetchBytes?: number | null;
}

/** A new store made and formatted, and an OS image unpacked into it. */
export interface UnpackPlan {
  strategy: "unpack";
  target: Target;
  image: ImageShape;
  /** What the tree takes once unpacked: the tar stream and 1/32 more, for blocks that files fill only in part. */
  bytesToMove: number;
}

/** How to fill a new store at create. */
export type FillPlan =
  | { strategy: "empty"; target: Target; bytesToMove: 0 }
  /** The store's own clone of the source; a file copy of `copyBytes` where the host cannot clone (another filesystem or pool). */
  | { strategy: "clone"; target: Target; bytesToMove: 0; copyBytes: number }
  | BlockCopyPlan
  | FileCopyPlan
  | UnpackPlan;

/** A shift of the rootfs's owners from the map it is in to another (an update's `idmap`), after the rest of the plan. */
export interface ShiftPlan {
  /** The maps the rootfs may be in: the update shifts from the one whose container root owns its root. */
  candidates: (Idmap | null)[];
  to: Idmap | null;
  /** The inodes it walks, as far as the host can tell without mounting; null where it cannot. */
  files: number | null;
  /** Whether the count is the filesystem's own tally of inodes in use, not a walk's. */
  tallied: boolean;
}

/**
 * How to change a rootfs in place, or into a new store, whether its owners then move to another map, and
 * whether LXC then mounts it idmapped.
 * `summary`: one line for a reviewer, what will happen and what it costs.
 */
export type UpdatePlan = {
  summary: string;
  shift?: ShiftPlan;
  /** A change of idmapMode: the config's `lxc.rootfs.options = idmap=container` written (true) or removed, after the shift. */
  idmappedMount?: boolean;
} & (
  | { strategy: "none"; bytesToMove: 0 }
  /** `fromSize`: the device's size as found, which a failed filesystem step restores. */
  | { strategy: "grow-in-place"; fstype: Fstype; fromSize: number; toSize: number; bytesToMove: 0 }
  | { strategy: "shrink-in-place"; fstype: Fstype; size: number; bytesToMove: 0 }
  | { strategy: "set-limit"; limit: number; bytesToMove: 0 }
  | BlockCopyPlan
  | FileCopyPlan
);

/** What a create would make and how it would fill it. `summary`: one line for a reviewer, as an update's. */
export interface CreatePlan {
  strategy: FillStrategy;
  bytesToMove: number;
  summary: string;
}

/** What a destroy would do: delete the storage, or leave it (none there, or `lxc.rootfs.managed = 0`). */
export interface DestroyPlan {
  deletes: boolean;
  summary: string;
}
