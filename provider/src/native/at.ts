/**
 * Synchronous bindings for a tree walk done the way fts does it: every call relative to a directory held
 * open (openat, statx, fchownat, getdents64), names as the bytes the directory holds, plus the xattr calls
 * an idmap shift needs. Synchronous on purpose, and so only for a process that does nothing else meanwhile
 * (the isolated helper, one process a step): a walk is nothing but short system calls, and a round trip
 * through libuv's pool for each made a shift 14 times slower than `chown -R`. Never call these from the
 * provider's own process: each blocks its event loop.
 *
 * struct stat differs between x86_64 and arm64; struct statx is one layout everywhere, so it is the one read.
 */
import { SyscallError } from "../model/errors";
import { errnoName, libc } from "./libc";

type SyncFn = (...args: unknown[]) => number | bigint;

interface At {
  errno(): number;
  openat: SyncFn;
  fchdir: SyncFn;
  statx: SyncFn;
  fchownat: SyncFn;
  getdents64: SyncFn;
  getxattr: SyncFn;
  setxattr: SyncFn;
  removexattr: SyncFn;
  listxattr: SyncFn;
  llistxattr: SyncFn;
}

let cached: At | undefined;

function at(): At {
  if (cached) return cached;
  const { koffi, lib } = libc();
  // Names are `const char *`: koffi passes a Buffer's bytes as they are (a NUL ends them), a string as UTF-8.
  cached = {
    errno: () => koffi.errno(),
    // openat is variadic for its mode, read only with O_CREAT or O_TMPFILE, which no caller passes.
    openat: lib.func("int openat(int dirfd, const char *path, int flags)"),
    fchdir: lib.func("int fchdir(int fd)"),
    statx: lib.func("int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)"),
    fchownat: lib.func("int fchownat(int dirfd, const char *path, unsigned int uid, unsigned int gid, int flags)"),
    getdents64: lib.func("intptr_t getdents64(int fd, void *buf, size_t count)"),
    getxattr: lib.func("intptr_t getxattr(const char *path, const char *name, void *value, size_t size)"),
    setxattr: lib.func("int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)"),
    removexattr: lib.func("int removexattr(const char *path, const char *name)"),
    listxattr: lib.func("intptr_t listxattr(const char *path, void *list, size_t size)"),
    llistxattr: lib.func("intptr_t llistxattr(const char *path, void *list, size_t size)"),
  };
  return cached;
}

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
/** Linux's O_PATH and O_CLOEXEC (the same on x86_64 and arm64), which Node's fs.constants leaves out. */
export const O_PATH = 0o10000000;
export const O_CLOEXEC = 0o2000000;

/** A name for messages: bytes up to the NUL, as UTF-8 where they are. */
export const nameOf = (name: Buffer | string): string => {
  if (typeof name === "string") return name;
  const end = name.indexOf(0);
  return name.toString("utf8", 0, end < 0 ? name.length : end);
};

/** The failure of the call just made (its errno, unless given), with its detail built only now. */
function failed(syscall: string, detail: () => string, errno = at().errno()): SyscallError {
  return new SyscallError(syscall, errno, errnoName(errno), detail());
}

/** An empty name for the *at calls that act on the descriptor itself (AT_EMPTY_PATH). */
const EMPTY = Buffer.alloc(1);

/** openat; `name` is NUL-terminated when it is a Buffer. Returns the descriptor. */
export function openAt(dirFd: number, name: Buffer | string, flags: number): number {
  const fd = at().openat(dirFd, name, flags) as number;
  if (fd < 0) throw failed("openat", () => `${dirFd}, ${nameOf(name)}`);
  return fd;
}

// struct statx (include/uapi/linux/stat.h), in the machine's own byte order: the indexes, in 32-bit words
// (stx_mode: in 16-bit ones), of the fields read.
const STX_MASK = 0;
const STX_NLINK = 4;
const STX_UID = 5;
const STX_GID = 6;
const STX_MODE16 = 14;
const STX_INO = 8;
const STX_SIZE = 10;
const STX_MTIME = 28;
const STX_DEV = 34;
const STX_MNT_ID = 36;
const STATX_SIZE = 256;
/** STATX_TYPE, MODE, NLINK, UID, GID, INO, and SIZE and MTIME (an inode's key: inodeKey). */
const STATX_FIELDS = 0x11f | 0x200 | 0x40;
const STATX_MNT_ID = 0x1000;

