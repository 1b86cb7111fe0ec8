import { InvalidInput, NoSpace, ToolFailed } from "../model/errors";
import { promises as fs } from "fs";
import { mountOnScratch } from "../host/mounts";
import { lstatOrNull, removeEmptyDir } from "../host/paths";
import { isDatasetName, ZFS_NAME } from "./syntax";
import { Location, OpContext, Slot, TreeDriver } from "./types";

/** LXC's default parent dataset (lxc.bdev.zfs.root). */
const DEFAULT_ZFS_ROOT = "lxc";

const DATASET_SLOT_SUFFIX: Record<Slot, string> = { final: "", new: "-lxcrootfs-new", old: "-lxcrootfs-old" };

function at(dataset: string, mountPoint?: string): Location {
  return { store: "zfs", path: dataset, rootfsPath: `zfs:${dataset}`, mountPoint };
}

/** Every command this driver issues, so the exact argv can be tested where ZFS is missing. */
export const zfsCommands = {
  checkRoot: (root: string) => ["zfs", "list", "-H", "-o", "name", root],
  exists: (ds: string) => ["zfs", "list", "-H", "-o", "name", ds],
  create: (ds: string, mountPoint: string, size?: number) => [
    "zfs",
    "create",
    "-o",
    `mountpoint=${mountPoint}`,
    "-o",
    "canmount=noauto",
    ...(size !== undefined ? ["-o", `refquota=${size}`] : []),
    ds,
  ],
  inspect: (ds: string) => ["zfs", "get", "-Hp", "-o", "property,value", "refquota,used,referenced", ds],
  setQuota: (ds: string, size: number) => ["zfs", "set", `refquota=${size}`, ds],
  rename: (from: string, to: string) => ["zfs", "rename", from, to],
  setMountPoint: (ds: string, mountPoint: string) => ["zfs", "set", `mountpoint=${mountPoint}`, ds],
  destroy: (ds: string) => ["zfs", "destroy", "-r", ds],
  snapshot: (snap: string) => ["zfs", "snapshot", snap],
  clone: (snap: string, ds: string, mountPoint: string) => [
    "zfs",
    "clone",
    "-o",
    `mountpoint=${mountPoint}`,
    "-o",
    "canmount=noauto",
    snap,
    ds,
  ],
  /** A snapshot's clones, or a dataset's origin snapshot ("-" for none). */
  get: (property: "origin" | "clones", name: string) => ["zfs", "get", "-H", "-o", "value", property, name],
  destroySnapshot: (snap: string) => ["zfs", "destroy", snap],
  available: (ds: string) => ["zfs", "get", "-Hp", "-o", "value", "available", ds],
};

/** The snapshot a clone for `container` is made from, named as LXC names it: `<source>@<container>`. */
function snapshotFor(source: string, cloneDataset: string): string {
  const leaf = cloneDataset.slice(cloneDataset.lastIndexOf("/") + 1);
  return `${source}@${leaf.replace(new RegExp(`${DATASET_SLOT_SUFFIX.new}$`), "")}`;
}

