/**
 * The host-side walk of an idmap shift: every inode of a tree gets the owner, POSIX ACLs and file
 * capability that a transform the caller gives (the map's arithmetic lives elsewhere) makes of its own.
 *
 * A rootfs is a stranger's tree, and a name in it can be swapped between two system calls, so nothing
 * here is reached by a path from the root. Each directory is opened O_DIRECTORY | O_NOFOLLOW from the one
 * before (through `/proc/<pid>/fd/<parent>/<name>`, openat's equivalent), the root included, and every
 * entry is reached as `/proc/<pid>/fd/<dir>/<name>` with calls that never follow its last component
 * (lstat, lchown, llistxattr): a symlink is chowned itself, never followed, so no call leaves the
 * directory it is made in. An inode that needs more than one write (a setuid file, whose bits the chown
 * clears; one with a capability, which the kernel drops on chown; one with ACLs) is first pinned: opened
 * O_PATH | O_NOFOLLOW (which opens no device and follows nothing), checked to be the inode lstat saw, and
 * then read and written only through its descriptor's magic link, so all its steps land on that inode.
 * Directories are pinned by the descriptor the walk holds anyway. Another filesystem mounted below is
 * never entered; it is reported. An inode with several names is shifted once (a second shift of one with
 * an overlapping map would move it twice).
 *
 * The walk assumes nobody else writes the tree while it runs (the container is stopped and its lock
 * held): a swap can make it stop with Unsafe, never act outside the tree.
 */
import * as fsCallbacks from "fs";
import { constants as fsc, promises as fsPromises, Stats } from "fs";
import { promisify } from "util";
import { Unsafe } from "../model/errors";
import type { ByteProgress } from "../model/progress";
import { getXattr, listXattrs, setXattr } from "../native/libc";
import { viaFd } from "./held";

/** What a shift makes of one inode's ids and id-bearing xattrs; pure functions of the old value. */
export interface InodeShift {
  /** The new on-disk owner for an old one. */
  uid(hostId: number): number;
  gid(hostId: number): number;
  /** A rewrite of `system.posix_acl_access` / `system.posix_acl_default`; without it ACLs stay as they are. */
  acl?(value: Buffer): Buffer;
  /** A rewrite of `security.capability`; without it the capability is written back as it was after the chown. */
  capability?(value: Buffer): Buffer;
}

export interface ShiftCounts {
  /** Inodes visited, each once (the root included). */
  inodes: number;
  /** Inodes whose owner, ACL or capability was written. */
  changed: number;
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
  /** Paths, relative to the root, where another filesystem is mounted: not entered, nothing in them changed. */
  otherFilesystems: string[];
}

export interface ShiftOptions {
  /** How many inodes are worked on at once (their system calls run on libuv's pool). */
  concurrency?: number;
}

/**
 * Node's callback fs, promised: fs.promises costs several times the CPU a call (lstat at 64 in flight,
 * 140k/s against 350k/s on this project's machines), and a walk is nothing but such calls.
 */
const fs = {
  lstat: promisify(fsCallbacks.lstat),
  stat: promisify(fsCallbacks.stat),
  fstat: promisify(fsCallbacks.fstat),
  open: promisify(fsCallbacks.open),
  close: promisify(fsCallbacks.close),
  readdir: promisify(fsCallbacks.readdir),
  lchown: promisify(fsCallbacks.lchown),
  chown: promisify(fsCallbacks.chown),
  chmod: promisify(fsCallbacks.chmod),
};

const ACL_ACCESS = "system.posix_acl_access";
const ACL_DEFAULT = "system.posix_acl_default";
const CAPABILITY = "security.capability";

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;
/** Linux's O_PATH (the same on x86_64 and arm64), which Node's fs.constants leaves out. */
const O_PATH = 0o10000000;
/** Setuid and setgid: what a chown may clear. */
const CLEARED_BY_CHOWN = 0o6000;
const S_IFMT = 0o170000;

/** Measured on a 46k-inode tree: past about 32 inodes at once nothing is gained. */
const DEFAULT_CONCURRENCY = 32;
/**
 * xattr calls go through koffi, which keeps 8 resident pools for async calls: past 8 in flight each call
 * allocates its own (llistxattr fell from 75k/s at 8 to 30k/s at 16), and past 256 queued it throws.
 * Fewer than 8 leaves some to the rest of the process.
 */
const XATTR_CONCURRENCY = 6;

type Ids = { uid: number; gid: number };

/** `/proc/<pid>/fd/<dir>/<name>` for a name given as bytes. */
const entryPath = (dirFd: number, name: Buffer): Buffer => Buffer.concat([Buffer.from(`${viaFd(dirFd)}/`), name]);

/** A name for messages: the path below the root. */
const relOf = (parent: string, name: Buffer) => (parent === "" ? name.toString() : `${parent}/${name.toString()}`);

const DOT = Buffer.from(".");
const DOTDOT = Buffer.from("..");

/** Thrown into work queued after the walk failed; the first failure is the one reported. */
class Stopped extends Error {}

