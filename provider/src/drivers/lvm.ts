import path from "path";
import { InvalidInput, NoSpace, PoolFull, RootfsError, ToolFailed } from "../model/errors";
import { DEFAULT_FSTYPE, DEFAULT_SIZE } from "../model/requests";
import { makeFilesystem } from "../host/filesystem";
import { readSuperblock } from "../host/superblock";
import { attachLoop } from "../native/loop";
import { isHostPath, LVM_NAME } from "./syntax";
import { BlockDriver, Location, LocationOf, OpContext, ownLocation, Slot } from "./types";

/** LXC's default volume group (lxc.bdev.lvm.vg). */
const DEFAULT_VG = "lxc";

const LV_SLOT_SUFFIX: Record<Slot, string> = { final: "", new: "_lxcrootfs_new", old: "_lxcrootfs_old" };

function at(vg: string, lv: string, thinPool?: string): LocationOf<"lvm"> {
  const path = `/dev/${vg}/${lv}`;
  return { store: "lvm", path, rootfsPath: `lvm:${path}`, vg, lv, thinPool };
}

const lvOf = (loc: Location): LocationOf<"lvm"> => ownLocation("lvm", loc);

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
  vgFree: (vg: string) => ["vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", vg],
  /** Every LV of the group with its origin and thin pool: which LVs are snapshots, and of what. */
  origins: (vg: string) => ["lvs", "--noheadings", "--separator", ",", "-o", "lv_name,origin,pool_lv", vg],
  /** A thin LV's snapshot is thin, in the same pool; activated like any LV (-kn), not skipped as by default. */
  snapshotThin: (vg: string, lv: string, name: string) => [
    "lvcreate",
    "--yes",
    "--snapshot",
    "--setactivationskip",
    "n",
    "-n",
    name,
    `${vg}/${lv}`,
  ],
  /** A thick LV's snapshot gets the origin's size for its copy-on-write space, as lxc-copy -s gives it. */
  snapshotThick: (vg: string, lv: string, name: string, size: number) => [
    "lvcreate",
    "--yes",
    "--snapshot",
    "-n",
    name,
    "-L",
    `${size}b`,
    `${vg}/${lv}`,
  ],
};

/** The LVs of a group: each one's origin (a snapshot's) and thin pool (a thin LV's), empty for none. */
async function lvsWithOrigins(ctx: OpContext, vg: string): Promise<Array<{ lv: string; origin: string; pool: string }>> {
  const { stdout } = await ctx.run(lvmCommands.origins(vg));
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [lv, origin = "", pool = ""] = l.split(",");
      return { lv, origin, pool };
    });
}

/** A thin pool's size, and the percentage of it that holds data. */
async function thinPoolUsage(ctx: OpContext, vg: string, pool: string): Promise<{ size: number; percent: number }> {
  const { stdout } = await ctx.run(lvmCommands.inspect(vg, pool));
  const [size, percent] = stdout.trim().split(",");
  return { size: Number(size), percent: Number(percent || 0) };
}

