import { promises as fs } from "fs";
import { AlreadyExists } from "../model/errors";
import { lstatOrNull, removeTree } from "../host/paths";
import { treeAllocatedBytes } from "../host/usage";
import { assertLocal, checkLocalDestroy, moveLocal } from "./local";
import { isHostPath } from "./syntax";
import { Location, SLOT_SUFFIX, TreeDriver } from "./types";

function at(path: string): Location {
  return { store: "dir", path, rootfsPath: `dir:${path}`, localRoot: path };
}

/** A plain directory: LXC's `dir` backend. */
export const dirDriver: TreeDriver = {
  kind: "tree",
  store: "dir",
  caps: { sized: false, needsLower: false, sharesHostFiles: true, kernelVerified: true },
  prefixes: ["dir"],
  options: {},
  parse: (body) => (isHostPath(body) ? at(body) : null),
  async detect(containerDir) {
    const st = await lstatOrNull(`${containerDir}/rootfs`);
    return st?.isDirectory() ? at(`${containerDir}/rootfs`) : null;
  },
  optionsOf: () => ({}),
  locate: (_spec, containerDir) => at(`${containerDir}/rootfs`),
  relocate: (final, slot) => at(`${final.path}${SLOT_SUFFIX[slot]}`),
  snapshotAt: (_src, snapDir) => at(`${snapDir}/rootfs`),
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
  move: (ctx, from, to) => moveLocal(ctx, from.path, to.path),
  async destroy(ctx, loc) {
    await assertLocal(ctx, loc.path);
    await removeTree(ctx.run, ctx.containerDir, loc.path);
  },
  checkDestroy: (ctx, loc) => checkLocalDestroy(ctx, loc.path, "directory"),
  mountTree: async (_ctx, loc) => ({ root: loc.path, release: async () => undefined }),
};
