/**
 * Filesystem type and usage read straight from the superblock of an image or a device: no mount,
 * so `pulumi refresh` stays cheap and side-effect free.
 */
import { promises as fs } from "fs";
import { Fstype } from "../model/requests";

export interface SuperblockInfo {
  fstype: Fstype;
  /** Size of the filesystem itself (may differ from the image after an out-of-band resize). */
  fsBytes: number;
  /** Bytes in use inside the filesystem. */
  usedBytes: number;
  /**
   * Inodes in use, as the filesystem tallies them (ext and xfs; null for btrfs, which keeps no tally in
   * its superblock). Exact for one not mounted; a mounted one writes its tally back only now and then.
   */
  usedInodes: number | null;
  /**
   * An ext3/4 journal (needs_recovery) or a btrfs log tree not replayed yet: unmounted uncleanly, or mounted
   * now. A read-only mount would show the files as they were before it (ext's noload), or write to the
   * device to replay it (btrfs on a writable one).
   */
  needsRecovery: boolean;
}

const EXT_MAGIC_OFFSET = 1080;
const XFS_MAGIC = "XFSB";
const BTRFS_SB = 65536;
const BTRFS_MAGIC = "_BHRfS_M";
const READ_BYTES = BTRFS_SB + 4096;

const EXT_COMPAT_HAS_JOURNAL = 0x4;
const EXT_INCOMPAT_EXT4 = 0x40 | 0x80 | 0x200; // extents, 64bit, flex_bg
const EXT_INCOMPAT_64BIT = 0x80;
const EXT_INCOMPAT_RECOVER = 0x4;

export async function readSuperblock(path: string): Promise<SuperblockInfo | null> {
  const handle = await fs.open(path, "r");
  const buf = Buffer.alloc(READ_BYTES);
  let n: number;
  try {
    ({ bytesRead: n } = await handle.read(buf, 0, READ_BYTES, 0));
  } finally {
    await handle.close();
  }
  return parseSuperblock(buf.subarray(0, n));
}

export function parseSuperblock(buf: Buffer): SuperblockInfo | null {
  if (buf.length >= 2048 && buf.readUInt16LE(EXT_MAGIC_OFFSET) === 0xef53) return parseExt(buf.subarray(1024));
  if (buf.length >= 160 && buf.toString("latin1", 0, 4) === XFS_MAGIC) {
    const blockSize = buf.readUInt32BE(4);
    const blocks = Number(buf.readBigUInt64BE(8));
    const free = Number(buf.readBigUInt64BE(144));
    const inodes = Number(buf.readBigUInt64BE(128)) - Number(buf.readBigUInt64BE(136));
    // Not told here: a read-only mount of a read-only device refuses a dirty xfs log itself.
    return { fstype: "xfs", fsBytes: blocks * blockSize, usedBytes: (blocks - free) * blockSize, usedInodes: inodes, needsRecovery: false };
  }
  if (buf.length >= BTRFS_SB + 128 && buf.toString("latin1", BTRFS_SB + 64, BTRFS_SB + 72) === BTRFS_MAGIC) {
    const total = Number(buf.readBigUInt64LE(BTRFS_SB + 112));
    const used = Number(buf.readBigUInt64LE(BTRFS_SB + 120));
    // A log tree (log_root) left by fsyncs before a crash, which a mount replays.
    return {
      fstype: "btrfs",
      fsBytes: total,
      usedBytes: used,
      usedInodes: null,
      needsRecovery: buf.readBigUInt64LE(BTRFS_SB + 0x60) !== 0n,
    };
  }
  return null;
}

function parseExt(sb: Buffer): SuperblockInfo {
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  const blockSize = 1024 << sb.readUInt32LE(0x18);
  const wide = (incompat & EXT_INCOMPAT_64BIT) !== 0;
  const blocks = sb.readUInt32LE(0x04) + (wide ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  const free = sb.readUInt32LE(0x0c) + (wide ? sb.readUInt32LE(0x158) * 2 ** 32 : 0);
  const fstype: Fstype = incompat & EXT_INCOMPAT_EXT4 ? "ext4" : compat & EXT_COMPAT_HAS_JOURNAL ? "ext3" : "ext2";
  // Data, not metadata: leave out the inode tables and the journal that mkfs allocates up front, so a
  // preview's "copy N MiB file by file" is what a file copy moves.
  const inodeTables = sb.readUInt32LE(0x00) * sb.readUInt16LE(0x58);
  const journal = compat & EXT_COMPAT_HAS_JOURNAL ? sb.readUInt32LE(0x10c + 16 * 4) + sb.readUInt32LE(0x10c + 15 * 4) * 2 ** 32 : 0;
  const used = (blocks - free) * blockSize;
  const usedInodes = sb.readUInt32LE(0x00) - sb.readUInt32LE(0x10);
  return {
    fstype,
    fsBytes: blocks * blockSize,
    usedBytes: Math.max(0, used - inodeTables - journal),
    usedInodes,
    needsRecovery: (incompat & EXT_INCOMPAT_RECOVER) !== 0,
  };
}
