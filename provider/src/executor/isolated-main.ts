/**
 * The helper process behind runIsolated: already in its own mount namespace, it runs one task and
 * reports a failure as one marked JSON line on stderr.
 */
import { promises as fs } from "fs";
import { errorToJSON } from "../model/errors";
import { DRIVERS, sharesExtents } from "../drivers";
import { growMountedFilesystem, shrinkBtrfsOnline } from "../host/filesystem";
import { copyTree } from "../host/treecopy";
import { makeContext } from "./context";
import { ERROR_MARKER, IsolatedTask, RESULT_MARKER } from "./isolated";
import { withMountedDevice, withMountedStore } from "./mount";

async function main(task: IsolatedTask): Promise<void> {
  const ctx = makeContext(task.containerDir, {});
  switch (task.kind) {
    case "copy": {
      const src = DRIVERS[task.src.store];
      const dst = DRIVERS[task.dst.store];
      await withMountedStore(ctx, src, task.src.loc, task.src.fstype, true, (from) =>
        withMountedStore(ctx, dst, task.dst.loc, task.dst.fstype, false, async (to) => {
          const { bavail, bsize } = await fs.statfs(to);
          const method = await copyTree(
            ctx.run,
            from,
            to,
            { needed: task.neededBytes, available: bavail * bsize },
            sharesExtents(src.store, dst.store),
          );
          // On disk before the swap may point the config at it and destroy the old store: syncfs flushes the
          // new filesystem, and for a loop-mounted one the loop driver turns the flush into an fsync of the image.
          await ctx.run(["sync", "-f", to]);
          process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ method })}\n`);
        }),
      );
      return;
    }
    case "grow-fs":
      await withMountedDevice(ctx, task.device, task.fstype, false, (mp) => growMountedFilesystem(ctx.run, task.fstype, mp));
      return;
    case "shrink-btrfs":
      await withMountedDevice(ctx, task.device, "btrfs", false, (mp) => shrinkBtrfsOnline(ctx.run, mp, task.size));
      return;
  }
}

main(JSON.parse(process.argv[2]) as IsolatedTask).catch((e: unknown) => {
  const json = errorToJSON(e);
  // A tool's message can be long (cp lists every file it could not read): the marker carries its end.
  if (json.message.length > 8192) json.message = `…${json.message.slice(-8192)}`;
  if (typeof json.stderr === "string") json.stderr = json.stderr.slice(-8192);
  process.stderr.write(`${ERROR_MARKER}${JSON.stringify(json)}\n`);
  process.exit(1);
});
