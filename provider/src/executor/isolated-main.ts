/**
 * The helper process behind runIsolated: already in its own mount namespace, it runs one task and
 * reports a failure as one marked JSON line on stderr.
 */
import { promises as fs } from "fs";
import { DRIVERS } from "../drivers";
import { growMountedFilesystem, shrinkBtrfsOnline } from "../host/filesystem";
import { copyTree } from "../host/treecopy";
import { makeContext } from "./context";
import { ERROR_MARKER, IsolatedTask, RESULT_MARKER } from "./isolated";
import { withMountedDevice, withMountedStore } from "./storage";

async function main(task: IsolatedTask): Promise<void> {
  const ctx = makeContext(task.containerDir, {});
  switch (task.kind) {
    case "copy": {
      const src = DRIVERS[task.src.store];
      const dst = DRIVERS[task.dst.store];
      await withMountedStore(ctx, src, task.src.loc, task.src.fstype, true, (from) =>
        withMountedStore(ctx, dst, task.dst.loc, task.dst.fstype, false, async (to) => {
          const { bavail, bsize } = await fs.statfs(to);
          const sameHost = !src.caps.isBlock && !dst.caps.isBlock && task.src.store !== "overlay";
          const method = await copyTree(ctx.run, from, to, { needed: task.neededBytes, available: bavail * bsize }, sameHost);
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

main(JSON.parse(process.argv[2]) as IsolatedTask).catch((e: Error & Record<string, unknown>) => {
  // A tool's message can be long (cp lists every file it could not read): the marker carries its end.
  const message = e.message.length > 8192 ? `…${e.message.slice(-8192)}` : e.message;
  process.stderr.write(`${ERROR_MARKER}${JSON.stringify({ ...e, stderr: undefined, name: e.name, message })}\n`);
  process.exit(1);
});
