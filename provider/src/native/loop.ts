/**
 * Loop devices and block-device ioctls, through the kernel's ioctl interface (linux/loop.h, linux/fs.h).
 */
import { promises as fs, constants as fsc } from "fs";
import { ioctlBuffer, ioctlLong, mknodBlock } from "./libc";
import { SyscallError } from "../model/errors";

const LOOP_SET_FD = 0x4c00;
const LOOP_CLR_FD = 0x4c01;
const LOOP_SET_STATUS64 = 0x4c04;
const LOOP_SET_CAPACITY = 0x4c07;
const LOOP_CONFIGURE = 0x4c0a;
const LOOP_CTL_GET_FREE = 0x4c82;
const BLKGETSIZE64 = 0x80081272;
export const FICLONE = 0x40049409;

const LO_FLAGS_READ_ONLY = 1;
const LO_FLAGS_AUTOCLEAR = 4;

const LOOP_INFO64_SIZE = 232;
const LOOP_CONFIG_SIZE = 304;
const INFO_FLAGS_OFFSET = 52;
const INFO_FILE_NAME_OFFSET = 56;
const LOOP_MAJOR = 7;
/** Incus retries this often when another process grabs the free device first. */
const ATTACH_ATTEMPTS = 30;

export interface LoopDevice {
  readonly path: string;
  readonly fd: number;
  /** Closes our handle; with autoclear the kernel detaches once no mount holds the device. */
  close(): Promise<void>;
}

function loopInfo(flags: number, backingFile: string): Buffer {
  const info = Buffer.alloc(LOOP_INFO64_SIZE);
  info.writeUInt32LE(flags, INFO_FLAGS_OFFSET);
  info.write(backingFile.slice(-63), INFO_FILE_NAME_OFFSET, "utf8");
  return info;
}

async function openDevice(n: number, flags: number) {
  const path = `/dev/loop${n}`;
  try {
    return { path, handle: await fs.open(path, flags) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    // No devtmpfs node for a device loop-control just created (seen in containers).
    await mknodBlock(path, LOOP_MAJOR, n).catch(() => undefined);
    return { path, handle: await fs.open(path, flags) };
  }
}

async function bind(deviceFd: number, backingFd: number, flags: number, backingFile: string): Promise<void> {
  const config = Buffer.alloc(LOOP_CONFIG_SIZE);
  config.writeUInt32LE(backingFd, 0);
  loopInfo(flags, backingFile).copy(config, 8);
  try {
    await ioctlBuffer(deviceFd, LOOP_CONFIGURE, config, "LOOP_CONFIGURE");
    return;
  } catch (e) {
    // Kernels before 5.8 lack LOOP_CONFIGURE; anything else is a real failure.
    if (!(e instanceof SyscallError) || !["EINVAL", "ENOTTY"].includes(e.code)) throw e;
  }
  await ioctlLong(deviceFd, LOOP_SET_FD, backingFd, "LOOP_SET_FD");
  try {
    await ioctlBuffer(deviceFd, LOOP_SET_STATUS64, loopInfo(flags, backingFile), "LOOP_SET_STATUS64");
  } catch (e) {
    await ioctlLong(deviceFd, LOOP_CLR_FD, 0, "LOOP_CLR_FD").catch(() => undefined);
    throw e;
  }
}

/**
 * Attaches `backingFile` to a free loop device with autoclear set, so the device goes away by itself
 * once our fd is closed and no mount uses it, even if this process dies.
 */
export async function attachLoop(backingFile: string, opts: { readOnly?: boolean } = {}): Promise<LoopDevice> {
  const openFlags = opts.readOnly ? fsc.O_RDONLY : fsc.O_RDWR;
  const loFlags = LO_FLAGS_AUTOCLEAR | (opts.readOnly ? LO_FLAGS_READ_ONLY : 0);
  const backing = await fs.open(backingFile, openFlags);
  try {
    let lastError: unknown;
    for (let attempt = 0; attempt < ATTACH_ATTEMPTS; attempt++) {
      const control = await fs.open("/dev/loop-control", fsc.O_RDWR);
      let n: number;
      try {
        n = await ioctlLong(control.fd, LOOP_CTL_GET_FREE, 0, "LOOP_CTL_GET_FREE");
      } finally {
        await control.close();
      }
      const { path, handle } = await openDevice(n, openFlags);
      try {
        await bind(handle.fd, backing.fd, loFlags, backingFile);
        return { path, fd: handle.fd, close: () => handle.close() };
      } catch (e) {
        await handle.close();
        // Another process bound the same free device between GET_FREE and our bind: take the next one.
        if (e instanceof SyscallError && e.code === "EBUSY") {
          lastError = e;
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        throw e;
      }
    }
    throw lastError;
  } finally {
    await backing.close();
  }
}

/** Tells an attached loop device that its backing file has grown. */
export async function setLoopCapacity(loop: LoopDevice): Promise<void> {
  await ioctlLong(loop.fd, LOOP_SET_CAPACITY, 0, "LOOP_SET_CAPACITY");
}

/** Size of a block device in bytes (BLKGETSIZE64). */
export async function blockDeviceSize(devicePath: string): Promise<number> {
  const handle = await fs.open(devicePath, fsc.O_RDONLY);
  try {
    const out = Buffer.alloc(8);
    await ioctlBuffer(handle.fd, BLKGETSIZE64, out, "BLKGETSIZE64");
    return Number(out.readBigUInt64LE(0));
  } finally {
    await handle.close();
  }
}

/** Reflinks the whole of `srcFd` into `dstFd` (FICLONE); throws EOPNOTSUPP/EXDEV/EINVAL where unsupported. */
export async function reflink(srcFd: number, dstFd: number): Promise<void> {
  await ioctlLong(dstFd, FICLONE, srcFd, "FICLONE");
}

/** The loop devices whose backing file is `file` (by path, as the kernel reports it in sysfs). */
export async function loopsBackedBy(file: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir("/sys/block").catch(() => [] as string[])) {
    if (!entry.startsWith("loop")) continue;
    const backing = await fs.readFile(`/sys/block/${entry}/loop/backing_file`, "utf8").catch(() => "");
    const name = backing.trim().replace(/ \(deleted\)$/, "");
    if (name === file) found.push(`/dev/${entry}`);
  }
  return found;
}
