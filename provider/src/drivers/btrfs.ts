import { promises as fs } from "fs";
import os from "os";
import { SUPER_MAGIC } from "../model/filesystems";
import { AlreadyExists, InvalidInput, SyscallError, ToolFailed } from "../model/errors";
import { canonicalPath, lstatOrNull, removeTree } from "../host/paths";
import { snapshotSubvolume, SUBVOLUME_ROOT_INO, subvolumeIds } from "../native/btrfs";
import { treeAllocatedBytes } from "../host/usage";
import { assertLocal } from "./local";
import { localTree } from "./local-tree";
import { Location, OpContext, TreeDriver } from "./types";

const { at, defaults } = localTree("btrfs");

export async function isBtrfs(p: string): Promise<boolean> {
  const st = await fs.statfs(p);
  return st.type === SUPER_MAGIC.btrfs;
}

export async function isSubvolume(p: string): Promise<boolean> {
  const st = await lstatOrNull(p);
  return !!st && st.isDirectory() && st.ino === SUBVOLUME_ROOT_INO && (await isBtrfs(p));
}

/**
 * The qgroup limit (max_referenced) and referenced bytes of a subvolume; null when quotas are off or no
 * limit is set. Read from sysfs (/sys/fs/btrfs/<fsid>/qgroups/0_<id>/, there while quotas are on, since
 * Linux 5.9): two ioctls and three reads, where `btrfs inspect-internal rootid` and `btrfs qgroup show`
 * were two processes.
 */
async function qgroupLimit(ctx: OpContext, subvol: string): Promise<{ limit: number | null; referenced: number | null }> {
  if (!sysfsHasQgroups()) return qgroupLimitFromTools(ctx, subvol);
  let ids: { treeId: number; fsid: string };
  try {
    ids = await subvolumeIds(subvol);
  } catch (e) {
    // Not on btrfs (a `btrfs:` string naming a directory elsewhere): no qgroup, as the tools said.
    if (e instanceof SyscallError && e.code === "ENOTTY") return { limit: null, referenced: null };
    throw e;
  }
  // Without /sys mounted (a container's), the tools can still tell.
  if (!(await lstatOrNull(`${SYSFS}/${ids.fsid}`))) return qgroupLimitFromTools(ctx, subvol);
  const dir = `${SYSFS}/${ids.fsid}/qgroups/0_${ids.treeId}`;
  const [flags, max, referenced] = await Promise.all(
    ["limit_flags", "max_referenced", "referenced"].map((f) => readSysfsNumber(`${dir}/${f}`)),
  );
  return { limit: flags !== null && flags & QGROUP_LIMIT_MAX_RFER ? max : null, referenced };
}

const SYSFS = "/sys/fs/btrfs";
/** BTRFS_QGROUP_LIMIT_MAX_RFER: the referenced limit is set (max_referenced alone reads 0 for none). */
const QGROUP_LIMIT_MAX_RFER = 1;

/** Whether this kernel lists qgroups in sysfs (5.9 and later). */
function sysfsHasQgroups(): boolean {
  const [, major, minor] = (/^(\d+)\.(\d+)/.exec(os.release()) ?? ["", "0", "0"]).map(Number);
  return major > 5 || (major === 5 && minor >= 9);
}

async function readSysfsNumber(file: string): Promise<number | null> {
  const text = (
    await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? null : Promise.reject(e)))
  )?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : null;
}

/** The same from the tools, where sysfs cannot tell (before Linux 5.9, or /sys not mounted). */
async function qgroupLimitFromTools(ctx: OpContext, subvol: string): Promise<{ limit: number | null; referenced: number | null }> {
  try {
    const { stdout: id } = await ctx.run(["btrfs", "inspect-internal", "rootid", subvol]);
    const { stdout } = await ctx.run(["btrfs", "qgroup", "show", "-re", "--raw", "-f", subvol]);
    for (const line of stdout.split("\n")) {
      const cols = line.trim().split(/\s+/);
      if (cols[0] === `0/${id.trim()}`) {
        const max = cols[3];
        return { limit: max && /^\d+$/.test(max) ? Number(max) : null, referenced: Number(cols[1]) };
      }
    }
  } catch (e) {
    if (!(e instanceof ToolFailed)) throw e;
  }
  return { limit: null, referenced: null };
}

