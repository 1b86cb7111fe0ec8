/**
 * koffi bindings to the few libc calls Node has no API for. Nothing else lives here.
 *
 * koffi is required lazily, on first use: the Pulumi dynamic provider serializes its closure into the
 * state, and a module-level koffi handle would either fail to serialize or pin a platform path there.
 * Every call that can wait on the kernel runs through koffi's `.async`, on libuv's thread pool, so the
 * provider's event loop never blocks (native/at.ts, a tree walk's calls, is synchronous: it serves only a
 * helper process that does nothing else). koffi cannot run variadic functions asynchronously, hence one fixed
 * prototype per ioctl shape.
 */
import { SyscallError } from "../model/errors";

type AsyncFn = ((...args: unknown[]) => number) & {
  async: (...args: unknown[]) => void;
};

interface Libc {
  koffi: { errno(): number };
  lib: { func(prototype: string): AsyncFn };
  ioctlLong: AsyncFn;
  ioctlPtr: AsyncFn;
  mount: AsyncFn;
  umount2: AsyncFn;
  lseek: AsyncFn;
  copyFileRange: AsyncFn;
  flock: AsyncFn;
  mknod: AsyncFn;
}

let cached: Libc | undefined;

/** The loaded library, shared with native/at.ts, which declares its synchronous calls on it. */
export function libc(): Libc {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require("koffi");
  const lib = koffi.load("libc.so.6");
  cached = {
    koffi,
    lib,
    ioctlLong: lib.func("int ioctl(int fd, unsigned long request, long arg)"),
    ioctlPtr: lib.func("int ioctl(int fd, unsigned long request, void *arg)"),
    mount: lib.func("int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)"),
    umount2: lib.func("int umount2(const char *target, int flags)"),
    lseek: lib.func("int64_t lseek(int fd, int64_t offset, int whence)"),
    copyFileRange: lib.func("intptr_t copy_file_range(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)"),
    flock: lib.func("int flock(int fd, int operation)"),
    mknod: lib.func("int mknod(const char *path, unsigned int mode, uint64_t dev)"),
  };
  return cached;
}

/** Linux errnos that Node's os.constants.errno leaves out. */
const EXTRA_ERRNOS: Record<number, string> = { 15: "ENOTBLK" };

export function errnoName(errno: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const table: Record<string, number> = require("os").constants.errno;
  return Object.keys(table).find((name) => table[name] === errno) ?? EXTRA_ERRNOS[errno] ?? `errno ${errno}`;
}

/** Runs a koffi function on the thread pool; a negative result becomes a SyscallError. */
function call(name: string, fn: AsyncFn, detail: string, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: Error | null, res: number | bigint) => {
      if (err) return reject(err);
      const value = typeof res === "bigint" ? Number(res) : res;
      if (value < 0) {
        const errno = libc().koffi.errno();
        return reject(new SyscallError(name, errno, errnoName(errno), detail));
      }
      resolve(value);
    });
  });
}

export function ioctlLong(fd: number, request: number, arg: number, label: string): Promise<number> {
  return call("ioctl", libc().ioctlLong, `${fd}, ${label}`, fd, request, arg);
}

/** ioctl whose argument is a buffer the kernel reads or fills in. */
export function ioctlBuffer(fd: number, request: number, buf: Buffer, label: string): Promise<number> {
  return call("ioctl", libc().ioctlPtr, `${fd}, ${label}`, fd, request, buf);
}

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): Promise<number> {
  return call("mount", libc().mount, `${source}, ${target}, ${fstype}`, source, target, fstype, flags, data);
}

export function umount2(target: string, flags: number): Promise<number> {
  return call("umount2", libc().umount2, target, target, flags);
}

/** lseek; SEEK_DATA/SEEK_HOLE past the last extent report ENXIO, returned here as null. */
export async function lseek(fd: number, offset: number, whence: number): Promise<number | null> {
  try {
    return await call("lseek", libc().lseek, `${fd}, ${offset}, ${whence}`, fd, offset, whence);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENXIO") return null;
    throw e;
  }
}

/** copy_file_range using and advancing both files' offsets (set them with lseek first). */
export function copyFileRange(fdIn: number, fdOut: number, length: number): Promise<number> {
  return call("copy_file_range", libc().copyFileRange, `${fdIn} -> ${fdOut}, ${length}`, fdIn, null, fdOut, null, length, 0);
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** Non-blocking flock: true when taken, false when another holder has it. Never parks a pool thread. */
export async function tryFlock(fd: number, op: number): Promise<boolean> {
  try {
    await call("flock", libc().flock, `${fd}, ${op}`, fd, op | LOCK_NB);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && (e.code === "EAGAIN" || e.code === "EWOULDBLOCK")) return false;
    throw e;
  }
}

export function mknodBlock(path: string, major: number, minor: number): Promise<number> {
  const S_IFBLK = 0o060000;
  // glibc's makedev encoding for small numbers
  const dev = BigInt((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12));
  return call("mknod", libc().mknod, path, path, S_IFBLK | 0o660, dev);
}
