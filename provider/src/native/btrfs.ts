/**
 * The btrfs ioctls behind `btrfs subvolume snapshot` and `btrfs inspect-internal rootid`, as those tools
 * issue them: one call on the thread pool instead of two processes (setpriv and btrfs) each, which were
 * most of a snapshot's time. Layouts from linux/btrfs.h.
 */
import { constants as fsConstants, promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { ioctlBuffer } from "./libc";

/** struct btrfs_ioctl_vol_args_v2: fd, transid, flags, a 32-byte union, then the name (4040 bytes). */
const VOL_ARGS_V2_SIZE = 4096;
const NAME_OFFSET = 56;
const NAME_MAX = 4039;
/** _IOW(BTRFS_IOCTL_MAGIC 0x94, 23, struct btrfs_ioctl_vol_args_v2). */
const BTRFS_IOC_SNAP_CREATE_V2 = 0x50009417;
const BTRFS_SUBVOL_RDONLY = 1n << 1n;

const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;
/** The objectid (inode number) of every subvolume's root directory. */
const FIRST_FREE_OBJECTID = 256n;
export const SUBVOLUME_ROOT_INO = Number(FIRST_FREE_OBJECTID);

/**
 * Snapshots the subvolume `src` as `dst`, which must not exist, read-only when asked. Fails with the
 * kernel's errno: EXDEV when they are on different filesystems, EEXIST when `dst` is taken.
 */
export async function snapshotSubvolume(src: string, dst: string, readOnly: boolean): Promise<void> {
  const name = Buffer.from(path.basename(dst));
  if (name.length > NAME_MAX) throw new RangeError(`btrfs subvolume name longer than ${NAME_MAX} bytes: ${dst}`);
  const source = await fs.open(src, DIR_FLAGS);
  try {
    // Checked on the open directory, not its path: a plain directory swapped in after the caller's check
    // would have the kernel snapshot the whole subvolume that holds it.
    if ((await source.stat()).ino !== SUBVOLUME_ROOT_INO) throw new Unsafe(`refusing to snapshot ${src}: it is not a btrfs subvolume`);
    const parent = await fs.open(path.dirname(dst), DIR_FLAGS);
    try {
      const args = Buffer.alloc(VOL_ARGS_V2_SIZE);
      args.writeBigInt64LE(BigInt(source.fd), 0);
      args.writeBigUInt64LE(readOnly ? BTRFS_SUBVOL_RDONLY : 0n, 16);
      name.copy(args, NAME_OFFSET);
      await ioctlBuffer(parent.fd, BTRFS_IOC_SNAP_CREATE_V2, args, `BTRFS_IOC_SNAP_CREATE_V2 ${src} -> ${dst}`);
    } finally {
      await parent.close();
    }
  } finally {
    await source.close();
  }
}

/** _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args): treeid, objectid, then a 4080-byte name. */
const BTRFS_IOC_INO_LOOKUP = 0xd0009412;
const INO_LOOKUP_SIZE = 4096;
/** _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args): max_id, num_devices, then the 16-byte fsid. */
const BTRFS_IOC_FS_INFO = 0x8400941f;
const FS_INFO_SIZE = 1024;
const FSID_OFFSET = 16;

/** The subvolume id (tree id) of the subvolume holding `dir`, and the filesystem's UUID as /sys/fs/btrfs names it. */
export async function subvolumeIds(dir: string): Promise<{ treeId: number; fsid: string }> {
  const fh = await fs.open(dir, DIR_FLAGS);
  try {
    const lookup = Buffer.alloc(INO_LOOKUP_SIZE);
    lookup.writeBigUInt64LE(FIRST_FREE_OBJECTID, 8);
    await ioctlBuffer(fh.fd, BTRFS_IOC_INO_LOOKUP, lookup, `BTRFS_IOC_INO_LOOKUP ${dir}`);
    const info = Buffer.alloc(FS_INFO_SIZE);
    await ioctlBuffer(fh.fd, BTRFS_IOC_FS_INFO, info, `BTRFS_IOC_FS_INFO ${dir}`);
    const hex = info.subarray(FSID_OFFSET, FSID_OFFSET + 16).toString("hex");
    const fsid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    return { treeId: Number(lookup.readBigUInt64LE(0)), fsid };
  } finally {
    await fh.close();
  }
}