async function setQgroupLimit(ctx: OpContext, loc: Location, size: number): Promise<void> {
  await ctx.run(["btrfs", "quota", "enable", loc.path]);
  await ctx.run(["btrfs", "qgroup", "limit", String(size), loc.path]);
}

/** A btrfs subvolume: LXC's `btrfs` backend; `size` is enforced as a qgroup limit. */
export const btrfsDriver: TreeDriver = {
  ...defaults,
  caps: { sized: true, needsLower: false, sharesHostFiles: true, kernelVerified: true, idmappedMount: false },
  detect: async (containerDir) => ((await isSubvolume(`${containerDir}/rootfs`)) ? at(`${containerDir}/rootfs`) : null),
  sourceProblem: async (loc) => ((await isSubvolume(loc.path)) ? null : "btrfs: names a btrfs subvolume; this is not one"),
  async precheck(_ctx, _spec, containerParent) {
    // A missing lxcPath is made by the create, on the filesystem of its nearest existing ancestor.
    if (!(await isBtrfs((await canonicalPath(containerParent)).existing))) {
      throw new InvalidInput("backingStore", "btrfs", `lxcPath ${containerParent} must be on a btrfs filesystem`);
    }
  },
  async inspect(ctx, loc) {
    const [{ limit, referenced }, allocated] = await Promise.all([qgroupLimit(ctx, loc.path), treeAllocatedBytes(ctx.run, loc.path)]);
    // qgroup counters lag until the next transaction commit; du does not.
    return { sizeBytes: limit, fstype: "btrfs", allocatedBytes: allocated, usedBytes: Math.max(referenced ?? 0, allocated), fsBytes: null };
  },
  async create(ctx, loc, opts) {
    if (await lstatOrNull(loc.path)) throw new AlreadyExists(loc.path);
    await ctx.run(["btrfs", "subvolume", "create", loc.path]);
    if (opts.size !== undefined) await setQgroupLimit(ctx, loc, opts.size);
  },
  setLimit: setQgroupLimit,
  async destroy(ctx, loc) {
    // A subvolume is deleted by the ioctl's tool, which checks no path: this does.
    await assertLocal(ctx, loc.path);
    if (await isSubvolume(loc.path)) {
      await ctx.run(["btrfs", "subvolume", "delete", loc.path]);
    } else {
      // lxc-copy -B btrfs can leave a plain directory where a subvolume belongs.
      await removeTree(ctx.run, ctx.containerDir, loc.path);
    }
  },
  /** A writable snapshot when the source is a subvolume on the same filesystem: no data moves. */
  cloneFrom: (ctx, src, dst) => subvolumeSnapshot(ctx, src, dst, false),
  /** Read-only, so nothing changes what was kept; a Rootfs restored from it gets a writable snapshot of it. */
  snapshotFrom: (ctx, src, dst) => subvolumeSnapshot(ctx, src, dst, true),
  snapshotKind: "a read-only btrfs subvolume snapshot",
};

/** A snapshot of the subvolume `src` at `dst`; false when `src` is no subvolume or `dst` is on another filesystem. */
async function subvolumeSnapshot(ctx: OpContext, src: Location, dst: Location, readOnly: boolean): Promise<boolean> {
  if (!(await isSubvolume(src.path))) return false;
  try {
    await snapshotSubvolume(src.path, dst.path, readOnly);
    return true;
  } catch (e) {
    // Another filesystem under the snapshot's directory (EXDEV; ENOTTY where it is not btrfs at all).
    if (e instanceof SyscallError && ["EXDEV", "EINVAL", "ENOTTY"].includes(e.code)) return false;
    throw e;
  }
}
