import { NoSpace, ToolFailed } from "../core/errors";
import { Runner } from "./run";

/**
 * The generic copy between any two mounted trees: hard links, ACLs, xattrs and numeric owners kept,
 * sparse files kept sparse. LXC omits -A and loses POSIX ACLs.
 */
export function rsyncArgv(src: string, dst: string): string[] {
  return ["rsync", "-aHAXS", "--numeric-ids", "--delete", `${src.replace(/\/+$/, "")}/`, `${dst.replace(/\/+$/, "")}/`];
}

export async function copyTree(run: Runner, src: string, dst: string, space: { needed: number; available: number }): Promise<void> {
  if (space.needed > space.available) throw new NoSpace("the new rootfs", space.needed, space.available);
  try {
    await run(rsyncArgv(src, dst));
  } catch (e) {
    if (e instanceof ToolFailed && /No space left on device|ENOSPC/.test(e.stderr)) {
      throw new NoSpace("the new rootfs", space.needed, space.available);
    }
    throw e;
  }
}