async function valueOf(ctx: OpContext, property: "origin" | "clones", name: string): Promise<string> {
  const { stdout } = await ctx.run(zfsCommands.get(property, name));
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
  caps: { sized: true, needsLower: false, sharesHostFiles: false, kernelVerified: true },
  prefixes: ["zfs"],
  options: { zfsRoot: ZFS_NAME },
  parse: (body, containerDir) => (isDatasetName(body) ? at(body, `${containerDir}/rootfs`) : null),
  optionsOf: (loc) => (loc.path.includes("/") ? { zfsRoot: loc.path.slice(0, loc.path.lastIndexOf("/")) } : {}),
  locate: (spec, containerDir) => at(`${spec.zfsRoot ?? DEFAULT_ZFS_ROOT}/${spec.container}`, `${containerDir}/rootfs`),
  relocate: (final, slot) => at(`${final.path}${DATASET_SLOT_SUFFIX[slot]}`, final.mountPoint),
  async precheck(ctx, spec) {
    const root = spec.zfsRoot ?? DEFAULT_ZFS_ROOT;
    await ctx.run(zfsCommands.checkRoot(root)).catch((e) => {
      throw new InvalidInput("zfsRoot", root, `an existing ZFS dataset (${e instanceof ToolFailed ? e.stderr.trim() : e})`);
    });
  },
  /** The data copied in comes out of the parent dataset's available space (a quota is only a ceiling). */
  async assertRoom(ctx, loc, need) {
    const parent = loc.path.slice(0, loc.path.lastIndexOf("/"));
    if (need.dataBytes <= 0 || !parent) return;
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
    return { sizeBytes: quota > 0 ? quota : null, fstype: null, allocatedBytes: used, usedBytes: Number(props.referenced) || used };
  },
  async create(ctx, loc, opts) {
    await ctx.run(zfsCommands.create(loc.path, loc.mountPoint ?? "none", opts.size));
  },
  setLimit: async (ctx, loc, size) => void (await ctx.run(zfsCommands.setQuota(loc.path, size))),
  async move(ctx, from, to) {
    // Leaving its final name, the dataset takes LXC's empty mount point with it (a mount point or a
    // non-empty directory stays): a store of another kind may take `rootfs` next. finalize makes it again.
    const leavesFinal = from.mountPoint && !Object.values(DATASET_SLOT_SUFFIX).some((x) => x && from.path.endsWith(x));
    if (leavesFinal) await removeEmptyDir(from.mountPoint!);
    await ctx.run(zfsCommands.rename(from.path, to.path));
  },
  /**
   * The dataset's mountpoint, and the empty directory there that LXC's own zfs backend makes (mkdir -p):
   * after a move from another store the old rootfs directory is gone. Never removed at destroy: a store
   * that replaces this one may live at the same path.
   */
  async finalize(ctx, loc) {
    if (!loc.mountPoint) return;
    await ctx.run(zfsCommands.setMountPoint(loc.path, loc.mountPoint));
    if (!(await lstatOrNull(loc.mountPoint))) await fs.mkdir(loc.mountPoint, { mode: 0o755 });
  },
  /**
   * `zfs destroy -r`, which refuses while clones of the dataset's snapshots exist (the error names them).
   * A clone's origin snapshot goes with it when it is the one made for this clone and nothing else uses it.
   */
  async destroy(ctx, loc) {
    const origin = await valueOf(ctx, "origin", loc.path);
    await ctx.run(zfsCommands.destroy(loc.path));
    if (origin && origin === snapshotFor(origin.slice(0, origin.indexOf("@")), loc.path) && !(await valueOf(ctx, "clones", origin))) {
      await ctx.run(zfsCommands.destroySnapshot(origin));
    }
  },
  /**
   * LXC's `lxc-copy -s` on zfs: a snapshot of the source named for the new container, and a clone of it.
   * No data moves; the source cannot be destroyed while the clone exists. A snapshot of that name left by
   * an interrupted run is taken again when no clone uses it: it holds the source as it was then.
   */
  async cloneFrom(ctx, src, dst) {
    const snap = snapshotFor(src.path, dst.path);
    const stale = await ctx.run(zfsCommands.exists(snap)).then(
      () => true,
      () => false,
    );
    if (stale) {
      const clones = await valueOf(ctx, "clones", snap);
      if (clones)
        throw new InvalidInput(
          "from",
          `zfs:${src.path}`,
          `a dataset without a snapshot @${snap.split("@")[1]} (it exists, and ${clones} is a clone of it)`,
        );
      await ctx.run(zfsCommands.destroySnapshot(snap));
    }
    await ctx.run(zfsCommands.snapshot(snap));
    await ctx.run(zfsCommands.clone(snap, dst.path, dst.mountPoint ?? "none"));
    return true;
  },
  async mountTree(ctx, loc, readOnly) {
    const mp = await ctx.scratchDir("zfs");
    // zfsutil lets mount(2) take a dataset whose mountpoint is not "legacy", as LXC does.
    return mountOnScratch(mp, loc.path, "zfs", { readOnly, data: "zfsutil" });
  },
};
