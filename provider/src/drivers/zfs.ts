import { InvalidInput, NoSpace, RootfsError, ToolFailed } from "../model/errors";
import path from "path";
import { mountOnScratch } from "../host/mounts";
import { assertLocal, ensureLocalDir, removeEmptyLocalDir } from "./local";
import { isDatasetName, ZFS_NAME } from "./syntax";
import { Location, LocationOf, OpContext, Slot, TreeDriver } from "./types";

/** LXC's default parent dataset (lxc.bdev.zfs.root). */
const DEFAULT_ZFS_ROOT = "lxc";

const DATASET_SLOT_SUFFIX: Record<Slot, string> = { final: "", new: "-lxcrootfs-new", old: "-lxcrootfs-old" };

function at(dataset: string, mountPoint?: string): LocationOf<"zfs"> {
  return { store: "zfs", path: dataset, rootfsPath: `zfs:${dataset}`, mountPoint };
}

/**
 * The user property that marks a snapshot this provider made for a clone (its value: the clone's dataset).
 * Only a marked snapshot is ever destroyed by it: one of the same name made by a user, or by LXC, is not.
 */
const CLONE_MARK = "pulumi-lxc:clone";

/**
 * The properties every dataset this driver makes is given, as Proxmox and Incus give theirs. ZFS on Linux's
 * default acltype is off: GNU tar's and cp's ACLs then fail unsaid (tar) or stop the copy (cp), and an
 * image's POSIX ACLs are lost. xattr=sa keeps those ACLs, and capabilities, in the inode instead of a hidden
 * directory per file (OpenZFS's advice with posixacl). A clone does not take its origin's local
 * properties, so it is given them too.
 */
const DATASET_PROPERTIES = ["-o", "acltype=posixacl", "-o", "xattr=sa"];

/** Every command this driver issues, so the exact argv can be tested where ZFS is missing. */
export const zfsCommands = {
  checkRoot: (root: string) => ["zfs", "list", "-H", "-o", "name", root],
  exists: (ds: string) => ["zfs", "list", "-H", "-o", "name", ds],
  snapshotExists: (snap: string) => ["zfs", "list", "-H", "-t", "snapshot", "-o", "name", snap],
  create: (ds: string, mountPoint: string, size?: number) => [
    "zfs",
    "create",
    "-o",
    `mountpoint=${mountPoint}`,
    "-o",
    "canmount=noauto",
    ...DATASET_PROPERTIES,
    ...(size !== undefined ? ["-o", `refquota=${size}`] : []),
    ds,
  ],
  inspect: (ds: string) => ["zfs", "get", "-Hp", "-o", "property,value", "refquota,used,referenced", ds],
  setQuota: (ds: string, size: number) => ["zfs", "set", `refquota=${size}`, ds],
  rename: (from: string, to: string) => ["zfs", "rename", from, to],
  setMountPoint: (ds: string, mountPoint: string) => ["zfs", "set", `mountpoint=${mountPoint}`, ds],
  destroy: (ds: string) => ["zfs", "destroy", "-r", ds],
  snapshot: (snap: string, forDataset: string) => ["zfs", "snapshot", "-o", `${CLONE_MARK}=${forDataset}`, snap],
  clone: (snap: string, ds: string, mountPoint: string) => [
    "zfs",
    "clone",
    "-o",
    `mountpoint=${mountPoint}`,
    "-o",
    "canmount=noauto",
    ...DATASET_PROPERTIES,
    snap,
    ds,
  ],
  /** A snapshot's clones or mark, or a dataset's origin snapshot ("-" for none). */
  get: (property: "origin" | "clones", name: string) => ["zfs", "get", "-H", "-o", "value", property, name],
  /** The clone a snapshot was made for, when we made it: set on the snapshot itself, never inherited. */
  mark: (snap: string) => ["zfs", "get", "-H", "-s", "local", "-o", "value", CLONE_MARK, snap],
  /** Every snapshot of a dataset, with its clones. */
  snapshotClones: (ds: string) => ["zfs", "list", "-H", "-t", "snapshot", "-o", "name,clones", "-r", "-d", "1", ds],
  destroySnapshot: (snap: string) => ["zfs", "destroy", snap],
  available: (ds: string) => ["zfs", "get", "-Hp", "-o", "value", "available", ds],
};

/** A dataset's name without the suffix of the slot it is in. */
function finalName(dataset: string): string {
  const suffix = Object.values(DATASET_SLOT_SUFFIX).find((x) => x && dataset.endsWith(x));
  return suffix ? dataset.slice(0, -suffix.length) : dataset;
}

