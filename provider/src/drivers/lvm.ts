import { InvalidInput, ToolFailed } from "../model/errors";
import { DEFAULT_FSTYPE, DEFAULT_SIZE } from "../model/requests";
import { makeFilesystem } from "../host/filesystem";
import { readSuperblock } from "../host/superblock";
import { isHostPath, LVM_NAME } from "./syntax";
import { BlockDriver, Location, OpContext, Slot } from "./types";

/** LXC's default volume group (lxc.bdev.lvm.vg). */
const DEFAULT_VG = "lxc";

const LV_SLOT_SUFFIX: Record<Slot, string> = { final: "", new: "_lxcrootfs_new", old: "_lxcrootfs_old" };

interface LvLocation extends Location {
  vg: string;
  lv: string;
  thinPool?: string;
}

function at(vg: string, lv: string, thinPool?: string): LvLocation {
  const path = `/dev/${vg}/${lv}`;
  return { store: "lvm", path, rootfsPath: `lvm:${path}`, vg, lv, thinPool };
}

function lvOf(loc: Location): LvLocation {
  const [, , vg, lv] = loc.path.split("/");
  return { ...at(vg, lv), ...(loc as LvLocation) };
}

/** Every command this driver issues, so the exact argv can be tested where device-mapper is missing. */
export const lvmCommands = {
  checkVg: (vg: string) => ["vgs", "--noheadings", "-o", "vg_name", vg],
  checkThinPool: (vg: string, pool: string) => ["lvs", "--noheadings", "-o", "lv_attr", `${vg}/${pool}`],
  exists: (vg: string, lv: string) => ["lvs", "--noheadings", "-o", "lv_name", `${vg}/${lv}`],
  createThick: (vg: string, lv: string, size: number) => ["lvcreate", "--yes", "--wipesignatures", "y", "-n", lv, "-L", `${size}b`, vg],
  createThin: (vg: string, lv: string, size: number, pool: string) => [
    "lvcreate",
    "--yes",
    "--wipesignatures",
    "y",
    "--thin",
    "-n",
    lv,
    "-V",
    `${size}b`,
    `${vg}/${pool}`,
  ],
  inspect: (vg: string, lv: string) => [
    "lvs",
    "--noheadings",
    "--units",
    "b",
    "--nosuffix",
    "--separator",
    ",",
    "-o",
    "lv_size,data_percent",
    `${vg}/${lv}`,
  ],
  resize: (vg: string, lv: string, size: number) => ["lvresize", "--yes", "--force", "-L", `${size}b`, `${vg}/${lv}`],
  rename: (vg: string, from: string, to: string) => ["lvrename", vg, from, to],
  remove: (vg: string, lv: string) => ["lvremove", "--yes", "--force", `${vg}/${lv}`],
};

/** A logical volume, thick or thin: LXC's `lvm` backend. Not kernel-verified here (no device-mapper). */
export const lvmDriver: BlockDriver = {
  kind: "block",
  store: "lvm",
  caps: { sized: true, needsLower: false, sharesHostFiles: false, kernelVerified: false },
  prefixes: ["lvm"],
  options: { vgName: LVM_NAME, lvName: LVM_NAME, thinPool: LVM_NAME },
  parse: (body) =>
    isHostPath(body) && /^\/dev\/[^/]+\/[^/]+$/.test(body) ? lvOf({ store: "lvm", path: body, rootfsPath: `lvm:${body}` }) : null,
  // The thin pool is not in the path: an update that copies a thin LV names thinPool to stay thin.
  optionsOf: (loc) => {
    const { vg, lv, thinPool } = lvOf(loc);
    return { vgName: vg, lvName: lv, ...(thinPool ? { thinPool } : {}) };
  },
  locate: (spec) => at(spec.vgName ?? DEFAULT_VG, spec.lvName ?? spec.container, spec.thinPool),
  relocate: (final, slot) => {
    const { vg, lv, thinPool } = lvOf(final);
    return at(vg, `${lv}${LV_SLOT_SUFFIX[slot]}`, thinPool);
  },
  async precheck(ctx, spec) {
    const vg = spec.vgName ?? DEFAULT_VG;
    await ctx.run(lvmCommands.checkVg(vg)).catch((e) => {
      throw new InvalidInput("vgName", vg, `an existing LVM volume group (${e instanceof ToolFailed ? e.stderr.trim() : e})`);
    });
    if (spec.thinPool) {
      await ctx.run(lvmCommands.checkThinPool(vg, spec.thinPool)).catch(() => {
        throw new InvalidInput("thinPool", spec.thinPool, `an existing thin pool in volume group ${vg}`);
      });
    }
  },
  async exists(ctx, loc) {
    const { vg, lv } = lvOf(loc);
    return ctx.run(lvmCommands.exists(vg, lv)).then(
      () => true,
      () => false,
    );
  },
  async inspect(ctx, loc) {
    const { vg, lv } = lvOf(loc);
    const { stdout } = await ctx.run(lvmCommands.inspect(vg, lv));
    const [size, percent] = stdout.trim().split(",");
    const sizeBytes = Number(size);
    const sb = await readSuperblock(loc.path).catch(() => null);
    const allocated = percent && percent.trim() !== "" ? Math.round((sizeBytes * Number(percent)) / 100) : sizeBytes;
    return { sizeBytes, fstype: sb?.fstype ?? null, allocatedBytes: allocated, usedBytes: sb?.usedBytes ?? allocated };
  },
  async create(ctx, loc, opts) {
    const { vg, lv, thinPool } = lvOf(loc);
    const size = opts.size ?? DEFAULT_SIZE;
    await ctx.run(thinPool ? lvmCommands.createThin(vg, lv, size, thinPool) : lvmCommands.createThick(vg, lv, size));
    if (opts.format) await makeFilesystem(ctx.run, opts.fstype ?? DEFAULT_FSTYPE, loc.path);
  },
  async move(ctx, from, to) {
    const a = lvOf(from);
    await ctx.run(lvmCommands.rename(a.vg, a.lv, lvOf(to).lv));
  },
  async destroy(ctx, loc) {
    const { vg, lv } = lvOf(loc);
    await ctx.run(lvmCommands.remove(vg, lv));
  },
  blockPath: (loc) => loc.path,
  attach: async (_ctx, loc) => ({ path: loc.path, refreshCapacity: async () => undefined, release: async () => undefined }),
  async resizeDevice(ctx: OpContext, loc, size) {
    const { vg, lv } = lvOf(loc);
    await ctx.run(lvmCommands.resize(vg, lv, size));
  },
};
