/**
 * The one copy engine: a block image copied whole with its holes kept (a reflink where the host allows),
 * and a tree of files copied (reflinked where the host shares extents). The update, create's `from`
 * (fill.ts) and the snapshot (snapshot-store.ts) all copy through here; what differs between them is a
 * parameter.
 */
import { promises as fs } from "fs";
import path from "path";
import { NoSpace, RootfsError, ToolFailed } from "../model/errors";
import { Fstype } from "../model/requests";
import { BlockCopyMethod, TreeCopyMethod } from "../model/results";
import { asLatin1, fillTemplate, lxcTemplateVars } from "../model/lxc-meta";
import { ociUserLines } from "../model/oci";
import { BlockDriver, copySharesExtents, Driver, DRIVERS, filesWithoutMount, Location, OpContext } from "../drivers";
import { aclFormsOfListing, unpackArgv } from "../host/archive";
import { lineSplitter } from "../host/run";
import { holdsPosixAcls } from "../host/acls";
import { copyAllocatedBlocks } from "../host/blockcopy";
import { imageHash } from "../host/digest";
import { editFileInTree } from "../host/paths";
import { copyTree } from "../host/treecopy";
import { freeBytes, hostSharesExtents } from "../host/usage";
import { IsolatedResult, IsolatedTask, runIsolated } from "./isolated";
import { unpackOciMounted } from "./unpack-oci";
import type { ResolvedImage } from "./source";
import { withMountedStore } from "./mount";
import { notKeptWatcher, refuseLostAcls } from "./kept-xattrs";
import { withProgress } from "./progress";
import { growFilesystem } from "./resize";

/**
 * How a copy answers for the host's room in the container directory. `what`: the place a NoSpace names.
 * `upFront`: measure before writing, and refuse a block copy that cannot share extents when its allocated
 * blocks do not fit. A snapshot asks for it: nothing before it counted the room. An update or a create has
 * checked the room already (assertSpace), so it reads the room only when the copy runs out.
 */
export interface Room {
  what: string;
  upFront: boolean;
}

/**
 * Makes the block store `to` (unformatted) at its final size and copies the first `copySize` bytes of
 * `from` into it; the copy's filesystem is then grown to fill a larger target (the device is already at
 * its size: resizing it again is what `lvresize` refuses). The caller owns `to`: on failure it removes it.
 */
export async function copyBlocks(
  ctx: OpContext,
  from: { driver: BlockDriver; loc: Location; copySize: number; allocatedBytes: number },
  to: { driver: BlockDriver; loc: Location; size: number; fstype?: Fstype },
  room: Room,
): Promise<BlockCopyMethod> {
  // The planner chose a target with room for the source's filesystem; nothing is made if it has none.
  if (from.copySize > to.size) throw new NoSpace(`the new ${to.driver.store} rootfs`, from.copySize, to.size);
  const available = room.upFront ? await freeBytes(ctx.containerDir) : undefined;
  if (available !== undefined && !(await hostSharesExtents(ctx.containerDir)) && from.allocatedBytes > available) {
    throw new NoSpace(room.what, from.allocatedBytes, available);
  }
  await to.driver.create(ctx, to.loc, { size: to.size, fstype: to.fstype, format: false });
  const result = await withProgress(ctx, "copying blocks", {}, (progress) =>
    copyAllocatedBlocks(from.driver.blockPath(from.loc), to.driver.blockPath(to.loc), from.copySize, progress),
  ).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOSPC") throw e;
    throw new NoSpace(room.what, from.allocatedBytes, available ?? (await freeBytes(ctx.containerDir)));
  });
  if (to.size > from.copySize) {
    if (!to.fstype)
      throw new RootfsError(`internal: a block copy to grow from ${from.copySize} to ${to.size} bytes without its filesystem`);
    await growFilesystem(ctx, to.driver, to.loc, to.fstype);
  }
  return result.method;
}

/** One end of a file copy: a store, where it is, and the filesystem a block store holds. */
export interface FilesEnd {
  driver: Driver;
  loc: Location;
  fstype: Fstype | null;
}

/**
 * Runs a step on stores' files where no mount can outlive it: in the isolated helper when it mounts one
 * (a block store, an overlay, a dataset), here when every store it touches is the host's own files at its
 * path, where nothing is mounted and the helper's start (a Node.js process) would be the only cost.
 */
function runStep(
  ctx: OpContext,
  task: Extract<IsolatedTask, { kind: "copy" | "unpack" | "unpack-oci" }>,
  here: () => Promise<IsolatedResult>,
): Promise<IsolatedResult> {
  const stores = task.kind === "copy" ? [task.src.store, task.dst.store] : [task.dst.store];
  return stores.every(filesWithoutMount) ? here() : runIsolated(ctx, task);
}

