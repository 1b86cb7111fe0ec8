/**
 * koffi bindings to the few libc calls Node has no API for. Nothing else lives here.
 *
 * koffi is required lazily, on first use: the Pulumi dynamic provider serializes its closure into the
 * state, and a module-level koffi handle would either fail to serialize or pin a platform path there.
 * Every call that can wait on the kernel runs through koffi's `.async`, on libuv's thread pool, so the
 * provider's event loop never blocks. koffi cannot run variadic functions asynchronously, hence one fixed
 * prototype per ioctl shape.
 */
import { SyscallError } from "../model/errors";

type AsyncFn = ((...args: unknown[]) => number) & {
  async: (...args: unknown[]) => void;
};

interface Libc {
  koffi: { errno(): number };
  ioctlLong: AsyncFn;
  ioctlPtr: AsyncFn;
  mount: AsyncFn;
  umount2: AsyncFn;
  lseek: AsyncFn;
  copyFileRange: AsyncFn;
  flock: AsyncFn;
  mknod: AsyncFn;
  getxattr: AsyncFn;
  lgetxattr: AsyncFn;
  setxattr: AsyncFn;
  lsetxattr: AsyncFn;
  listxattr: AsyncFn;
  llistxattr: AsyncFn;
}

let cached: Libc | undefined;

function libc(): Libc {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require("koffi");
  const lib = koffi.load("libc.so.6");
  cached = {
    koffi,
    ioctlLong: lib.func("int ioctl(int fd, unsigned long request, long arg)"),
    ioctlPtr: lib.func("int ioctl(int fd, unsigned long request, void *arg)"),
    mount: lib.func("int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)"),
    umount2: lib.func("int umount2(const char *target, int flags)"),
    lseek: lib.func("int64_t lseek(int fd, int64_t offset, int whence)"),
    copyFileRange: lib.func("intptr_t copy_file_range(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)"),
    flock: lib.func("int flock(int fd, int operation)"),
    mknod: lib.func("int mknod(const char *path, unsigned int mode, uint64_t dev)"),
    getxattr: lib.func("intptr_t getxattr(const char *path, const char *name, void *value, size_t size)"),
    lgetxattr: lib.func("intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)"),
    setxattr: lib.func("int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)"),
    lsetxattr: lib.func("int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)"),
    listxattr: lib.func("intptr_t listxattr(const char *path, void *list, size_t size)"),
    llistxattr: lib.func("intptr_t llistxattr(const char *path, void *list, size_t size)"),
  };
  return cached;
}

/** Linux errnos that Node's os.constants.errno leaves out. */
const EXTRA_ERRNOS: Record<number, string> = { 15: "ENOTBLK" };

function errnoName(errno: number): string {
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

/**
 * How an xattr call reaches its inode. "nofollow" (the l* calls) acts on the path's last component itself,
 * a symlink included: for a name inside an open directory (`/proc/<pid>/fd/<dirfd>/<name>`). "fd" (the
 * following calls) is for the magic link of a descriptor the caller holds (`/proc/<pid>/fd/<fd>`), which
 * the kernel resolves to that descriptor's inode, never by name: an l* call there would act on the magic
 * link. Descriptors opened O_PATH serve too (f*xattr refuse them before recent kernels); the caller
 * reaches no symlink's descriptor this way.
 */
export type XattrReach = "nofollow" | "fd";

/**
 * A path as a C string: a file name is bytes, not always UTF-8 (an image's), so a walk carries names as
 * Buffers; those get the NUL that koffi adds to a JS string itself.
 */
const cPath = (p: string | Buffer): string | Buffer => (typeof p === "string" ? p : Buffer.concat([p, Buffer.alloc(1)]));

/** Most ACLs, capabilities and name lists fit; a larger value is asked for its size and read again. */
const XATTR_FIRST_READ = 1024;

/** Calls a size-probing xattr read (getxattr, listxattr) until the buffer holds the whole value. */
async function readSized(name: string, fn: AsyncFn, detail: string, args: unknown[]): Promise<Buffer> {
  // Unzeroed: only the n bytes the kernel wrote are read.
  let buf = Buffer.allocUnsafe(XATTR_FIRST_READ);
  for (;;) {
    try {
      const n = await call(name, fn, detail, ...args, buf, buf.length);
      return buf.subarray(0, n);
    } catch (e) {
      // ERANGE: it grew past the buffer (or was larger from the start): ask its size, then read again.
      if (!(e instanceof SyscallError && e.code === "ERANGE")) throw e;
      buf = Buffer.allocUnsafe(Math.max(buf.length * 2, await call(name, fn, detail, ...args, null, 0)));
    }
  }
}

/** The names of an inode's extended attributes; none where the filesystem has no xattrs (ENOTSUP). */
export async function listXattrs(path: string | Buffer, reach: XattrReach): Promise<string[]> {
  const fn = reach === "fd" ? libc().listxattr : libc().llistxattr;
  try {
    const list = await readSized(reach === "fd" ? "listxattr" : "llistxattr", fn, String(path), [cPath(path)]);
    return list
      .toString("latin1")
      .split("\0")
      .filter((n) => n !== "");
  } catch (e) {
    if (e instanceof SyscallError && (e.code === "ENOTSUP" || e.code === "EOPNOTSUPP")) return [];
    throw e;
  }
}

/** An extended attribute's value; null when the inode has none of that name (ENODATA). */
export async function getXattr(path: string | Buffer, name: string, reach: XattrReach): Promise<Buffer | null> {
  const fn = reach === "fd" ? libc().getxattr : libc().lgetxattr;
  try {
    return await readSized(reach === "fd" ? "getxattr" : "lgetxattr", fn, `${path}, ${name}`, [cPath(path), name]);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENODATA") return null;
    throw e;
  }
}

/** Sets an extended attribute, created or replaced (flags 0). */
export async function setXattr(path: string | Buffer, name: string, value: Buffer, reach: XattrReach): Promise<void> {
  const fn = reach === "fd" ? libc().setxattr : libc().lsetxattr;
  await call(reach === "fd" ? "setxattr" : "lsetxattr", fn, `${path}, ${name}`, cPath(path), name, value, value.length, 0);
}