/** A logical volume, thick or thin: LXC's `lvm` backend. Verified on Debian's kernel in the guest (test/guest). */
export const lvmDriver: BlockDriver = {
  kind: "block",
  store: "lvm",
  caps: { sized: true, needsLower: false, sharesHostFiles: false, kernelVerified: true, idmappedMount: false },
  prefixes: ["lvm"],
  options: { vgName: LVM_NAME, lvName: LVM_NAME, thinPool: LVM_NAME },
  parse: (body) => {
    const m = /^\/dev\/([^/]+)\/([^/]+)$/.exec(body);
    return isHostPath(body) && m ? at(m[1], m[2]) : null;
  },
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
  /**
   * A thick snapshot lives on its origin's blocks, and lvremove of the origin takes its snapshots with it:
   * an LV with thick snapshots (this provider's, lxc-copy -s's) is never replaced. Thin snapshots are
   * volumes of their own, and stay.
   */
  async assertReplaceable(ctx, loc) {
    const { vg, lv } = lvOf(loc);
    const thick = (await lvsWithOrigins(ctx, vg)).filter((s) => s.origin === lv && !s.pool).map((s) => `${vg}/${s.lv}`);
    if (thick.length) {
      throw new RootfsError(
        `${loc.rootfsPath} cannot be moved: ${thick.join(", ")} ${thick.length > 1 ? "are snapshots" : "is a snapshot"} of it, ` +
          "which lvremove would delete with it. Destroy the snapshots first. Nothing was changed.",
      );
    }
  },
  /**
   * A thick LV takes its whole size from the volume group; a thin LV takes from its pool only the blocks
   * written, so over-provisioning is allowed, but a fill the pool cannot hold (its data and its new
   * filesystem's metadata) is refused here: a full pool queues the writes (60 s by default) and then fails
   * them, under a mounted filesystem.
   */
  async assertRoom(ctx, loc, need) {
    const { vg, thinPool } = lvOf(loc);
    if (thinPool) {
      const { size, percent } = await thinPoolUsage(ctx, vg, thinPool);
      const free = Math.floor((size * (100 - percent)) / 100);
      if (need.dataBytes > free) throw new NoSpace(`thin pool ${vg}/${thinPool}`, need.dataBytes, free);
      return;
    }
    const free = Number((await ctx.run(lvmCommands.vgFree(vg))).stdout.trim());
    if (need.sizeBytes > free) throw new NoSpace(`volume group ${vg}`, need.sizeBytes, free);
  },
  /** A fill that failed in a thin pool that is now full failed because of it, whatever the tool said. */
  async explainFailure(ctx, loc, error) {
    const { vg, thinPool } = lvOf(loc);
    if (!thinPool) return null;
    const { size, percent } = await thinPoolUsage(ctx, vg, thinPool);
    if (percent < 100) return null;
    const failure = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return new PoolFull(`${vg}/${thinPool}`, size, failure);
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
    return {
      sizeBytes,
      fstype: sb?.fstype ?? null,
      allocatedBytes: allocated,
      usedBytes: sb?.usedBytes ?? allocated,
      fsBytes: sb?.fsBytes ?? null,
    };
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
  // Beside the origin in its volume group, named after it and the snapshot (LXC's lxc-snapshot refuses lvm).
  snapshotAt: (src, snapDir) => {
    const { vg, lv } = lvOf(src);
    return at(vg, `${lv}.snap.${path.basename(snapDir)}`);
  },
  snapshotKind: "an LVM snapshot (thin in the origin's pool, or thick with the origin's size)",
  async snapshotFrom(ctx, src, dst) {
    const { vg, lv } = lvOf(src);
    const name = lvOf(dst).lv;
    const self = (await lvsWithOrigins(ctx, vg)).find((s) => s.lv === lv);
    if (self?.pool) await ctx.run(lvmCommands.snapshotThin(vg, lv, name));
    else await ctx.run(lvmCommands.snapshotThick(vg, lv, name, (await lvmDriver.inspect(ctx, src)).sizeBytes ?? 0));
    return true;
  },
  /** One with an origin, or one this provider named as a snapshot (a thin one outlives its origin). */
  async isSnapshotVolume(ctx, loc) {
    const { vg, lv } = lvOf(loc);
    return lv.includes(".snap.") || (await lvsWithOrigins(ctx, vg)).some((s) => s.lv === lv && s.origin !== "");
  },
  blockPath: (loc) => loc.path,
  /**
   * The LV itself, or for a read-only use a read-only loop device over it: a read-only mount of a writable
   * device still replays a dirty xfs log or btrfs log tree onto it, which the kernel refuses on a read-only one.
   */
  async attach(_ctx, loc, readOnly) {
    if (!readOnly) return { path: loc.path, refreshCapacity: async () => undefined, release: async () => undefined };
    const dev = await attachLoop(loc.path, { readOnly: true });
    return { path: dev.path, refreshCapacity: async () => undefined, release: () => dev.close() };
  },
  async resizeDevice(ctx: OpContext, loc, size) {
    const { vg, lv } = lvOf(loc);
    await ctx.run(lvmCommands.resize(vg, lv, size));
  },
};
