import { promises as fs } from "fs";
import { SUPER_MAGIC } from "../model/filesystems";
import { AlreadyExists, InvalidInput, SyscallError, ToolFailed } from "../model/errors";
import { lstatOrNull, removeTree, renameNoReplace } from "../host/paths";
import { snapshotSubvolume, subvolumeIds } from "../native/btrfs";
import { treeAllocatedBytes } from "../host/usage";
import { isHostPath } from "./syntax";
import { Location, OpContext, SLOT_SUFFIX, TreeDriver } from "./types";

/** The root directory of every btrfs subvolume has this inode number. */
const SUBVOLUME_INO = 256;

function at(path: string): Location {
  return { store: "btrfs", path, rootfsPath: `btrfs:${path}`, localRoot: path };
}

export async function isBtrfs(p: string): Promise<boolean> {
  const st = await fs.statfs(p);
  return st.type === SUPER_MAGIC.btrfs;
}

export async function isSubvolume(p: string): Promise<boolean> {
  const st = await lstatOrNull(p);
  return !!st && st.isDirectory() && st.ino === SUBVOLUME_INO && (await isBtrfs(p));
}

/**
 * The qgroup limit (max_referenced) and referenced bytes of a subvolume; null when quotas are off or no
 * limit is set. Read from sysfs (/sys/fs/btrfs/<fsid>/qgroups/0_<id>/, present while quotas are on): two
 * ioctls and two reads, where `btrfs inspect-internal rootid` and `btrfs qgroup show` were two processes.
 */
async function qgroupLimit(ctx: OpContext, subvol: string): Promise<{ limit: number | null; referenced: number | null }> {
  const { treeId, fsid } = await subvolumeIds(subvol);
  if (!(await lstatOrNull(`${SYSFS}/${fsid}`))) return qgroupLimitFromTools(ctx, subvol);
  const dir = `${SYSFS}/${fsid}/qgroups/0_${treeId}`;
  const [max, referenced] = await Promise.all([readSysfsNumber(`${dir}/max_referenced`), readSysfsNumber(`${dir}/referenced`)]);
  // sysfs says 0 where `btrfs qgroup show` says none.
  return { limit: max ? max : null, referenced };
}

const SYSFS = "/sys/fs/btrfs";

async function readSysfsNumber(file: string): Promise<number | null> {
  const text = (
    await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? null : Promise.reject(e)))
  )?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : null;
}

/** The same from the tools, where sysfs is not mounted (a container without /sys). */
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
  kind: "tree",
  store: "btrfs",
  caps: { sized: true, needsLower: false, sharesHostFiles: true, kernelVerified: true },
  prefixes: ["btrfs"],
  options: {},
  parse: (body) => (isHostPath(body) ? at(body) : null),
  detect: async (containerDir) => ((await isSubvolume(`${containerDir}/rootfs`)) ? at(`${containerDir}/rootfs`) : null),
  optionsOf: () => ({}),
  sourceProblem: async (loc) => ((await isSubvolume(loc.path)) ? null : "btrfs: names a btrfs subvolume; this is not one"),
  locate: (_spec, containerDir) => at(`${containerDir}/rootfs`),
  relocate: (final, slot) => at(`${final.path}${SLOT_SUFFIX[slot]}`),
  snapshotAt: (_src, snapDir) => at(`${snapDir}/rootfs`),
  exists: async (_ctx, loc) => (await lstatOrNull(loc.path)) !== null,
  async precheck(_ctx, _spec, containerParent) {
    if (!(await isBtrfs(containerParent))) {
      throw new InvalidInput("backingStore", "btrfs", `lxcPath ${containerParent} must be on a btrfs filesystem`);
    }
  },
  async inspect(ctx, loc) {
    const [{ limit, referenced }, allocated] = await Promise.all([qgroupLimit(ctx, loc.path), treeAllocatedBytes(ctx.run, loc.path)]);
    // qgroup counters lag until the next transaction commit; du does not.
    return { sizeBytes: limit, fstype: "btrfs", allocatedBytes: allocated, usedBytes: Math.max(referenced ?? 0, allocated) };
  },
  async create(ctx, loc, opts) {
    if (await lstatOrNull(loc.path)) throw new AlreadyExists(loc.path);
    await ctx.run(["btrfs", "subvolume", "create", loc.path]);
    if (opts.size !== undefined) await setQgroupLimit(ctx, loc, opts.size);
  },
  setLimit: setQgroupLimit,
  move: (_ctx, from, to) => renameNoReplace(from.path, to.path),
  async destroy(ctx, loc) {
    if (await isSubvolume(loc.path)) {
      await ctx.run(["btrfs", "subvolume", "delete", loc.path]);
    } else {
      // lxc-copy -B btrfs can leave a plain directory where a subvolume belongs.
      await removeTree(ctx.run, ctx.containerDir, loc.path);
    }
  },
  mountTree: async (_ctx, loc) => ({ root: loc.path, release: async () => undefined }),
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
    if (e instanceof SyscallError && (e.code === "EXDEV" || e.code === "EINVAL")) return false;
    throw e;
  }
}
