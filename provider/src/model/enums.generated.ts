// Generated from schema.json by scripts/gen-types.js; do not edit: run npm run gen-types.

/** IdmapKind's values, in schema.json's order. */
export const IDMAP_KIND_VALUES = ["uid", "gid", "both"] as const;
/**
 * Which ids an idmap range maps.
 */
export type IdmapKind = (typeof IDMAP_KIND_VALUES)[number];

/** IdmapMode's values, in schema.json's order. */
export const IDMAP_MODE_VALUES = ["shift", "mount"] as const;
/**
 * How an unprivileged container's rootfs is made to fit its id map.
 */
export type IdmapMode = (typeof IDMAP_MODE_VALUES)[number];

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
