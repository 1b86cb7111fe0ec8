import { promises as fs } from "fs";
import path from "path";
import { AlreadyExists, InvalidInput } from "../model/errors";
import { SNAPS_DIR } from "../model/snapshots";
import { mountOnScratch } from "../host/mounts";
import { lstatOrNull, removeTree } from "../host/paths";
import { treeAllocatedBytes } from "../host/usage";
import { assertLocal, checkLocalDestroy, moveLocal } from "./local";
import { plainDir } from "./dir";
import { isHostPath, ROOTFS_STRING_FORMS } from "./syntax";
import { Location, LocationOf, ownLocation, SLOT_SUFFIX, TreeDriver } from "./types";

/**
 * `<dir>/delta` is the upper layer, `<dir>/work` overlayfs' work directory. A snapshot's upper layer is
 * `<dir>/delta0`, as LXC names it.
 */
function at(dir: string, lower: string, upper = `${dir}/delta`): LocationOf<"overlay"> {
  return { store: "overlay", path: upper, lower, rootfsPath: `overlay:${lower}:${upper}`, localRoot: dir };
}

const lowerOf = (loc: Location): string => ownLocation("overlay", loc).lower;

/** The overlay directory of a location: the parent of its upper layer. */
const dirOf = (loc: Location): string => path.dirname(loc.path);

/** The directory a `from` names as the lower layer: a dir or btrfs rootfs (a bare path is dir:, as LXC reads it). */
function lowerDirOf(from: string | undefined): string {
  if (from === undefined) {
    throw new InvalidInput("from", from, "overlay needs from: the dir: or btrfs: rootfs to use as its lower layer");
  }
  const m = /^(?:(dir|btrfs):)?(\/.*)$/.exec(from);
  if (!m) throw new InvalidInput("from", from, "the lower layer of an overlay must be a dir: or btrfs: rootfs");
  if (!isHostPath(m[2])) throw new InvalidInput("from", from, ROOTFS_STRING_FORMS);
  // A snapshot's storage (<container>/snaps/<name>/…) goes when the snapshot is deleted: an overlay would
  // lose its lower layer under it. A snapshot is restored into any other store.
  const parts = m[2].replace(/\/+$/, "").split("/");
  if (parts[parts.length - 3] === SNAPS_DIR && ["rootfs", "delta0"].includes(parts[parts.length - 1])) {
    throw new InvalidInput("from", from, "a lower layer that is not a snapshot's: restore a snapshot into dir, btrfs, loop, lvm or zfs");
  }
  return m[2];
}

/** An overlayfs snapshot of another rootfs: LXC's `overlay` backend. */
export const overlayDriver: TreeDriver = {
  kind: "tree",
  store: "overlay",
  caps: { sized: false, needsLower: true, sharesHostFiles: false, kernelVerified: true, idmappedMount: false },
  // LXC wrote `overlayfs:` before 2.0 and still reads it.
  prefixes: ["overlay", "overlayfs"],
  options: {},
  parse(body) {
    const parts = body.split(":");
    if (parts.length !== 2 || !parts.every(isHostPath)) return null;
    return at(path.dirname(parts[1]), parts[0], parts[1]);
  },
  optionsOf: () => ({}),
  checkLower: (from) => void lowerDirOf(from),
  lowerOf,
  // Named as a plain dir by its upper layer: LXC re-makes a missing upper layer and would boot the lower one.
  unbootable: (loc) => plainDir(loc.path).rootfsPath,
  locate: (spec, containerDir) => at(`${containerDir}/overlay`, lowerDirOf(spec.from)),
  relocate: (final, slot) => at(`${dirOf(final)}${SLOT_SUFFIX[slot]}`, lowerOf(final)),
  // LXC's snapshot of an overlay: a copy of the upper layer over the same lower one.
  snapshotAt: (src, snapDir) => at(snapDir, lowerOf(src), `${snapDir}/delta0`),
  exists: async (_ctx, loc) => (await lstatOrNull(dirOf(loc))) !== null,
  async inspect(ctx, loc) {
    const bytes = await treeAllocatedBytes(ctx.run, loc.path);
    return { sizeBytes: null, fstype: null, allocatedBytes: bytes, usedBytes: bytes, fsBytes: null };
  },
  async create(_ctx, loc) {
    const dir = dirOf(loc);
    await fs.mkdir(dir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "EEXIST" ? new AlreadyExists(dir) : e;
    });
    await fs.mkdir(`${dir}/delta`, { mode: 0o755 });
    await fs.mkdir(`${dir}/work`, { mode: 0o755 });
  },
  move: (ctx, from, to) => moveLocal(ctx, dirOf(from), dirOf(to)),
  async destroy(ctx, loc) {
    await assertLocal(ctx, dirOf(loc));
    await removeTree(ctx.run, ctx.containerDir, dirOf(loc));
  },
  checkDestroy: (ctx, loc) => checkLocalDestroy(ctx, dirOf(loc), "directory"),
  async mountTree(ctx, loc, readOnly) {
    const mp = await ctx.scratchDir("overlay");
    const [dir, lower] = [dirOf(loc), lowerOf(loc)];
    // Read-only: both layers as lowers, so nothing (not even the work dir) is written.
    const data = readOnly ? `lowerdir=${loc.path}:${lower}` : `lowerdir=${lower},upperdir=${loc.path},workdir=${dir}/work`;
    return mountOnScratch(mp, "overlay", "overlay", { readOnly, data });
  },
};
