import { InvalidInput, ToolFailed } from "../model/errors";
import { mountOnScratch } from "../host/mounts";
import { isDatasetName, ZFS_NAME } from "./syntax";
import { Location, Slot, TreeDriver } from "./types";

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
};

/**
 * A ZFS dataset with `mountpoint=<lxcPath>/<name>/rootfs` and `canmount=noauto`: LXC's `zfs` backend.
 * `size` is the dataset's refquota. Not kernel-verified here (no ZFS module).
 */
export const zfsDriver: TreeDriver = {
  kind: "tree",
  store: "zfs",
  caps: { sized: true, needsLower: false, sharesHostFiles: false, kernelVerified: false },
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
    await ctx.run(zfsCommands.rename(from.path, to.path));
  },
  async finalize(ctx, loc) {
    if (loc.mountPoint) await ctx.run(zfsCommands.setMountPoint(loc.path, loc.mountPoint));
  },
  destroy: async (ctx, loc) => void (await ctx.run(zfsCommands.destroy(loc.path))),
  async mountTree(ctx, loc, readOnly) {
    const mp = await ctx.scratchDir("zfs");
    // zfsutil lets mount(2) take a dataset whose mountpoint is not "legacy", as LXC does.
    return mountOnScratch(mp, loc.path, "zfs", { readOnly, data: "zfsutil" });
  },
};
