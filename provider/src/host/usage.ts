import { promises as fs } from "fs";
import { SUPER_MAGIC } from "../model/filesystems";
import { Runner } from "./run";

/** Bytes allocated by a tree, counted once per inode, without crossing filesystems or following links. */
export async function treeAllocatedBytes(run: Runner, dir: string): Promise<number> {
  const { stdout } = await run(["du", "-s", "-x", "-B1", "--", dir]);
  return Number(stdout.split(/\s/)[0]) || 0;
}

/** Whether the host filesystem under `dir` can share extents between files (reflinks). */
export async function hostSharesExtents(dir: string): Promise<boolean> {
  const { type } = await fs.statfs(dir);
  return type === SUPER_MAGIC.btrfs || type === SUPER_MAGIC.xfs;
}

/** The bytes free to this process on the filesystem under `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const { bavail, bsize } = await fs.statfs(dir);
  return bavail * bsize;
}
