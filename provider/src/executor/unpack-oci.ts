/**
 * The unpack of an OCI image from the host's cache, with the new store mounted for the call only (in the
 * isolated helper when it mounts: copy.ts's runStep): umoci applies the layers in order (whiteouts and opaque directories honoured, each
 * blob checked against its digest as it is read), as root, so owners, modes, device nodes, ACLs and
 * xattrs are the image's. umoci unpacks only into a directory it makes, so it makes one in the new store,
 * and its entries are then renamed up to the store's root: the same filesystem, nothing copied twice.
 */
import { promises as fs } from "fs";
import path from "path";
import { NoSpace, ToolFailed } from "../model/errors";
import { ociUserIds } from "../model/oci";
import { DRIVERS } from "../drivers";
import { OpContext } from "../drivers/types";
import { CACHED_TAG } from "../host/oci";
import { readSmallFileInTree } from "../host/paths";
import { processReadBytes } from "../host/run";
import { freeBytes } from "../host/usage";
import { notKeptWatcher } from "./kept-xattrs";
import { withProgress } from "./progress";
import { IsolatedTask } from "./isolated";
import { withMountedStore } from "./mount";

/** umoci's directory inside the new store: a name no image's root holds, gone before the unpack returns. */
const STAGING = ".lxc-rootfs-oci-unpack";

/** Moves the tree at `staging` up into `root`, its parent, and gives `root` the owner, mode and times the image gave `staging`. */
async function liftTree(staging: string, root: string): Promise<void> {
  const st = await fs.lstat(staging);
  for (const name of await fs.readdir(staging)) await fs.rename(path.join(staging, name), path.join(root, name));
  await fs.rmdir(staging);
  await fs.lchown(root, st.uid, st.gid);
  await fs.chmod(root, st.mode & 0o7777);
  await fs.utimes(root, st.atime, st.mtime);
}

/** Unpacks the image, then resolves the ids its config's user names in the unpacked /etc/passwd and /etc/group. */
export async function unpackOciMounted(
  ctx: OpContext,
  task: Extract<IsolatedTask, { kind: "unpack-oci" }>,
): Promise<{ uid: number; gid: number }> {
  const dst = DRIVERS[task.dst.store];
  return withMountedStore(ctx, dst, task.dst.loc, task.dst.fstype, false, async (to) => {
    const staging = path.join(to, STAGING);
    // Its progress: the layers' bytes umoci has read.
    const what = `unpacking ${task.image.name ?? "the OCI image"}`;
    const notKept = notKeptWatcher("umoci");
    const failure = await withProgress(ctx, what, { total: task.image.layerBytes }, (progress) =>
      // --log=warn: umoci warns, and goes on, for an xattr (an ACL) the filesystem refuses; that fails the unpack.
      ctx.run(["umoci", "--log=warn", "raw", "unpack", "--image", `${task.image.layout}:${CACHED_TAG}`, staging], {
        onSpawn: (pid) => progress.measure(() => processReadBytes(pid)),
        onStderr: notKept.onStderr,
      }),
    ).then(
      () => notKept.failure(),
      (e: unknown) => e,
    );
    // A full filesystem (ENOSPC), a qgroup limit or a refquota (EDQUOT): the tree did not fit.
    if (failure instanceof ToolFailed && /no space left on device|disk quota exceeded/i.test(failure.stderr))
      throw new NoSpace("the new rootfs", task.neededBytes, await freeBytes(to).catch(() => 0));
    if (failure) throw failure;
    await liftTree(staging, to);
    const ids = ociUserIds(task.image.user, await readSmallFileInTree(to, "etc/passwd"), await readSmallFileInTree(to, "etc/group"));
    // On disk before the swap may point the config at it (see copyMountedFiles).
    await ctx.run(["sync", "-f", to]);
    return ids;
  });
}
