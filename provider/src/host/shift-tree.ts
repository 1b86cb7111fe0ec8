/**
 * The host-side walk of an idmap shift: every inode of a tree gets the owner, POSIX ACLs and file
 * capability that a transform the caller gives (the map's arithmetic lives elsewhere) makes of its own.
 *
 * A rootfs is a stranger's tree, and a name in it can be swapped between two system calls, so nothing
 * here is reached by a path from the root. As fts does, each directory is opened O_DIRECTORY | O_NOFOLLOW
 * relative to the one before (openat), the root included, read with getdents64, and every entry is
 * reached by its name in that open directory with calls that never follow its last component (statx and
 * fchownat with AT_SYMLINK_NOFOLLOW; llistxattr with the directory made the working directory by fchdir,
 * which, like a descriptor, holds the directory and not its name): a symlink is chowned itself, never
 * followed, so no call leaves the directory it is made in. An inode that needs more
 * than one write (a setuid file, whose bits the chown clears; one with a capability, which the kernel drops
 * on chown; one with ACLs) is first pinned: opened O_PATH | O_NOFOLLOW (which opens no device and follows
 * nothing), checked to be the inode statx saw, and then read and written only through its descriptor, so
 * all its steps land on that inode. Directories are pinned by the descriptor the walk holds anyway. Another
 * mount below, of another filesystem or a bind mount of this one, is never entered; it is reported. An
 * inode with several names is shifted once (a second shift of one with an overlapping map would move it
 * twice).
 *
 * Synchronous (native/at.ts says why), and it moves the process's working directory while it runs
 * (restored after): run it in a helper process, never in the provider's own.
 * The walk assumes nobody else writes the tree while it runs (the container is stopped and its lock
 * held): a swap can make it stop with Unsafe, never act outside the tree.
 */
import { createHash } from "crypto";
import { chmodSync, closeSync, constants as fsc } from "fs";
import { SyscallError, Unsafe } from "../model/errors";
import { ACL_XATTRS, CAPABILITY_XATTR } from "../model/xattr-ids";
import {
  AT_FDCWD,
  AT_NO_AUTOMOUNT,
  AT_SYMLINK_NOFOLLOW,
  changeDirectory,
  chownAt,
  DIRENT_NAME,
  DIRENT_RECLEN,
  getXattr,
  listXattrs,
  nameOf,
  O_CLOEXEC,
  O_PATH,
  openAt,
  readDirents,
  removeXattr,
  setXattr,
  Statx,
  statxAt,
} from "../native/at";
import { viaFd } from "./held";

export type InodeKind = "file" | "directory" | "symlink" | "char" | "block" | "fifo" | "socket";

const KINDS: Record<number, InodeKind> = {
  [fsc.S_IFREG]: "file",
  [fsc.S_IFDIR]: "directory",
  [fsc.S_IFLNK]: "symlink",
  [fsc.S_IFCHR]: "char",
  [fsc.S_IFBLK]: "block",
  [fsc.S_IFIFO]: "fifo",
  [fsc.S_IFSOCK]: "socket",
};

/** What a shift makes of one inode's ids and id-bearing xattrs; pure functions of the old value. */
export interface InodeShift {
  /** The new on-disk owner for an old one. */
  uid(hostId: number): number;
  gid(hostId: number): number;
  /** Whether an old id goes to the overflow id (a map leaves it out): its setuid or setgid bit then stays off. */
  isLost?(kind: "uid" | "gid", hostId: number): boolean;
  /** A rewrite of `system.posix_acl_access` / `system.posix_acl_default`; without it ACLs stay as they are. */
  acl?(value: Buffer): Buffer;
  /**
   * A rewrite of `security.capability`; without it the capability is written back as it was after the
   * chown. null: the capability goes (the chown dropped it; without one, it is removed).
   */
  capability?(value: Buffer): Buffer | null;
  /**
   * Kinds of inode left wholly as they are, owner and ACLs: a container that binds the host's /dev (as
   * LXC's unprivileged ones do) keeps its rootfs's device nodes with `["char", "block"]`. None by default.
   * A kept directory's entries are still walked.
   */
  keep?: readonly InodeKind[];
  /**
   * Told of every inode but a directory that has a setuid or setgid bit or a capability, with its key
   * (its subvolume's, see Level.vol, and Statx.key) and both: what a chown destroys, for a survey to record before a shift in place writes.
   */
  remember?(key: string, mode: number, capability: Buffer | null): void;
  /**
   * The mode and capability the inode of this key has once shifted, which the walk sets after its chown;
   * undefined for any other. A shift in place killed between a chown and what it restores after it
   * (setuid bits, the capability the kernel drops) gets them back so on its next run, whose chown is then
   * done already.
   */
  restore?(key: string): Special | undefined;
  /**
   * A preview's survey: it writes nothing (its transform keeps every id), and may read a tree in use (a
   * running container's), so an entry removed under the walk is left out rather than stopping it.
   */
  survey?: boolean;
}

