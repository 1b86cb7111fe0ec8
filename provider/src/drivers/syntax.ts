/** The syntax every store's rootfs strings share: LXC splits them on ':', and paths are absolute. */

/** What a rootfs string may be, for errors. */
export const ROOTFS_STRING_FORMS =
  "an LXC rootfs string: dir:/abs/path, loop:/abs/image, btrfs:/abs/subvolume, overlay:/abs/lower:/abs/upper, lvm:/dev/vg/lv or zfs:pool/dataset";

/** An absolute host path without '..' or ':' (LXC would split on it). */
export function isHostPath(p: string): boolean {
  return p.startsWith("/") && !p.includes(":") && !p.split("/").includes("..");
}

/** A ZFS dataset name: pool/child/..., no empty components. */
export function isDatasetName(p: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.:\-/]*$/.test(p) && !p.includes("//") && !p.endsWith("/");
}

/** An LVM name (volume group, logical volume, thin pool), as lvm(8) allows it. */
export const LVM_NAME = { pattern: /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/, allowed: "a valid LVM name" };
/** A ZFS dataset path given as an option. */
export const ZFS_NAME = { pattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*(\/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$/, allowed: "a valid ZFS name" };