/**
 * One statx result, read in place through typed arrays (an element read is far cheaper than a Buffer
 * method, most of all before the JIT has compiled the walk): a walk reuses one for every entry.
 */
export class Statx {
  readonly buf = Buffer.alloc(STATX_SIZE);
  private readonly u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, STATX_SIZE / 4);
  private readonly u16 = new Uint16Array(this.buf.buffer, this.buf.byteOffset, STATX_SIZE / 2);
  get mode(): number {
    return this.u16[STX_MODE16];
  }
  get uid(): number {
    return this.u32[STX_UID];
  }
  get gid(): number {
    return this.u32[STX_GID];
  }
  get nlink(): number {
    return this.u32[STX_NLINK];
  }
  get ino(): bigint {
    return (BigInt(this.u32[STX_INO + 1]) << 32n) | BigInt(this.u32[STX_INO]);
  }
  /**
   * The inode as a string that stays the same across mounts and chowns: its number, size and modification
   * time (a chown, chmod or setxattr changes only its ctime), where the device number does not (a loop
   * device is another each time, a btrfs subvolume's is given at mount).
   */
  get key(): string {
    const u = this.u32;
    // The size unsigned, the mtime's seconds signed (a time before 1970).
    const size = u[STX_SIZE + 1] * 2 ** 32 + u[STX_SIZE];
    const seconds = (u[STX_MTIME + 1] | 0) * 2 ** 32 + u[STX_MTIME];
    return `${this.ino}:${size}:${seconds}.${u[STX_MTIME + 2]}`;
  }
  get devMajor(): number {
    return this.u32[STX_DEV];
  }
  get devMinor(): number {
    return this.u32[STX_DEV + 1];
  }
  /** Same filesystem, same inode number, same type: the inode another statx saw. */
  sameInode(o: Statx): boolean {
    const a = this.u32;
    const b = o.u32;
    return a[STX_INO] === b[STX_INO] && a[STX_INO + 1] === b[STX_INO + 1] && this.sameDevice(o) && ((this.mode ^ o.mode) & 0o170000) === 0;
  }
  /**
   * Reached through the same mount as `o`. The mount id (Linux 5.8+, compared where the kernel gave both)
   * tells a bind mount of the same filesystem, which the device number cannot, and keeps a nested btrfs
   * subvolume (its own device number, the same mount) inside; without it, the device number decides.
   */
  sameMount(o: Statx): boolean {
    const a = this.u32;
    const b = o.u32;
    if ((a[STX_MASK] & b[STX_MASK] & STATX_MNT_ID) === 0) return this.sameDevice(o);
    return a[STX_MNT_ID] === b[STX_MNT_ID] && a[STX_MNT_ID + 1] === b[STX_MNT_ID + 1];
  }
  private sameDevice(o: Statx): boolean {
    return this.u32[STX_DEV] === o.u32[STX_DEV] && this.u32[STX_DEV + 1] === o.u32[STX_DEV + 1];
  }
}

/** statx of `name` in `dirFd` (flags AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH with an empty name, ...) into `out`. */
export function statxAt(dirFd: number, name: Buffer | string | null, flags: number, out: Statx): void {
  const r = at().statx(dirFd, name ?? EMPTY, name === null ? flags | AT_EMPTY_PATH : flags, STATX_FIELDS | STATX_MNT_ID, out.buf);
  if (r < 0) throw failed("statx", () => `${dirFd}, ${name === null ? '""' : nameOf(name)}`);
}

/** fchownat; a null name is the descriptor's own inode (AT_EMPTY_PATH, which an O_PATH descriptor allows). */
export function chownAt(dirFd: number, name: Buffer | string | null, uid: number, gid: number, flags: number): void {
  const r = at().fchownat(dirFd, name ?? EMPTY, uid, gid, name === null ? flags | AT_EMPTY_PATH : flags);
  if (r < 0) throw failed("fchownat", () => `${dirFd}, ${name === null ? '""' : nameOf(name)}, ${uid}, ${gid}`);
}

