// Generated from schema.json by scripts/gen-types.js; do not edit: run npm run gen-types.

/** BackingStore's values, in schema.json's order. */
export const BACKING_STORE_VALUES = ["dir", "loop", "btrfs", "overlay", "lvm", "zfs"] as const;
/**
 * Where a rootfs keeps its data, as in LXC's storage layer.
 */
export type BackingStore = (typeof BACKING_STORE_VALUES)[number];

/** Fstype's values, in schema.json's order. */
export const FSTYPE_VALUES = ["ext2", "ext3", "ext4", "xfs", "btrfs"] as const;
/**
 * The filesystem made on a block store (loop, lvm).
 */
export type Fstype = (typeof FSTYPE_VALUES)[number];
