/**
 * The helper process behind runIsolated: already in its own mount namespace, it runs one task and
 * reports a failure as one marked JSON line on stderr, its progress as marked lines there too.
 */
import { errorToJSON } from "../model/errors";
import { growMountedFilesystem, shrinkBtrfsOnline } from "../host/filesystem";
import { makeContext } from "./context";
import { copyMountedFiles, unpackMounted } from "./copy";
import { unpackOciMounted } from "./unpack-oci";
import { shiftMounted, surveyMounted } from "./shift";
import { ERROR_MARKER, IsolatedTask, PROGRESS_MARKER, RESULT_MARKER } from "./isolated";
import { withMountedDevice } from "./mount";

async function main(task: IsolatedTask): Promise<void> {
  // Progress goes back to the parent as it comes (runIsolated passes it on), one marked line each.
  const ctx = makeContext(task.containerDir, { progress: (line) => process.stderr.write(`${PROGRESS_MARKER}${line}\n`) });
  switch (task.kind) {
    case "copy": {
      const method = await copyMountedFiles(ctx, task);
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ method })}\n`);
      return;
    }
    case "unpack": {
      const digest = await unpackMounted(ctx, task);
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ digest })}\n`);
      return;
    }
    case "unpack-oci": {
      const ids = await unpackOciMounted(ctx, task);
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ ids })}\n`);
      return;
    }
    case "shift": {
      const shifted = await shiftMounted(ctx, task);
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ shifted })}\n`);
      return;
    }
    case "survey": {
      const survey = await surveyMounted(ctx, task);
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ survey })}\n`);
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

/** The task, as runIsolated writes it on stdin. */
async function taskOnStdin(): Promise<IsolatedTask> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as IsolatedTask;
}

taskOnStdin()
  .then(main)
  .catch((e: unknown) => {
    const json = errorToJSON(e);
    // A tool's message can be long (cp lists every file it could not read): the marker carries its end.
    if (json.message.length > 8192) json.message = `…${json.message.slice(-8192)}`;
    if (typeof json.stderr === "string") json.stderr = json.stderr.slice(-8192);
    process.stderr.write(`${ERROR_MARKER}${JSON.stringify(json)}\n`);
    process.exit(1);
  });
