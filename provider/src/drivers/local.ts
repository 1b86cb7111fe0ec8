/**
 * The checks every driver makes on a host path it moves, deletes or makes a directory at: the path is
 * strictly inside the container directory, and no directory on the way to it is a symbolic link (a lexical
 * check alone would follow one out). Defense in depth: the callers check their locations first (the
 * journals, the config's rootfs string), and these hold whatever a caller missed.
 */
import { promises as fs } from "fs";
import path from "path";
import { InUse, Unsafe } from "../model/errors";
import { assertInside, lstatOrNull, removeEmptyDir, renameNoReplace } from "../host/paths";
import { OpContext } from "./types";

/** Refuses `p` unless it lies strictly inside the container directory, through no symbolic link. */
export async function assertLocal(ctx: OpContext, p: string): Promise<void> {
  assertInside(ctx.containerDir, p);
  const rel = path.relative(ctx.containerDir, path.resolve(p)).split(path.sep);
  for (let i = 1; i < rel.length; i++) {
    const step = path.join(ctx.containerDir, ...rel.slice(0, i));
    const st = await lstatOrNull(step);
    if (!st) return;
    if (st.isSymbolicLink()) throw new Unsafe(`refusing to touch ${p}: ${step} is a symbolic link`);
  }
}

/** A rename between two slots of the container's own, never over anything. */
export async function moveLocal(ctx: OpContext, from: string, to: string): Promise<void> {
  await assertLocal(ctx, from);
  await assertLocal(ctx, to);
  await renameNoReplace(from, to);
}

/** rmdir of an empty mount point of the container's own (see removeEmptyDir). */
export async function removeEmptyLocalDir(ctx: OpContext, dir: string): Promise<void> {
  await assertLocal(ctx, dir);
  await removeEmptyDir(dir);
}

/** The mount point LXC expects, made when missing, in the container's own directory. */
export async function ensureLocalDir(ctx: OpContext, dir: string): Promise<void> {
  await assertLocal(ctx, dir);
  if (!(await lstatOrNull(dir))) await fs.mkdir(dir, { mode: 0o755 });
}

/**
 * What a destroy of the store at `p` would refuse, refused before anything is committed to (a snapshot's
 * config removed): a path outside the container or through a symbolic link, anything but a `kind` there,
 * and for an image, a loop device attached to it. Nothing there is nothing to refuse.
 */
export async function checkLocalDestroy(
  ctx: OpContext,
  p: string,
  kind: "directory" | "file",
  holders?: (p: string) => Promise<string[]>,
): Promise<void> {
  await assertLocal(ctx, p);
  const st = await lstatOrNull(p);
  if (!st) return;
  if (st.isSymbolicLink()) throw new Unsafe(`refusing to delete ${p}: it is a symbolic link`);
  if (kind === "directory" ? !st.isDirectory() : !st.isFile())
    throw new Unsafe(`refusing to delete ${p}: it is not a ${kind === "file" ? "regular file" : kind}`);
  const users = holders ? await holders(p) : [];
  if (users.length) throw new InUse(p, `attached to ${users.join(", ")}`);
}