/** What a chown clears of an inode: its setuid and setgid bits, its capability. */
export interface Special {
  mode: number;
  capability: Buffer | null;
}

export interface ShiftCounts {
  /** Inodes visited, each once (the root included). */
  inodes: number;
  /** Inodes whose owner, ACL or capability was written. */
  changed: number;
  /** Inodes of a kind the shift keeps, left as they were. */
  kept: number;
  /** Names of an inode already visited (hard links), skipped. */
  hardLinks: number;
  /** Setuid, setgid or sticky bits set again after a chown cleared them. */
  modesRestored: number;
  /** ACL values (access or default) rewritten. */
  acls: number;
  /** Capabilities written (rewritten, or written back after the chown dropped them). */
  capabilities: number;
  /** Bytes of xattr values written. */
  xattrBytes: number;
  /** Paths, relative to the root, where another mount is: not entered, nothing in them changed. */
  otherFilesystems: string[];
}

/** Told the inodes done so far: at most once a PROGRESS_EVERY_MS while the walk runs, and once at its end. */
export type ShiftProgress = (inodes: number) => void;

/** Often enough for the helper's progress lines, which come every few seconds. */
export const PROGRESS_EVERY_MS = 500;
/** How many inodes between two looks at the clock: a cold inode costs a disk read, a warm one a microsecond. */
const CLOCK_EVERY = 64;

const [ACL_ACCESS, ACL_DEFAULT] = ACL_XATTRS;
const CAPABILITY = CAPABILITY_XATTR;

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW | O_CLOEXEC;
const PIN_FLAGS = O_PATH | fsc.O_NOFOLLOW | O_CLOEXEC;
const ENTRY_STAT = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT;
/** Setuid and setgid: what a chown may clear. */
const CLEARED_BY_CHOWN = 0o6000;
const S_IFMT = 0o170000;
/** getdents64's buffer, one a depth: about 1,000 names of a directory a call. */
const DIRENTS_BYTES = 32 * 1024;

type Ids = { uid: number; gid: number };

/** An open directory being read: its entries are in `buf` from `pos` to `end`. */
interface Level {
  fd: number;
  rel: string;
  /**
   * Which subvolume (a btrfs one nested in the tree: another device number under the same mount) the
   * directory is in, as part of an inode's key: a snapshot's inodes have its origin's numbers, sizes and
   * mtimes. The hash of the subvolume's path from the root; "0" for the root's own.
   */
  vol: string;
  dev: string;
  buf: Buffer;
  /** `buf` in 16-bit words, for d_reclen. */
  u16: Uint16Array;
  pos: number;
  end: number;
}

const DOT = 0x2e;

const devOf = (st: Statx) => `${st.devMajor}:${st.devMinor}`;

const relOf = (parent: string, name: string) => (parent === "" ? name : `${parent}/${name}`);

const moves = (st: Statx, ids: Ids) => ids.uid !== st.uid || ids.gid !== st.gid;

class Walk {
  readonly counts: ShiftCounts = {
    inodes: 0,
    changed: 0,
    kept: 0,
    hardLinks: 0,
    modesRestored: 0,
    acls: 0,
    capabilities: 0,
    xattrBytes: 0,
    otherFilesystems: [],
  };
  /** The entry at hand; `pin` is its descriptor's, compared with it. */
  private readonly st = new Statx();
  private readonly pin = new Statx();
  private readonly top = new Statx();
  private readonly seen = new Set<string>();
  private readonly keep: Set<number>;
  private readonly buffers: Array<{ buf: Buffer; u16: Uint16Array }> = [];
  /** The entry's name with its NUL (a name is at most 255 bytes), as every call takes it. */
  private readonly name = Buffer.alloc(256);
  /** The directory that is the working directory now; -1: none of the walk's. */
  private cwd = -1;
  private lastReport = Date.now();

  constructor(
    private readonly root: string,
    private readonly t: InodeShift,
    private readonly onProgress: ShiftProgress | undefined,
  ) {
    this.keep = new Set(
      Object.keys(KINDS)
        .filter((type) => t.keep?.includes(KINDS[Number(type)]))
        .map(Number),
    );
  }

