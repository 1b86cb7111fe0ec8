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

/**
 * statfs(2) f_type of the filesystems whose mounts the kernel can idmap (FS_ALLOW_IDMAP), which LXC's
 * `idmap=container` needs of the filesystem a dir rootfs is on: ext2/3/4 share one magic.
 */
export const IDMAPPABLE_FS = new Map<number, string>(
  Object.entries({ "ext2/3/4": 0xef53, xfs: SUPER_MAGIC.xfs, btrfs: SUPER_MAGIC.btrfs, tmpfs: 0x01021994 }).map(([name, magic]) => [
    magic,
    name,
  ]),
);

/** Names of filesystems that cannot idmap a mount (zfs 2.1, overlay), for the refusal. */
export const NOT_IDMAPPABLE_FS = new Map<number, string>(
  Object.entries({ zfs: 0x2fc12fc1, overlay: 0x794c7630, nfs: 0x6969, fuse: 0x65735546 }).map(([name, magic]) => [magic, name]),
);

const MiB = 2 ** 20;

/**
 * mke2fs's size types and what /etc/mke2fs.conf gives each (e2fsprogs 1.47 on Debian 12): below 3 MiB
 * "floppy", below 512 MiB "small", from 4 TiB "big", from 16 TiB "huge". Inodes are 256 bytes in each.
 */
function extLayout(size: number): { blockSize: number; inodeRatio: number } {
  if (size < 3 * MiB) return { blockSize: 1024, inodeRatio: 8192 };
  if (size < 512 * MiB) return { blockSize: 1024, inodeRatio: 4096 };
  if (size < 4 * 2 ** 40) return { blockSize: 4096, inodeRatio: 16384 };
  if (size < 16 * 2 ** 40) return { blockSize: 4096, inodeRatio: 32768 };
  return { blockSize: 4096, inodeRatio: 65536 };
}

/** e2fsprogs' ext2fs_default_journal_size: the journal's blocks by the filesystem's blocks. */
function extJournalBlocks(blocks: number): number {
  const steps: Array<[number, number]> = [
    [32768, 1024],
    [256 * 1024, 4096],
    [512 * 1024, 8192],
    [4096 * 1024, 16384],
    [8192 * 1024, 32768],
    [16384 * 1024, 65536],
    [32768 * 1024, 131072],
  ];
  return steps.find(([below]) => blocks < below)?.[1] ?? 262144;
}

/**
 * The bytes a new filesystem of `size` writes before any file is in it: what a thin pool allocates for an
 * empty volume. Measured on a thin pool (test/unit/filesystems.test.ts holds the figures), this is at least
 * what mkfs and the first mount wrote, and at most half again as much:
 * - ext*: the inode tables (the kernel's lazy init zeroes them after the first mount, and the pool
 *   allocates those zeroes too), the journal (ext3 and ext4), and the bitmaps and group descriptors
 *   (size/512), plus 8 MiB;
 * - xfs: its log (size/2048, kept between 64 MiB and 2 GiB) and the allocation groups' headers
 *   (size/8192), plus 8 MiB;
 * - btrfs: its superblocks and first metadata chunks, 16 MiB whatever the size.
 */
export function newFilesystemBytes(fstype: Fstype, size: number, madeAt = size): number {
  // `madeAt`: the size mkfs chose its layout for. A filesystem grown later keeps its block size, inode
  // ratio, journal and log as they were made: a 500 MiB ext4 (an inode per 4 KiB) grown to 20 GiB writes
  // four times the inode tables one made at 20 GiB would.
  if (isExt(fstype)) {
    const { blockSize, inodeRatio } = extLayout(madeAt);
    const inodeTables = Math.floor(size / inodeRatio) * 256;
    const journal = fstype === "ext2" ? 0 : extJournalBlocks(Math.floor(madeAt / blockSize)) * blockSize;
    return inodeTables + journal + Math.ceil(size / 512) + 8 * MiB;
  }
  if (fstype === "xfs") return Math.min(Math.max(madeAt / 2048, 64 * MiB), 2 * 2 ** 30) + Math.ceil(size / 8192) + 8 * MiB;
  return 16 * MiB;
}
