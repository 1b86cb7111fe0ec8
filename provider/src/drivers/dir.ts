import { promises as fs } from "fs";
import { AlreadyExists } from "../model/errors";
import { lstatOrNull, removeTree } from "../host/paths";
import { treeAllocatedBytes } from "../host/usage";
import { assertLocal } from "./local";
import { localTree } from "./local-tree";
import { TreeDriver } from "./types";

const { at, defaults } = localTree("dir");

/** The plain directory at `path`, as a dir location. */
export const plainDir = at;

/** A plain directory: LXC's `dir` backend. */
export const dirDriver: TreeDriver = {
  ...defaults,
  caps: { sized: false, needsLower: false, sharesHostFiles: true, kernelVerified: true, idmappedMount: true },
  async detect(containerDir) {
    const st = await lstatOrNull(`${containerDir}/rootfs`);
    return st?.isDirectory() ? at(`${containerDir}/rootfs`) : null;
  },
  async inspect(ctx, loc) {
    const bytes = await treeAllocatedBytes(ctx.run, loc.path);
    return { sizeBytes: null, fstype: null, allocatedBytes: bytes, usedBytes: bytes, fsBytes: null };
  },
  async create(_ctx, loc) {
    await fs.mkdir(loc.path, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "EEXIST" ? new AlreadyExists(loc.path) : e;
    });
  },
  async destroy(ctx, loc) {
    await assertLocal(ctx, loc.path);
    await removeTree(ctx.run, ctx.containerDir, loc.path);
  },
};