/** The snapshot a clone for `container` is made from, named as LXC names it: `<source>@<container>`. */
function snapshotFor(source: string, cloneDataset: string): string {
  const leaf = finalName(cloneDataset);
  return `${source}@${leaf.slice(leaf.lastIndexOf("/") + 1)}`;
}

/** Whether this provider made `snap` for the clone `cloneDataset` (in whichever slot it is now). */
async function madeFor(ctx: OpContext, snap: string, cloneDataset: string): Promise<boolean> {
  return (await valueOf(ctx, "mark", snap)) === finalName(cloneDataset);
}

async function valueOf(ctx: OpContext, property: "origin" | "clones" | "mark", name: string): Promise<string> {
  const { stdout } = await ctx.run(property === "mark" ? zfsCommands.mark(name) : zfsCommands.get(property, name));
  const v = stdout.trim();
  return v === "-" ? "" : v;
}

/**
 * A ZFS dataset with `mountpoint=<lxcPath>/<name>/rootfs` and `canmount=noauto`: LXC's `zfs` backend.
 * `size` is the dataset's refquota. Verified on Debian's kernel with zfs-dkms in the guest (test/guest).
 */
export const zfsDriver: TreeDriver = {
  kind: "tree",
  store: "zfs",
  caps: { sized: true, needsLower: false, sharesHostFiles: false, kernelVerified: true, idmappedMount: false },
  prefixes: ["zfs"],
  options: { zfsRoot: ZFS_NAME },
  parse: (body, containerDir) => (isDatasetName(body) ? at(body, `${containerDir}/rootfs`) : null),
  optionsOf: (loc) => (loc.path.includes("/") ? { zfsRoot: loc.path.slice(0, loc.path.lastIndexOf("/")) } : {}),
  locate: (spec, containerDir) => at(`${spec.zfsRoot ?? DEFAULT_ZFS_ROOT}/${spec.container}`, `${containerDir}/rootfs`),
  relocate: (final, slot) => at(`${final.path}${DATASET_SLOT_SUFFIX[slot]}`, final.mountPoint),
  // A dataset with no parent is a pool's root, which `zfs destroy -r` would take whole.
  holdsOthers: (loc) => !loc.path.includes("/"),
  async precheck(ctx, spec) {
    const root = spec.zfsRoot ?? DEFAULT_ZFS_ROOT;
    await ctx.run(zfsCommands.checkRoot(root)).catch((e) => {
      throw new InvalidInput("zfsRoot", root, `an existing ZFS dataset (${e instanceof ToolFailed ? e.stderr.trim() : e})`);
    });
  },
  async assertReplaceable(ctx, loc) {
    const { stdout } = await ctx.run(zfsCommands.snapshotClones(loc.path));
    const clones = stdout
      .trim()
      .split("\n")
      .map((l) => l.split("\t")[1] ?? "")
      .filter((c) => c && c !== "-");
    if (clones.length) {
      throw new RootfsError(
        `${loc.rootfsPath} cannot be moved: ${clones.join(", ")} ${clones.length > 1 ? "are clones" : "is a clone"} of its snapshots, ` +
          "and zfs destroys no dataset that clones depend on. Destroy the clones (or `zfs promote` one) first. Nothing was changed.",
      );
    }
  },
  /** The data copied in comes out of the parent dataset's available space (a quota is only a ceiling). */
  async assertRoom(ctx, loc, need) {
    const slash = loc.path.lastIndexOf("/");
    if (need.dataBytes <= 0 || slash < 0) return;
    const parent = loc.path.slice(0, slash);
    const free = Number((await ctx.run(zfsCommands.available(parent))).stdout.trim());
    if (need.dataBytes > free) throw new NoSpace(`zfs dataset ${parent}`, need.dataBytes, free);
  },
  exists: (ctx, loc) =>
    ctx.run(zfsCommands.exists(loc.path)).then(
      () => true,
      () => false,
    ),
  async inspect(ctx, loc) {
    const { stdout } = await ctx.run(zfsCommands.inspect(loc.path));
    const props = Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((l) => l.split("\t") as [string, string]),
    );
    const quota = Number(props.refquota);
    const used = Number(props.used) || 0;
    return {
      sizeBytes: quota > 0 ? quota : null,
      fstype: null,
      allocatedBytes: used,
      usedBytes: Number(props.referenced) || used,
      fsBytes: null,
    };
  },
  async create(ctx, loc, opts) {
    await ctx.run(zfsCommands.create(loc.path, loc.mountPoint ?? "none", opts.size));
  },
  setLimit: async (ctx, loc, size) => void (await ctx.run(zfsCommands.setQuota(loc.path, size))),
  async move(ctx, from, to) {
    // Leaving its final name, the dataset takes LXC's empty mount point with it (a mount point or a
    // non-empty directory stays): a store of another kind may take `rootfs` next. finalize makes it again.
    if (from.mountPoint && finalName(from.path) === from.path) await removeEmptyLocalDir(ctx, from.mountPoint);
    await ctx.run(zfsCommands.rename(from.path, to.path));
  },
  /**
   * The dataset's mountpoint, and the empty directory there that LXC's own zfs backend makes (mkdir -p):
   * after a move from another store the old rootfs directory is gone. Never removed at destroy: a store
   * that replaces this one may live at the same path.
   */
  async finalize(ctx, loc) {
    if (!loc.mountPoint) return;
    await assertLocal(ctx, loc.mountPoint);
    await ctx.run(zfsCommands.setMountPoint(loc.path, loc.mountPoint));
    await ensureLocalDir(ctx, loc.mountPoint);
  },
  /**
   * `zfs destroy -r`, as LXC, which refuses while clones of the dataset's snapshots exist (the error names
   * them). A clone's origin snapshot goes with it when this provider made it for this clone and nothing
   * else uses it; failing that is logged, not raised: the rootfs itself is gone by then.
   */
  async destroy(ctx, loc) {
    const origin = await valueOf(ctx, "origin", loc.path);
    await ctx.run(zfsCommands.destroy(loc.path));
    if (!origin || !(await madeFor(ctx, origin, loc.path))) return;
    await ctx.run(zfsCommands.destroySnapshot(origin)).catch((e: Error) => ctx.log(`kept the snapshot ${origin}: ${e.message}`));
  },

  /**
   * LXC's `lxc-copy -s` on zfs: a snapshot of the source named for the new container, marked as ours, and a
   * clone of it. No data moves; the source cannot be destroyed while the clone exists.
   */
  async cloneFrom(ctx, src, dst) {
    // zfs clone stays within a pool: across pools, the data is copied.
    if (src.path.split("/")[0] !== dst.path.split("/")[0]) return false;
    await snapshotAndClone(ctx, snapshotFor(src.path, dst.path), dst, (snap, why) => {
      throw new InvalidInput("from", `zfs:${src.path}`, `a dataset with no snapshot ${snap} in the way (${why}); rename or destroy it`);
    });
    return true;
  },
  // As lxc-snapshot on zfs: `zfs snapshot <dataset>@<name>` and a clone, here beside the dataset and named
  // after it (LXC names it <parent>/<name>, and two containers' snapshots collide: lxc/lxc#2443).
  snapshotAt: (src, snapDir) => at(`${src.path}.snap.${path.basename(snapDir)}`, `${snapDir}/rootfs`),
  snapshotKind: "a zfs snapshot and its clone",
  async snapshotFrom(ctx, src, dst) {
    const name = dst.path.slice(`${src.path}.snap.`.length);
    await snapshotAndClone(ctx, `${src.path}@${name}`, dst, (snap, why) => {
      throw new RootfsError(`cannot snapshot ${src.rootfsPath}: a zfs snapshot ${snap} is in the way (${why}); rename or destroy it`);
    });
    return true;
  },
  isSnapshotVolume: async (ctx, loc) => (await valueOf(ctx, "origin", loc.path)) !== "",
  async mountTree(ctx, loc, readOnly) {
    const mp = await ctx.scratchDir("zfs");
    // zfsutil lets mount(2) take a dataset whose mountpoint is not "legacy", as LXC does.
    return mountOnScratch(mp, loc.path, "zfs", { readOnly, data: "zfsutil" });
  },
};

/**
 * Takes the snapshot `snap` (marked as made for `dst`) and clones it at `dst`. A snapshot of that name that
 * this provider made for `dst` and no clone uses was left by an interrupted run: it is taken again, since
 * it holds the source as it was then. Anyone else's is never touched: `refuse` says why.
 */
async function snapshotAndClone(ctx: OpContext, snap: string, dst: Location, refuse: (snap: string, why: string) => never): Promise<void> {
  const existing = await ctx.run(zfsCommands.snapshotExists(snap)).then(
    () => true,
    () => false,
  );
  if (existing) {
    const ours = await madeFor(ctx, snap, dst.path);
    const clones = await valueOf(ctx, "clones", snap);
    if (!ours || clones) refuse(snap, clones ? `${clones} is a clone of it` : "it was not made by pulumi-lxc");
    await ctx.run(zfsCommands.destroySnapshot(snap));
  }
  await ctx.run(zfsCommands.snapshot(snap, finalName(dst.path)));
  await ctx.run(zfsCommands.clone(snap, dst.path, dst.mountPoint ?? "none")).catch(async (e) => {
    await ctx.run(zfsCommands.destroySnapshot(snap)).catch(() => undefined);
    throw e;
  });
}