/**
 * Copies the files of one store into another, already made. `view` says which files:
 * - "mounted": the rootfs as LXC mounts it (a block store's filesystem, an overlay's merged tree), for a
 *   store that takes another's place. Mounting is done in the isolated helper's private mount namespace
 *   (runStep), so no mount outlives the operation, and the copy is flushed before the swap relies on it.
 * - "storage": the store's own directory as it lies on the host (an overlay's upper layer only, its lower
 *   layer shared by name), for a snapshot of a tree store beside it. Nothing is mounted, so it runs here,
 *   into a fresh directory at `to`; both ends are the host's files, so a reflink is always tried. The room
 *   is that of the container directory, where the snapshot lies.
 */
export async function copyFiles(
  ctx: OpContext,
  from: FilesEnd,
  to: FilesEnd,
  neededBytes: number,
  view: "mounted" | "storage",
): Promise<TreeCopyMethod> {
  if (view === "storage") {
    const available = await freeBytes(ctx.containerDir);
    await fs.mkdir(to.loc.path, { mode: 0o755 });
    return withProgress(ctx, "copying files", { total: neededBytes, approx: true }, (progress) =>
      copyTree(ctx.run, from.loc.path, to.loc.path, { needed: neededBytes, available }, true, progress),
    );
  }
  const task = {
    kind: "copy" as const,
    containerDir: ctx.containerDir,
    src: { store: from.driver.store, loc: from.loc, fstype: from.fstype },
    dst: { store: to.driver.store, loc: to.loc, fstype: to.fstype },
    neededBytes,
  };
  const { method } = await runStep(ctx, task, async () => ({ method: await copyMountedFiles(ctx, task) }));
  return method ?? "cp";
}

/** The "mounted" copy (runStep): both stores mounted, the files copied, the new filesystem flushed. */
export async function copyMountedFiles(ctx: OpContext, task: Extract<IsolatedTask, { kind: "copy" }>): Promise<TreeCopyMethod> {
  const src = DRIVERS[task.src.store];
  const dst = DRIVERS[task.dst.store];
  return withMountedStore(ctx, src, task.src.loc, task.src.fstype, true, (from) =>
    withMountedStore(ctx, dst, task.dst.loc, task.dst.fstype, false, async (to) => {
      const available = await freeBytes(to);
      // The plan's count is the source's used bytes, metadata included: an estimate of what cp reads.
      const method = await withProgress(ctx, "copying files", { total: task.neededBytes, approx: true }, (progress) =>
        copyTree(ctx.run, from, to, { needed: task.neededBytes, available }, copySharesExtents(src.store, dst.store), progress),
      );
      // On disk before the swap may point the config at it and destroy the old store: syncfs flushes the
      // new filesystem, and for a loop-mounted one the loop driver turns the flush into an fsync of the image.
      await ctx.run(["sync", "-f", to]);
      return method;
    }),
  );
}

/**
 * Unpacks an OS image into the new store `to`, already made and formatted. Like a "mounted" file copy,
 * it runs in the isolated helper when the store is mounted, for the call only (runStep). An OCI image's config
 * lines come back, with its user's ids as the unpacked rootfs resolves them.
 */
export async function unpackImage(
  ctx: OpContext,
  to: FilesEnd,
  image: ResolvedImage,
  neededBytes: number,
): Promise<{ sourceDigest: string; sourceConfig?: string[] }> {
  const dst = { store: to.driver.store, loc: to.loc, fstype: to.fstype };
  if (image.format === "oci") {
    const task = {
      kind: "unpack-oci" as const,
      containerDir: ctx.containerDir,
      dst,
      image: { layout: image.layout, layerBytes: image.layerBytes, name: image.name, ...(image.user ? { user: image.user } : {}) },
      neededBytes,
    };
    const { ids } = await runStep(ctx, task, async () => ({ ids: await unpackOciMounted(ctx, task) }));
    if (!ids || !image.digest) throw new RootfsError("internal: the OCI unpack gave no ids");
    return { sourceDigest: image.digest, sourceConfig: [...image.config, ...ociUserLines(ids)] };
  }
  // An LXC image's variables are the container's: its name in /etc/hostname, its paths in the config lines.
  const vars = lxcTemplateVars(ctx.containerDir);
  const task = {
    kind: "unpack" as const,
    containerDir: ctx.containerDir,
    dst,
    image: { file: image.file, digest: image.digest, compression: image.compression, name: image.name },
    ...(image.meta?.templates.length ? { templates: { paths: image.meta.templates, vars } } : {}),
    neededBytes,
  };
  const { digest } = await runStep(ctx, task, async () => ({ digest: await unpackMounted(ctx, task) }));
  if (!digest) throw new RootfsError("internal: the unpack gave no digest");
  return {
    sourceDigest: digest,
    ...(image.meta?.config.length ? { sourceConfig: image.meta.config.map((l) => fillTemplate(l, vars)) } : {}),
  };
}

