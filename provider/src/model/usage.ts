/** What a store reports about itself, read without mounting: the one fact the outputs and the planner share. */
import type { Fstype } from "./requests";

export interface StoreUsage {
  /** Capacity in bytes: image or device size, btrfs qgroup limit, zfs quota; null where there is none. */
  sizeBytes: number | null;
  fstype: Fstype | null;
  /** Bytes the storage takes on the host (st_blocks of an image, du of a tree, LV size). */
  allocatedBytes: number;
  /** Bytes of data inside the filesystem: what a file-level copy would move. */
  usedBytes: number;
  /**
   * A block store's filesystem's own size, from its superblock: what a block copy reads. It can differ from
   * the device's (an image lxc-create made one byte over, or one resized or cut short by hand). Null for a
   * tree store, and where no filesystem is found.
   */
  fsBytes: number | null;
}
