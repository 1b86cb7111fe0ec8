/**
 * Every step that mounts runs in a child process with a private mount namespace (as LXC copies between
 * stores), started with a parent-death signal: if the operation is killed, the child dies with it, its
 * namespace and every mount in it vanish, and the loop devices (autoclear) detach. Nothing is left
 * mounted on the host for anyone to stumble on.
 */
import { existsSync } from "fs";
import path from "path";
import { ErrorJSON, errorFromJSON, RootfsError, ToolFailed } from "../model/errors";
import { Fstype, Store } from "../model/requests";
import { TreeCopyMethod } from "../model/results";
import { Location, OpContext } from "../drivers/types";
import type { CompressionName } from "../host/archive";
import { lineSplitter } from "../host/run";
import type { LxcTemplateVars } from "../model/lxc-meta";
import type { Idmap } from "../model/idmap";
import type { Restore, TreeSurvey } from "./shift";

export type IsolatedTask =
  | {
      kind: "copy";
      containerDir: string;
      src: { store: Store; loc: Location; fstype: Fstype | null };
      dst: { store: Store; loc: Location; fstype: Fstype | null };
      neededBytes: number;
    }
  | {
      kind: "unpack";
      containerDir: string;
      dst: { store: Store; loc: Location; fstype: Fstype | null };
      /** digest null: taken as it is unpacked, and reported back. `name`: what progress lines call it (the image's name, never its URL). */
      image: { file: string; digest: string | null; compression: CompressionName; name?: string };
      /** An LXC image's template files, and the variables filled in there. */
      templates?: { paths: string[]; vars: LxcTemplateVars };
      neededBytes: number;
    }
  | {
      kind: "unpack-oci";
      containerDir: string;
      dst: { store: Store; loc: Location; fstype: Fstype | null };
      /** `layerBytes`: what umoci reads, the total of its progress. */
      image: { layout: string; layerBytes: number; user?: string; name?: string };
      neededBytes: number;
    }
  | {
      kind: "shift";
      containerDir: string;
      dst: { store: Store; loc: Location; fstype: Fstype | null };
      /** The id maps the tree is in ("owner": as its root's owner says), and goes to; null: the identity. */
      from: Idmap | null | "owner";
      to: Idmap | null;
      /** A pass of a shift in place: ids already shifted are kept; its last pass sets back `restore`'s inodes. */
      resume?: boolean;
      restore?: Restore;
    }
  | {
      kind: "survey";
      containerDir: string;
      dst: { store: Store; loc: Location; fstype: Fstype | null };
      /** A preview's: a file removed under it is left out (a running container's tree), never a shift's. */
      preview?: boolean;
    }
  | { kind: "grow-fs"; containerDir: string; device: string; fstype: Fstype }
  | { kind: "shrink-btrfs"; containerDir: string; device: string; size: number };

/** A marker line on the helper's stderr carrying a typed error back. */
export const ERROR_MARKER = "LXC_ROOTFS_ERROR ";

// Under ts-jest this module runs from provider/src; the helper is always the compiled one in dist/.
const HELPER = __filename.endsWith(".ts")
  ? path.resolve(__dirname, "..", "..", "..", "dist", "provider", "src", "executor", "isolated-main.js")
  : path.join(__dirname, "isolated-main.js");

/** A marker line on the helper's stdout carrying its result back (how a copy was made). */
export const RESULT_MARKER = "LXC_ROOTFS_RESULT ";

/** A marker line on the helper's stderr carrying a progress line, passed on to the caller as it comes. */
export const PROGRESS_MARKER = "LXC_ROOTFS_PROGRESS ";

/** The helper's stderr without its progress lines: what an error shows. */
const withoutProgress = (stderr: string) =>
  stderr
    .split("\n")
    .filter((l) => !l.startsWith(PROGRESS_MARKER))
    .join("\n");

export interface IsolatedResult {
  method?: TreeCopyMethod;
  /** The ids an OCI image's user resolved to in the unpacked rootfs. */
  ids?: { uid: number; gid: number };
  /** The sha256 of the tarball as it was unpacked. */
  digest?: string;
  /** What a shift of owners did. */
  shifted?: { inodes: number; changed: number; lost: number };
  /** What a survey of owners found. */
  survey?: TreeSurvey;
}

export async function runIsolated(ctx: OpContext, task: IsolatedTask): Promise<IsolatedResult> {
  if (!existsSync(HELPER)) throw new RootfsError(`internal: ${HELPER} is missing; run npm run build`);
  const onStderr = lineSplitter((line) => {
    if (!line.startsWith(PROGRESS_MARKER)) return;
    try {
      ctx.progress(line.slice(PROGRESS_MARKER.length));
    } catch {
      // A sink that fails must not fail the copy it describes (this runs in a stream's event handler).
    }
  });
  try {
    const { stdout } = await ctx.run(
      ["unshare", "--mount", "--propagation", "private", "--", process.execPath, HELPER],
      // On stdin: a task may be larger than one argument may be (128 KiB), a shift's restore set for one.
      { onStderr, stdin: { text: JSON.stringify(task) } },
    );
    const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARKER));
    return line ? (JSON.parse(line.slice(RESULT_MARKER.length)) as IsolatedResult) : {};
  } catch (caught) {
    if (!(caught instanceof ToolFailed)) throw caught;
    const e = caught.stderr.includes(PROGRESS_MARKER)
      ? new ToolFailed(caught.argv, caught.exitCode, withoutProgress(caught.stderr))
      : caught;
    const line = e.stderr.split("\n").find((l) => l.startsWith(ERROR_MARKER));
    if (!line) throw e;
    let err: ErrorJSON;
    try {
      err = JSON.parse(line.slice(ERROR_MARKER.length));
    } catch {
      throw new RootfsError(`${task.kind} failed: ${e.stderr.slice(-4096)}`);
    }
    throw errorFromJSON(err);
  }
}