/**
 * The unpack (runStep). tar reads the tarball through this process, which hashes every
 * byte it is given: what is unpacked is what was checked, even if the file changed since (the unpack then
 * fails, and the caller removes the new store). Its digest, as unpacked, is what the create records.
 */
export async function unpackMounted(ctx: OpContext, task: Extract<IsolatedTask, { kind: "unpack" }>): Promise<string> {
  const dst = DRIVERS[task.dst.store];
  return withMountedStore(ctx, dst, task.dst.loc, task.dst.fstype, false, async (to) => {
    const acls = await holdsPosixAcls(to);
    if (!acls) await refuseLostAcls(ctx, task.image.file, task.image.compression);
    const first = await untar(ctx, task, to, acls);
    const { forms } = first;
    let { unpacked } = first;
    // --acls replaced the ACLs the archive keeps as xattr records only with the modes': unpacked again
    // without it, which keeps those records exactly. An archive with both forms cannot be kept whole.
    if (acls && forms.xattrOnly > 0) {
      if (forms.records > 0)
        throw new RootfsError(
          `the image keeps the POSIX ACLs of ${forms.records} files as ACL records (the first: ${forms.firstRecord}) and of ${forms.xattrOnly} as xattr records only (the first: ${forms.firstXattrOnly}): GNU tar cannot keep both. Nothing was changed.`,
        );
      ctx.log(`the image keeps its POSIX ACLs as xattr records: unpacking it again with those`);
      await emptyTree(ctx, to);
      ({ unpacked } = await untar(ctx, task, to, false));
    }
    // As LXC's download template fills them in, but only in regular files inside the tree.
    const vars = task.templates && asLatin1(task.templates.vars);
    for (const p of task.templates?.paths ?? []) await editFileInTree(to, p, (bytes) => fillTemplate(bytes, vars!));
    await ctx.run(["sync", "-f", to]);
    return unpacked;
  });
}

/** tar's unpack of the image into `to`, the bytes hashed as fed: their digest, and what its listing says of ACLs. */
async function untar(ctx: OpContext, task: Extract<IsolatedTask, { kind: "unpack" }>, to: string, acls: boolean) {
  const { hash, digest } = imageHash();
  // The file's bytes as tar is fed them, of its size: the compressed stream, which is what is known.
  const total = await fs.stat(task.image.file).then(
    (st) => st.size,
    () => null,
  );
  const what = `unpacking ${task.image.name ?? path.basename(task.image.file)}`;
  const listing = aclFormsOfListing();
  const notKept = notKeptWatcher("tar");
  // The whole file is hashed even when tar fails: bytes that changed are the cause to report then.
  const failure = await withProgress(ctx, what, { total }, (progress) =>
    ctx.run(unpackArgv(to, task.image.compression, acls), {
      stdin: {
        file: task.image.file,
        onRead: (chunk) => {
          hash.update(chunk);
          progress.add(chunk.length);
        },
      },
      onStdout: lineSplitter(listing.onLine),
      onStderr: notKept.onStderr,
    }),
  ).then(
    () => notKept.failure(),
    (e: unknown) => e,
  );
  const unpacked = digest();
  if (task.image.digest !== null && unpacked !== task.image.digest) {
    throw new RootfsError(
      `${task.image.file} changed after it was checked: it was ${task.image.digest}, and the bytes unpacked were ${unpacked}. Nothing was changed.`,
    );
  }
  // A full filesystem (ENOSPC), a qgroup limit or a refquota (EDQUOT): the tree did not fit.
  if (failure instanceof ToolFailed && /No space left on device|Disk quota exceeded/.test(failure.stderr))
    throw new NoSpace("the new rootfs", task.neededBytes, await freeBytes(to).catch(() => 0));
  if (failure) throw failure;
  return { unpacked, forms: listing.forms() };
}

/** Removes what an unpack put in the new tree `to` (a mount point, or the new store's directory), never following a symlink. */
async function emptyTree(ctx: OpContext, to: string): Promise<void> {
  await ctx.run([
    "find",
    to,
    "-xdev",
    "-mindepth",
    "1",
    "-maxdepth",
    "1",
    "!",
    "-name",
    "lost+found",
    "-exec",
    "rm",
    "-rf",
    "--one-file-system",
    "--",
    "{}",
    "+",
  ]);
}