/**
 * Makes the open directory `fd` the process's working directory, which a relative name is then looked up
 * in: the one way to give the path-only xattr calls a name inside an open directory without a longer
 * lookup through /proc (a third of a stat's cost more). Process-wide: only for a process doing nothing else.
 */
export function changeDirectory(fd: number): void {
  if ((at().fchdir(fd) as number) < 0) throw failed("fchdir", () => String(fd));
}

/** getdents64 into `buf`: the bytes of whole linux_dirent64 records read, 0 at the end. */
export function readDirents(fd: number, buf: Buffer): number {
  const n = Number(at().getdents64(fd, buf, buf.length));
  if (n < 0) throw failed("getdents64", () => String(fd));
  return n;
}

// struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, then d_name, NUL-terminated and
// padded with NULs to the record's end (records are 8-byte aligned).
export const DIRENT_RECLEN = 16;
export const DIRENT_NAME = 19;

/**
 * How an xattr call reaches its inode. "nofollow" (the l* calls) acts on the path's last component itself,
 * a symlink included: for a name inside an open directory (relative, in the working directory). "fd" (the
 * following calls) is for the magic link of a descriptor the caller holds (`/proc/<pid>/fd/<fd>`), which
 * the kernel resolves to that descriptor's inode, never by name: an l* call there would act on the magic
 * link. Descriptors opened O_PATH serve too (f*xattr refuse them before recent kernels).
 */
export type XattrReach = "nofollow" | "fd";

/** Most ACLs, capabilities and name lists fit; a larger value is asked for its size and read again. */
let scratch = Buffer.allocUnsafe(1024);

const NONE: readonly string[] = [];

/**
 * Calls a size-probing xattr read (getxattr, listxattr: `fn(path, [name,] buf, size)`) until `scratch`
 * holds it all; its length, or -errno. No array is built on the way: a walk makes one call an inode.
 */
function readSized(fn: SyncFn, path: Buffer | string, name: string | null): number {
  for (;;) {
    const n = Number(name === null ? fn(path, scratch, scratch.length) : fn(path, name, scratch, scratch.length));
    if (n >= 0) return n;
    const errno = at().errno();
    // ERANGE: larger than the buffer (or it grew meanwhile): ask its size, then read again.
    if (errno !== ERANGE) return -errno;
    const size = Number(name === null ? fn(path, null, 0) : fn(path, name, null, 0));
    scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, size));
  }
}

const ERANGE = 34;
const ENODATA = 61;
const EOPNOTSUPP = 95;

/** The names of an inode's extended attributes; none where the filesystem has no xattrs (EOPNOTSUPP). */
export function listXattrs(path: Buffer | string, reach: XattrReach): readonly string[] {
  const n = readSized(reach === "fd" ? at().listxattr : at().llistxattr, path, null);
  if (n === 0 || n === -EOPNOTSUPP) return NONE;
  if (n < 0) throw failed(reach === "fd" ? "listxattr" : "llistxattr", () => nameOf(path), -n);
  return scratch
    .toString("latin1", 0, n)
    .split("\0")
    .filter((name) => name !== "");
}

/** An extended attribute's value through a descriptor's magic link; null when it has none of that name. */
export function getXattr(path: string, name: string): Buffer | null {
  const n = readSized(at().getxattr, path, name);
  if (n === -ENODATA) return null;
  if (n < 0) throw failed("getxattr", () => `${path}, ${name}`, -n);
  return Buffer.from(scratch.subarray(0, n));
}

/** Sets an extended attribute through a descriptor's magic link, created or replaced (flags 0). */
export function setXattr(path: string, name: string, value: Buffer): void {
  if (at().setxattr(path, name, value, value.length, 0) < 0) throw failed("setxattr", () => `${path}, ${name}`);
}

/** Removes an extended attribute through a descriptor's magic link. */
export function removeXattr(path: string, name: string): void {
  if (at().removexattr(path, name) < 0) throw failed("removexattr", () => `${path}, ${name}`);
}