  private changedUnder(rel: string, what: string): Unsafe {
    return new Unsafe(
      `${this.root}/${rel} ${what} while the owners of ${this.root} were shifted: stopped; nothing outside it was touched.`,
    );
  }

  /**
   * Walks the open root directory `rootFd`, depth first, one open directory a level (the caller closes the
   * root), with the working directory moved to the directory read (the caller restores it).
   */
  run(rootFd: number): void {
    statxAt(rootFd, null, 0, this.top);
    this.count();
    const stack: Level[] = [this.level(rootFd, "", 0, "0", devOf(this.top))];
    try {
      while (stack.length > 0) {
        const level = stack[stack.length - 1];
        if (level.pos >= level.end) {
          level.pos = 0;
          level.end = readDirents(level.fd, level.buf);
          if (level.end === 0) {
            stack.pop();
            this.close(level.fd, rootFd);
            continue;
          }
        }
        if (!this.takeName(level)) continue;
        try {
          const sub = this.entry(level);
          if (sub !== null) stack.push(this.level(sub.fd, sub.rel, stack.length, sub.vol, sub.dev));
        } catch (e) {
          // A survey writes nothing, so a file a running container removed meanwhile is only left out.
          if (this.t.survey && e instanceof SyscallError && e.code === "ENOENT") continue;
          throw this.explain(e, relOf(level.rel, nameOf(this.name)));
        }
      }
    } finally {
      for (const level of stack) this.close(level.fd, rootFd);
    }
    // The root last: its owner then says a walk finished, which is what a shift's next run reads it for.
    this.st.buf.set(this.top.buf);
    this.directory(rootFd, this.dirIdsOf(this.st));
    this.onProgress?.(this.counts.inodes);
  }

  private level(fd: number, rel: string, depth: number, vol: string, dev: string): Level {
    if (!this.buffers[depth]) {
      const buf = Buffer.alloc(DIRENTS_BYTES);
      this.buffers[depth] = { buf, u16: new Uint16Array(buf.buffer, buf.byteOffset, DIRENTS_BYTES / 2) };
    }
    return { fd, rel, vol, dev, ...this.buffers[depth], pos: 0, end: 0 };
  }

  /**
   * Copies the name of the record at `level.pos` into `this.name` (NUL-terminated) and moves past the
   * record; false for "." and "..". Byte by byte: names are short, and a loop is cheaper than Buffer's
   * methods before the JIT has compiled the walk.
   */
  private takeName(level: Level): boolean {
    const { buf, pos } = level;
    level.pos += level.u16[(pos + DIRENT_RECLEN) >> 1];
    const name = this.name;
    let i = 0;
    for (let c = buf[pos + DIRENT_NAME]; c !== 0; c = buf[pos + DIRENT_NAME + i]) name[i++] = c;
    name[i] = 0;
    return !(name[0] === DOT && (i === 1 || (i === 2 && name[1] === DOT)));
  }

  /** Closes a directory the walk opened; its number, reused by a later open, no longer says where the cwd is. */
  private close(fd: number, rootFd: number): void {
    if (this.cwd === fd) this.cwd = -1;
    if (fd !== rootFd) closeSync(fd);
  }

  /** A name that vanished or changed kind under the walk says so; anything else is thrown as it is. */
  private explain(e: unknown, rel: string): unknown {
    if (!(e instanceof SyscallError)) return e;
    if (e.code === "ENOENT") return this.changedUnder(rel, "was removed");
    if (e.syscall === "openat" && (e.code === "ELOOP" || e.code === "ENOTDIR")) {
      return this.changedUnder(rel, "was replaced by something that is not a directory");
    }
    return e;
  }

