import { promises as fs } from "fs";
import { AlreadyExists } from "../model/errors";
import { lstatOrNull, removeTree, renameNoReplace } from "../host/paths";
import { treeAllocatedBytes } from "../host/usage";
import { Driver, Location, SLOT_SUFFIX } from "./types";

function at(path: string): Location {
  return { store: "dir", path, rootfsPath: `dir:${path}`, localRoot: path };
}

/** A plain directory: LXC's `dir` backend. */
export const dirDriver: Driver = {
  store: "dir",
  caps: { isBlock: false, sized: false, needsLower: false, canSnapshot: false, kernelVerified: true },
  locate: (_spec, containerDir) => at(`${containerDir}/rootfs`),
  relocate: (final, slot) => at(`${final.path}${SLOT_SUFFIX[slot]}`),
  fromRef: (ref) => at(ref.path),
  exists: async (_ctx, loc) => (await lstatOrNull(loc.path)) !== null,
  async inspect(ctx, loc) {
    const bytes = await treeAllocatedBytes(ctx.run, loc.path);
    return { sizeBytes: null, fstype: null, allocatedBytes: bytes, usedBytes: bytes };
  },
  async create(_ctx, loc) {
    await fs.mkdir(loc.path, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "EEXIST" ? new AlreadyExists(loc.path) : e;
    });
  },
  move: (_ctx, from, to) => renameNoReplace(from.path, to.path),
  destroy: (ctx, loc) => removeTree(ctx.run, ctx.containerDir, loc.path),
  mountTree: async (_ctx, loc) => ({ root: loc.path, release: async () => undefined }),
};
