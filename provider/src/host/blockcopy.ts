/**
 * Copies a block image keeping it sparse: a reflink where the host filesystem shares extents (btrfs,
 * xfs), otherwise only the allocated extents found with SEEK_DATA/SEEK_HOLE. LXC never copies an image
 * ("keep holes! So punt for now"); this is what makes a same-fstype clone cost what it holds, not its size.
 */
import { promises as fs, constants as fsc } from "fs";
import { copyFileRange, ioctlBuffer, lseek } from "../native/libc";
import { CutShort, SyscallError } from "../model/errors";
import { blockDeviceSize, reflink } from "../native/loop";
import { BlockCopyMethod } from "../model/results";
import { ByteProgress } from "../model/progress";

const SEEK_SET = 0;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const BLKZEROOUT = 0x127f;
const CHUNK = 8 * 1024 * 1024;
/** One copy_file_range call at most: small enough that progress moves every few seconds on a slow disk. */
const RANGE_CHUNK = 16 * 1024 * 1024;

export interface BlockCopyResult {
  method: BlockCopyMethod;
  /** Bytes moved (0 for a reflink). */
  bytesCopied: number;
}

/** The allocated extents of `fd` (a whole-range extent where the file type has no SEEK_DATA). */
export async function dataExtents(fd: number, size: number): Promise<Array<[number, number]>> {
  const extents: Array<[number, number]> = [];
  let pos = 0;
  try {
    while (pos < size) {
      const start = await lseek(fd, pos, SEEK_DATA);
      if (start === null || start >= size) break;
      const end = Math.min((await lseek(fd, start, SEEK_HOLE)) ?? size, size);
      extents.push([start, end]);
      pos = end;
    }
  } catch (e) {
    if (e instanceof SyscallError && ["EINVAL", "EOPNOTSUPP"].includes(e.code)) return [[0, size]];
    throw e;
  }
  return extents;
}

/**
 * Copies the first `size` bytes of `src` into `dst`, which must already exist: a fresh regular file (empty,
 * or made at its final length as a hole), or a block device of at least `size` bytes (its ranges the
 * source leaves as holes are zeroed with BLKZEROOUT). A file ends at least `size` bytes long, and a file
 * made longer keeps its length: a block copy makes its target at the final size. A source shorter than
 * `size` is refused before anything is written, never copied cut short. `progress` counts the allocated
 * bytes as they are copied (a reflink counts none: it is done at once).
 */
export async function copyAllocatedBlocks(src: string, dst: string, size: number, progress?: ByteProgress): Promise<BlockCopyResult> {
  const from = await fs.open(src, fsc.O_RDONLY);
  try {
    const to = await fs.open(dst, fsc.O_RDWR);
    try {
      const [srcStat, dstStat] = await Promise.all([from.stat(), to.stat()]);
      const srcLength = srcStat.isBlockDevice() ? await blockDeviceSize(src) : srcStat.size;
      if (srcLength < size) throw new CutShort(src, srcLength, size);
      const dstLength = Math.max(size, dstStat.isFile() ? dstStat.size : 0);
      if (srcStat.isFile() && dstStat.isFile()) {
        try {
          await reflink(from.fd, to.fd);
          // The clone is the whole source: what lies past `size` goes, and the file gets its length back.
          if (srcLength !== size) await to.truncate(size);
          if (dstLength !== size) await to.truncate(dstLength);
          return { method: "reflink", bytesCopied: 0 };
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
        }
      }
      if (dstStat.isFile() && dstStat.size < size) await to.truncate(size);
      const extents = await dataExtents(from.fd, size);
      progress?.total(extents.reduce((sum, [start, end]) => sum + end - start, 0));
      let copied = 0;
      let previousEnd = 0;
      for (const [start, end] of extents) {
        if (dstStat.isBlockDevice()) await zeroRange(to.fd, previousEnd, start);
        copied += await copyRange(from, to, start, end, progress);
        previousEnd = end;
      }
      if (dstStat.isBlockDevice()) await zeroRange(to.fd, previousEnd, size);
      await to.sync();
      return { method: "sparse-copy", bytesCopied: copied };
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}

async function zeroRange(fd: number, start: number, end: number): Promise<void> {
  if (end <= start) return;
  const range = Buffer.alloc(16);
  range.writeBigUInt64LE(BigInt(start), 0);
  range.writeBigUInt64LE(BigInt(end - start), 8);
  await ioctlBuffer(fd, BLKZEROOUT, range, "BLKZEROOUT");
}

/** In-kernel copy where possible, a read/write loop otherwise (block devices, cross-filesystem). */
async function copyRange(from: fs.FileHandle, to: fs.FileHandle, start: number, end: number, progress?: ByteProgress): Promise<number> {
  let pos = start;
  try {
    await lseek(from.fd, start, SEEK_SET);
    await lseek(to.fd, start, SEEK_SET);
    while (pos < end) {
      const n = await copyFileRange(from.fd, to.fd, Math.min(end - pos, RANGE_CHUNK));
      if (n === 0) break;
      pos += n;
      progress?.add(n);
    }
    if (pos >= end) return end - start;
  } catch (e) {
    if (!(e instanceof SyscallError) || !["EXDEV", "EINVAL", "EOPNOTSUPP", "ENOSYS"].includes(e.code)) throw e;
  }
  const buf = Buffer.alloc(CHUNK);
  while (pos < end) {
    const { bytesRead } = await from.read(buf, 0, Math.min(CHUNK, end - pos), pos);
    if (bytesRead === 0) break;
    await writeAll(to, buf.subarray(0, bytesRead), pos);
    pos += bytesRead;
    progress?.add(bytesRead);
  }
  return pos - start;
}

async function writeAll(to: fs.FileHandle, data: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await to.write(data, off, data.length - off, position + off);
    off += bytesWritten;
  }
}