  /** Shifts the entry `this.name` of `level`; a directory is opened and returned, for the walk to enter. */
  private entry(level: Level): { fd: number; rel: string; vol: string; dev: string } | null {
    const name = this.name;
    const st = this.st;
    statxAt(level.fd, name, ENTRY_STAT, st);
    if (!st.sameMount(this.top)) {
      this.counts.otherFilesystems.push(relOf(level.rel, nameOf(name)));
      return null;
    }
    const type = st.mode & S_IFMT;
    if (type === fsc.S_IFDIR) {
      const rel = relOf(level.rel, nameOf(name));
      this.count();
      // The ids are asked for before the open: a transform that swaps the directory meanwhile is the race tests' hook.
      const ids = this.dirIdsOf(st);
      const fd = this.openDirectory(level.fd, name, rel);
      try {
        this.directory(fd, ids);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
      const dev = devOf(st);
      const vol = dev === level.dev ? level.vol : createHash("sha256").update(rel).digest("hex").slice(0, 16);
      return { fd, rel, vol, dev };
    }
    if (st.nlink > 1) {
      // By device and inode: a nested subvolume of the same mount is another device with its own numbers.
      const key = `${st.devMajor}:${st.devMinor}:${st.ino}`;
      if (this.seen.has(key)) {
        this.counts.hardLinks++;
        return null;
      }
      this.seen.add(key);
    }
    this.count();
    if (this.keep.has(type)) {
      this.counts.kept++;
      return null;
    }
    const ids = this.idsOf(st);
    // A symlink carries no POSIX ACL (the VFS refuses one), and a capability on it would mean nothing (exec
    // follows it): its owner is all there is. Devices, FIFOs and sockets can carry an access ACL (ext4,
    // xfs and btrfs store one), so they are read like files.
    if (type === fsc.S_IFLNK) return this.chownOnly(level.fd, name, st, ids);
    if (this.cwd !== level.fd) {
      changeDirectory(level.fd);
      this.cwd = level.fd;
    }
    const xattrs = listXattrs(name, "nofollow");
    const key = this.t.restore || this.t.remember ? `${level.vol}/${st.key}` : "";
    const restore = this.t.restore?.(key);
    const pin =
      xattrs.includes(ACL_ACCESS) ||
      xattrs.includes(CAPABILITY) ||
      restore !== undefined ||
      ((moves(st, ids) || this.t.remember !== undefined) && (st.mode & CLEARED_BY_CHOWN) !== 0);
    if (!pin) return this.chownOnly(level.fd, name, st, ids);
    // O_PATH opens no device, waits on no FIFO, and with O_NOFOLLOW pins a symlink swapped in (then refused below).
    const pinned = openAt(level.fd, name, PIN_FLAGS);
    try {
      statxAt(pinned, null, 0, this.pin);
      if (!this.pin.sameInode(st)) throw this.changedUnder(relOf(level.rel, nameOf(name)), "was replaced");
      this.shiftPinned(pinned, st, xattrs, ids, false, { key, restore });
    } finally {
      closeSync(pinned);
    }
    return null;
  }

  /** Opens the directory entry `name` that `this.st` describes, and checks it is that directory still. */
  private openDirectory(dirFd: number, name: Buffer, rel: string): number {
    const fd = openAt(dirFd, name, DIR_FLAGS);
    try {
      statxAt(fd, null, 0, this.pin);
      if (!this.pin.sameInode(this.st)) throw this.changedUnder(rel, "was replaced");
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return fd;
  }

  /** A directory's new ids; null when directories are kept. */
  private dirIdsOf(st: Statx): Ids | null {
    return this.keep.has(fsc.S_IFDIR) ? null : this.idsOf(st);
  }

  /** Shifts the open directory `fd` itself (this.st describes it), before its entries; `ids` null: kept. */
  private directory(fd: number, ids: Ids | null): void {
    if (ids === null) {
      this.counts.kept++;
      return;
    }
    this.shiftPinned(fd, this.st, listXattrs(viaFd(fd), "fd"), ids, true);
  }

  private count(): void {
    if (++this.counts.inodes % CLOCK_EVERY !== 0 || !this.onProgress) return;
    const now = Date.now();
    if (now - this.lastReport < PROGRESS_EVERY_MS) return;
    this.lastReport = now;
    this.onProgress(this.counts.inodes);
  }

  private idsOf(st: Statx): Ids {
    return { uid: this.t.uid(st.uid), gid: this.t.gid(st.gid) };
  }

  /** fchownat of an entry by name in its open directory, never following it; none when the owner stays. */
  private chownOnly(dirFd: number, name: Buffer, st: Statx, ids: Ids): null {
    if (moves(st, ids)) {
      chownAt(dirFd, name, ids.uid, ids.gid, AT_SYMLINK_NOFOLLOW);
      this.counts.changed++;
    }
    return null;
  }

  /**
   * Shifts the inode of descriptor `fd` (a directory's, or an O_PATH pin): fchownat on the descriptor
   * itself, and the rest through its magic link (resolved by the kernel to that descriptor's inode, never
   * by name; so the following calls, chmod, getxattr, setxattr). What the chown destroys is read before it
   * and written after it.
   */
  private shiftPinned(
    fd: number,
    st: Statx,
    names: readonly string[],
    ids: Ids,
    isDir: boolean,
    { key, restore }: { key: string; restore?: Special } = { key: "" },
  ): void {
    const self = viaFd(fd);
    const mode = st.mode & 0o7777;
    const moved = moves(st, ids);
    const acls: Array<[string, Buffer]> = [];
    for (const name of isDir ? [ACL_ACCESS, ACL_DEFAULT] : [ACL_ACCESS]) {
      const value = names.includes(name) ? getXattr(self, name) : null;
      if (value) acls.push([name, value]);
    }
    const capability = !isDir && names.includes(CAPABILITY) ? getXattr(self, CAPABILITY) : null;
    if (!isDir && ((mode & CLEARED_BY_CHOWN) !== 0 || capability)) this.t.remember?.(key, mode, capability);
    let changed = false;
    if (moved) {
      chownAt(fd, null, ids.uid, ids.gid, 0);
      changed = true;
      // Not on directories, and setgid only with group execute: chmod only when the chown did clear a bit.
      // A bit whose id went to the overflow id stays off: it would run as, or share, an id nobody chose.
      if ((mode & CLEARED_BY_CHOWN) !== 0) {
        const wanted = mode & ~(this.t.isLost?.("uid", st.uid) ? 0o4000 : 0) & ~(this.t.isLost?.("gid", st.gid) ? 0o2000 : 0);
        statxAt(fd, null, 0, this.pin);
        if ((this.pin.mode & 0o7777) !== wanted) {
          chmodSync(self, wanted);
          if (wanted === mode) this.counts.modesRestored++;
        }
      }
    }
    for (const [name, value] of acls) {
      const shifted = this.t.acl ? this.t.acl(value) : value;
      if (shifted.equals(value)) continue;
      setXattr(self, name, shifted);
      this.counts.acls++;
      this.counts.xattrBytes += shifted.length;
      changed = true;
    }
    if (capability) {
      const shifted = this.t.capability ? this.t.capability(capability) : capability;
      if (shifted === null) {
        if (!moved) removeXattr(self, CAPABILITY);
        changed = true;
      } else if (changed || !shifted.equals(capability)) {
        // The chown dropped it: it is written even when the rewrite left it as it was.
        setXattr(self, CAPABILITY, shifted);
        this.counts.capabilities++;
        this.counts.xattrBytes += shifted.length;
        changed = true;
      }
    }
    if (restore && this.restored(fd, restore)) changed = true;
    if (changed) this.counts.changed++;
  }

  /** Gives the pinned inode `fd` the mode and capability it must have once shifted; whether it wrote. */
  private restored(fd: number, { mode, capability }: Special): boolean {
    const self = viaFd(fd);
    let wrote = false;
    statxAt(fd, null, 0, this.pin);
    if ((this.pin.mode & 0o7777) !== mode) {
      chmodSync(self, mode);
      this.counts.modesRestored++;
      wrote = true;
    }
    const now = capability ? getXattr(self, CAPABILITY) : null;
    if (capability && !now?.equals(capability)) {
      setXattr(self, CAPABILITY, capability);
      this.counts.capabilities++;
      this.counts.xattrBytes += capability.length;
      wrote = true;
    }
    return wrote;
  }
}

/**
 * Rewrites the owners of every inode of the tree at `root` (the root included) by `t`: numeric owner and
 * group, POSIX ACL entries (access on every inode, default on directories) and `security.capability`;
 * setuid and setgid bits survive the chown. Device nodes, FIFOs and sockets are shifted like anything else
 * (unless `t.keep` names their kind) and never opened. `root` itself must be a directory and no symlink;
 * give a path reached through a held directory. Blocks until done: run it in a helper process.
 */
export function shiftTreeSync(root: string, t: InodeShift, onProgress?: ShiftProgress): ShiftCounts {
  let fd: number;
  try {
    fd = openAt(AT_FDCWD, root, DIR_FLAGS);
  } catch (e) {
    if (e instanceof SyscallError && (e.code === "ELOOP" || e.code === "ENOTDIR")) {
      throw new Unsafe(`refusing to shift ${root}: it is not a directory (a symbolic link?)`);
    }
    throw e;
  }
  let home = -1;
  try {
    home = openAt(AT_FDCWD, ".", O_PATH | fsc.O_DIRECTORY | O_CLOEXEC);
    const walk = new Walk(root, t, onProgress);
    try {
      walk.run(fd);
    } finally {
      changeDirectory(home);
    }
    walk.counts.otherFilesystems.sort();
    return walk.counts;
  } finally {
    if (home !== -1) closeSync(home);
    closeSync(fd);
  }
}
