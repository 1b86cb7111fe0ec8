import { promises as fs } from "fs";
import path from "path";
import { AlreadyExists, InvalidInput } from "../model/errors";
import { parseRootfsString } from "./syntax";
import { mountOnScratch } from "../host/mounts";
import { lstatOrNull, removeTree, renameNoReplace } from "../host/paths";
import { treeAllocatedBytes } from "../host/usage";
import { Driver, Location, SLOT_SUFFIX } from "./types";

/** `<dir>/delta` is the upper layer, `<dir>/work` overlayfs' work directory. */
function at(dir: string, lower: string): Location {
  return { store: "overlay", path: `${dir}/delta`, lower, rootfsPath: `overlay:${lower}:${dir}/delta`, localRoot: dir };
}

/** The directory a `from` names as the lower layer: a dir or btrfs rootfs. */
export function lowerDirOf(from: string | undefined): string {
  if (from === undefined) {
    throw new InvalidInput("from", from, "overlay needs from: the dir: or btrfs: rootfs to use as its lower layer");
  }
  const ref = parseRootfsString(from, "from");
  if (ref.store !== "dir" && ref.store !== "btrfs") {
    throw new InvalidInput("from", from, "the lower layer of an overlay must be a dir: or btrfs: rootfs");
  }
  return ref.path;
}

/** An overlayfs snapshot of another rootfs: LXC's `overlay` backend. */
export const overlayDriver: Driver = {
  store: "overlay",
  caps: { isBlock: false, sized: false, needsLower: true, canSnapshot: true, kernelVerified: true },
  locate: (spec, containerDir) => at(`${containerDir}/overlay`, lowerDirOf(spec.from)),
  relocate: (final, slot) => at(`${final.localRoot}${SLOT_SUFFIX[slot]}`, final.lower!),
  fromRef: (ref) => at(path.dirname(ref.path), ref.lower!),
  exists: async (_ctx, loc) => (await lstatOrNull(loc.localRoot!)) !== null,
  async inspect(ctx, loc) {
    const bytes = await treeAllocatedBytes(ctx.run, loc.path);
    return { sizeBytes: null, fstype: null, allocatedBytes: bytes, usedBytes: bytes };
  },
  async create(_ctx, loc) {
    const dir = loc.localRoot!;
    await fs.mkdir(dir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "EEXIST" ? new AlreadyExists(dir) : e;
    });
    await fs.mkdir(`${dir}/delta`, { mode: 0o755 });
    await fs.mkdir(`${dir}/work`, { mode: 0o755 });
  },
  move: (_ctx, from, to) => renameNoReplace(from.localRoot!, to.localRoot!),
  destroy: (ctx, loc) => removeTree(ctx.run, ctx.containerDir, loc.localRoot!),
  async mountTree(ctx, loc, readOnly) {
    const mp = await ctx.scratchDir("overlay");
    const dir = loc.localRoot!;
    // Read-only: both layers as lowers, so nothing (not even the work dir) is written.
    const data = readOnly
      ? `lowerdir=${loc.path}:${loc.lower}`
      : `lowerdir=${loc.lower},upperdir=${loc.path},workdir=${dir}/work`;
    return mountOnScratch(mp, "overlay", "overlay", { readOnly, data });
  },
};
