import { Runner } from "./run";

/** Bytes allocated by a tree, counted once per inode, without crossing filesystems or following links. */
export async function treeAllocatedBytes(run: Runner, dir: string): Promise<number> {
  const { stdout } = await run(["du", "-s", "-x", "-B1", "--", dir]);
  return Number(stdout.split(/\s/)[0]) || 0;
}