/**
 * Runs at most `max` tasks at once, the newest waiting first: a directory's entries run before its
 * siblings' (depth first), so the directories held open stay about depth × max, not a whole level.
 */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.pop();
      if (next) next();
      else this.active--;
    }
  }
}

/** Waits for every task (none may still use a descriptor its caller is about to close), then fails with the first failure. */
async function settleAll(tasks: Array<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(tasks)).find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Whether a descriptor's fstat shows the inode an earlier lstat of its name saw. */
const sameInode = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino && (a.mode & S_IFMT) === (b.mode & S_IFMT);

const moves = (st: Stats, ids: Ids) => ids.uid !== st.uid || ids.gid !== st.gid;

class Walk {
  readonly counts: ShiftCounts = {
    inodes: 0,
    changed: 0,
    hardLinks: 0,
    modesRestored: 0,
    acls: 0,
    capabilities: 0,
    xattrBytes: 0,
    otherFilesystems: [],
  };
  /** The failure that stopped the walk: no task starts after it. */
  failure: unknown = null;
  private readonly seen = new Set<string>();
  private readonly work: Limiter;
  private readonly xattrCalls = new Limiter(XATTR_CONCURRENCY);

  constructor(
    private readonly root: string,
    private readonly dev: number,
    private readonly t: InodeShift,
    private readonly progress: ByteProgress | undefined,
    concurrency: number,
  ) {
    this.work = new Limiter(concurrency);
  }

  private changedUnder(rel: string, what: string): Unsafe {
    return new Unsafe(
      `${this.root}/${rel} ${what} while the owners of ${this.root} were shifted: stopped; nothing outside it was touched. Run the shift again.`,
    );
  }

  /** Runs one step under the concurrency bound, unless the walk has already failed. */
  private task<T>(fn: () => Promise<T>): Promise<T> {
    return this.work.run(async () => {
      if (this.failure) throw new Stopped();
      try {
        return await fn();
      } catch (e) {
        this.failure ??= e;
        throw e;
      }
    });
  }

  private xattr<T>(fn: () => Promise<T>): Promise<T> {
    return this.xattrCalls.run(fn);
  }

  /** Shifts the open directory `dir` itself to `ids`, then everything below it. */
  async directory(dirFd: number, st: Stats, ids: Ids, rel: string): Promise<void> {
    const names = await this.task(async () => {
      const self = viaFd(dirFd);
      await this.shiftPinned(self, st, await this.xattr(() => listXattrs(self, "fd")), ids, true);
      return fs.readdir(self, { encoding: "buffer" });
    });
    const entries = names.filter((n) => !n.equals(DOT) && !n.equals(DOTDOT));
    await settleAll(entries.map((name) => this.entry(dirFd, name, rel)));
  }

  private async entry(dirFd: number, name: Buffer, parentRel: string): Promise<void> {
    const sub = await this.task(() => this.visit(dirFd, name, parentRel));
    if (!sub) return;
    try {
      await this.directory(sub.fd, sub.st, sub.ids, sub.rel);
    } finally {
      await fs.close(sub.fd);
    }
  }

