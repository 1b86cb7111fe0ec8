import { promises as fs, constants as fsc, Stats } from "fs";
import path from "path";
import { AlreadyExists, InUse, Unsafe } from "../model/errors";
import { DEFAULT_FSTYPE, DEFAULT_SIZE } from "../model/requests";
import { makeFilesystem } from "../host/filesystem";
import { isMountPoint } from "../host/mounts";
import { lstatOrNull, removeFile } from "../host/paths";
import { readSuperblock } from "../host/superblock";
import { attachLoop, loopsBackedBy, setLoopCapacity } from "../native/loop";
import { assertLocal, checkLocalDestroy, ensureLocalDir, moveLocal, removeEmptyLocalDir } from "./local";
import { isHostPath } from "./syntax";
import { BlockDriver, LocationOf, SLOT_SUFFIX } from "./types";

function at(image: string, mountPoint?: string): LocationOf<"loop"> {
  return { store: "loop", path: image, rootfsPath: `loop:${image}`, localRoot: image, mountPoint };
}

/**
 * The image, which must be a regular file: a symlink could lead elsewhere, and a FIFO or device planted in
 * its place would block the read of its superblock forever.
 */
async function regularImage(p: string): Promise<Stats> {
  const st = await fs.lstat(p);
  if (!st.isFile()) throw new Unsafe(`refusing to use ${p}: it is not a regular file (a symbolic link or device?)`);
  return st;
}

/** A sparse image file holding a filesystem: LXC's `loop` backend, exactly `size` bytes (LXC's is size+1). */
export const loopDriver: BlockDriver = {
  kind: "block",
  store: "loop",
  caps: { sized: true, needsLower: false, sharesHostFiles: false, kernelVerified: true, idmappedMount: false },
  prefixes: ["loop"],
  options: {},
  // LXC mounts an image that sits in the container directory on <container>/rootfs.
  parse: (body, containerDir) =>
    isHostPath(body) ? at(body, path.dirname(body) === containerDir ? `${containerDir}/rootfs` : undefined) : null,
  async detect(containerDir) {
    const st = await lstatOrNull(`${containerDir}/rootdev`);
    return st?.isFile() ? at(`${containerDir}/rootdev`, `${containerDir}/rootfs`) : null;
  },
  optionsOf: () => ({}),
  locate: (_spec, containerDir) => at(`${containerDir}/rootdev`, `${containerDir}/rootfs`),
  relocate: (final, slot) => (slot === "final" ? final : at(`${final.path}${SLOT_SUFFIX[slot]}`)),
  // A copy of the image, where LXC copies the files into a directory: the filesystem and its size are kept.
  snapshotAt: (_src, snapDir) => at(`${snapDir}/rootdev`, `${snapDir}/rootfs`),
  exists: async (_ctx, loc) => (await lstatOrNull(loc.path)) !== null,
  async inspect(_ctx, loc) {
    const st = await regularImage(loc.path);
    const sb = await readSuperblock(loc.path);
    return {
      sizeBytes: st.size,
      fstype: sb?.fstype ?? null,
      allocatedBytes: st.blocks * 512,
      usedBytes: sb?.usedBytes ?? st.blocks * 512,
      fsBytes: sb?.fsBytes ?? null,
    };
  },
  async create(ctx, loc, opts) {
    const handle = await fs.open(loc.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600).catch((e: NodeJS.ErrnoException) => {
      throw e.code === "EEXIST" ? new AlreadyExists(loc.path) : e;
    });
    try {
      await handle.truncate(opts.size ?? DEFAULT_SIZE);
    } finally {
      await handle.close();
    }
    if (opts.format) await makeFilesystem(ctx.run, opts.fstype ?? DEFAULT_FSTYPE, loc.path);
  },
  async move(ctx, from, to) {
    if (from.mountPoint) await removeEmptyLocalDir(ctx, from.mountPoint);
    await moveLocal(ctx, from.path, to.path);
  },
  async finalize(ctx, loc) {
    if (loc.mountPoint) await ensureLocalDir(ctx, loc.mountPoint);
  },
  async destroy(ctx, loc) {
    await assertLocal(ctx, loc.path);
    const users = await loopsBackedBy(loc.path);
    if (users.length) throw new InUse(loc.path, `attached to ${users.join(", ")}`);
    await removeFile(ctx.containerDir, loc.path);
    if (loc.mountPoint && !(await isMountPoint(loc.mountPoint))) await removeEmptyLocalDir(ctx, loc.mountPoint);
  },
  checkDestroy: (ctx, loc) => checkLocalDestroy(ctx, loc.path, "file", loopsBackedBy),
  blockPath: (loc) => loc.path,
  async attach(_ctx, loc, readOnly) {
    await regularImage(loc.path);
    const dev = await attachLoop(loc.path, { readOnly });
    return { path: dev.path, refreshCapacity: () => setLoopCapacity(dev), release: () => dev.close() };
  },
  holders: (loc) => loopsBackedBy(loc.path),
  async resizeDevice(_ctx, loc, size) {
    await fs.truncate(loc.path, size);
  },
};
