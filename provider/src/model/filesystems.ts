/** What each filesystem allows: facts the planner and the host tools share. */
import { Fstype } from "./requests";

/**
 * Smallest size per filesystem: what mkfs accepts with its defaults (e2fsprogs 1.47, xfsprogs 6.1), and
 * for btrfs 256 MiB, below which the kernel refuses every resize (BTRFS_IOC_RESIZE: EINVAL), though
 * mkfs.btrfs would make one from 114 MiB.
 */
export const MIN_FS_SIZE: Record<Fstype, number> = {
  ext2: 2 * 2 ** 20,
  ext3: 8 * 2 ** 20,
  ext4: 8 * 2 ** 20,
  xfs: 300 * 2 ** 20,
  btrfs: 256 * 2 ** 20,
};

export function isExt(fstype: Fstype): boolean {
  return fstype === "ext2" || fstype === "ext3" || fstype === "ext4";
}

/** Which filesystems can shrink, and how. xfs never shrinks. */
export function shrinkMode(fstype: Fstype): "offline" | "online" | null {
  if (isExt(fstype)) return "offline";
  if (fstype === "btrfs") return "online";
  return null;
}

/** Whether growing happens on the unmounted device (ext*) rather than through a mount (xfs, btrfs). */
export function growsOffline(fstype: Fstype): boolean {
  return isExt(fstype);
}

/** statfs(2) f_type of the filesystems whose files can share extents (reflinks). */
export const SUPER_MAGIC = { btrfs: 0x9123683e, xfs: 0x58465342 } as const;