  /** Shifts a non-directory entry; opens a directory entry and returns it, for the caller to walk. */
  private async visit(dirFd: number, name: Buffer, parentRel: string) {
    const at = entryPath(dirFd, name);
    const st = await fs.lstat(at).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "ENOENT" ? this.changedUnder(relOf(parentRel, name), "was removed") : e;
    });
    if (st.dev !== this.dev) {
      this.counts.otherFilesystems.push(relOf(parentRel, name));
      return null;
    }
    if (st.isDirectory()) {
      // The ids are asked for before the open: a transform that swaps the directory meanwhile is the race tests' hook.
      const ids = this.newIds(st);
      const rel = relOf(parentRel, name);
      return { fd: await this.openDirectory(at, st, rel), st, ids, rel };
    }
    if (st.nlink > 1 && (await this.seenBefore(at, st))) {
      this.counts.hardLinks++;
      return null;
    }
    const ids = this.newIds(st);
    if (st.isSymbolicLink()) {
      // No ACL or capability lives on a symlink; lchown changes the link, not what it names.
      await this.chownOnly(at, st, ids);
      return null;
    }
    const names = await this.xattr(() => listXattrs(at, "nofollow"));
    const pin = names.includes(ACL_ACCESS) || names.includes(CAPABILITY) || (moves(st, ids) && (st.mode & CLEARED_BY_CHOWN) !== 0);
    if (!pin) {
      await this.chownOnly(at, st, ids);
      return null;
    }
    // O_PATH opens no device, waits on no FIFO, and with O_NOFOLLOW pins a symlink swapped in (then refused below).
    const pinned = await fs.open(at, O_PATH | fsc.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "ENOENT" ? this.changedUnder(relOf(parentRel, name), "was removed") : e;
    });
    try {
      if (!sameInode(await fs.fstat(pinned), st)) throw this.changedUnder(relOf(parentRel, name), "was replaced");
      await this.shiftPinned(viaFd(pinned), st, names, ids, false);
    } finally {
      await fs.close(pinned);
    }
    return null;
  }

  /**
   * Whether another name of this inode was visited already; marks it visited. Checked and marked in one
   * turn of the event loop, so two names in flight at once cannot both pass. An inode number past 2^53
   * (a double's exact range) is read again as a bigint, so two inodes never share a key.
   */
  private async seenBefore(at: Buffer, st: Stats): Promise<boolean> {
    const exact = Number.isSafeInteger(st.ino) ? st : await fsPromises.lstat(at, { bigint: true });
    const key = `${exact.dev}:${exact.ino}`;
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    return false;
  }

  private async openDirectory(at: Buffer, st: Stats, rel: string): Promise<number> {
    const fd = await fs.open(at, DIR_FLAGS).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ELOOP" || e.code === "ENOTDIR") throw this.changedUnder(rel, "was replaced by something that is not a directory");
      throw e.code === "ENOENT" ? this.changedUnder(rel, "was removed") : e;
    });
    try {
      if (!sameInode(await fs.fstat(fd), st)) throw this.changedUnder(rel, "was replaced");
    } catch (e) {
      await fs.close(fd);
      throw e;
    }
    return fd;
  }

  newIds(st: Stats): Ids {
    this.counts.inodes++;
    this.progress?.add(1);
    return { uid: this.t.uid(st.uid), gid: this.t.gid(st.gid) };
  }

  /** lchown of an entry by name in its open directory: the name's last component is never followed. */
  private async chownOnly(at: Buffer, st: Stats, ids: Ids) {
    if (!moves(st, ids)) return;
    await fs.lchown(at, ids.uid, ids.gid);
    this.counts.changed++;
  }

  /**
   * Shifts one inode reached through a descriptor's magic link `self` (resolved by the kernel to that
   * descriptor's inode, never by name; so the following calls, chown, chmod, getxattr, setxattr). What the
   * chown destroys is read before it and written after it.
   */
  private async shiftPinned(self: string, st: Stats, names: string[], ids: Ids, isDir: boolean) {
    const acls: Array<[string, Buffer]> = [];
    for (const name of (isDir ? [ACL_ACCESS, ACL_DEFAULT] : [ACL_ACCESS]).filter((n) => names.includes(n))) {
      const value = await this.xattr(() => getXattr(self, name, "fd"));
      if (value) acls.push([name, value]);
    }
    const capability = !isDir && names.includes(CAPABILITY) ? await this.xattr(() => getXattr(self, CAPABILITY, "fd")) : null;
    let changed = false;
    if (moves(st, ids)) {
      await fs.chown(self, ids.uid, ids.gid);
      changed = true;
      // Not on directories, and setgid only with group execute: chmod only when the chown did clear a bit.
      if ((st.mode & CLEARED_BY_CHOWN) !== 0 && ((await fs.stat(self)).mode & 0o7777) !== (st.mode & 0o7777)) {
        await fs.chmod(self, st.mode & 0o7777);
        this.counts.modesRestored++;
      }
    }
    for (const [name, value] of acls) {
      const shifted = this.t.acl ? this.t.acl(value) : value;
      if (shifted.equals(value)) continue;
      await this.xattr(() => setXattr(self, name, shifted, "fd"));
      this.counts.acls++;
      this.counts.xattrBytes += shifted.length;
      changed = true;
    }
    if (capability) {
      const shifted = this.t.capability ? this.t.capability(capability) : capability;
      // The chown dropped it: it is written even when the rewrite left it as it was.
      if (changed || !shifted.equals(capability)) {
        await this.xattr(() => setXattr(self, CAPABILITY, shifted, "fd"));
        this.counts.capabilities++;
        this.counts.xattrBytes += shifted.length;
        changed = true;
      }
    }
    if (changed) this.counts.changed++;
  }
}

/**
 * Rewrites the owners of every inode of the tree at `root` (the root included) by `t`: numeric owner and
 * group, POSIX ACL entries (access on every inode, default on directories) and `security.capability`;
 * setuid and setgid bits survive the chown. Device nodes, FIFOs and sockets are shifted like anything else
 * and never opened. `progress` counts inodes (add(1) each); its total is the caller's to give.
 * `root` itself must be a directory and no symlink; give a path reached through a held directory.
 */
export async function shiftTree(root: string, t: InodeShift, progress?: ByteProgress, opts: ShiftOptions = {}): Promise<ShiftCounts> {
  const fd = await fs.open(root, DIR_FLAGS).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ELOOP" || e.code === "ENOTDIR") throw new Unsafe(`refusing to shift ${root}: it is not a directory (a symbolic link?)`);
    throw e;
  });
  try {
    const st = await fs.fstat(fd);
    const walk = new Walk(root, st.dev, t, progress, Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY));
    try {
      await walk.directory(fd, st, walk.newIds(st), "");
    } catch (e) {
      throw walk.failure ?? e;
    }
    walk.counts.otherFilesystems.sort();
    return walk.counts;
  } finally {
    await fs.close(fd);
  }
}
