/**
 * Copying one mounted tree into a new, empty one: the file-by-file fill of a new store. Always `cp -a`
 * (coreutils), which keeps what a rootfs needs: hard links, POSIX ACLs and xattrs (--preserve=all), owners
 * as numbers, devices, FIFOs and symlinks as they are, holes (--sparse=always). LXC uses `rsync -aHXS` and
 * loses ACLs; `rsync -aHAXS`, which keeps them, measured 4 × slower than `cp -a` on the bench's tree
 * (bench/NOTES.md), and its delta machinery buys nothing when the target starts empty.
 */
import { promises as fs } from "fs";
import { NoSpace, ToolFailed } from "../model/errors";
import { ByteProgress } from "../model/progress";
import { processReadBytes, Runner } from "./run";
import { SUPER_MAGIC } from "../model/filesystems";
import { TreeCopyMethod } from "../model/results";

const strip = (p: string) => p.replace(/\/+$/, "") || "/";

/** The copy: `dst`'s own mode, owner and times become `src`'s too (-T: dst is the target, not a parent). */
export function copyArgv(src: string, dst: string): string[] {
  return ["cp", "-aT", "--sparse=always", "--", strip(src), strip(dst)];
}

/**
 * The same copy as reflinks, when both trees sit on one filesystem that shares extents (btrfs, xfs): every
 * file's data is cloned, not read and written, so the copy costs metadata only.
 */
export function reflinkCopyArgv(src: string, dst: string): string[] {
  return ["cp", "-aT", "--reflink=always", "--", strip(src), strip(dst)];
}

/** Whether `src` and `dst` are both directly on a reflink-capable filesystem of one type. */
async function reflinkCandidates(src: string, dst: string): Promise<boolean> {
  const [a, b] = await Promise.all([fs.statfs(src), fs.statfs(dst)]);
  return a.type === b.type && (a.type === SUPER_MAGIC.btrfs || a.type === SUPER_MAGIC.xfs);
}

/**
 * Copies the tree `src` into the empty tree `dst`. Two trees of the host's own btrfs or xfs (`sameHost`:
 * neither is a block store mounted for the copy) are reflinked; should that fail (two filesystems of one
 * type, say), the plain copy then rewrites every file the attempt may have left half-made. `progress` is
 * measured by what cp has read, which is what it has copied (the source's files, their holes skipped).
 */
export async function copyTree(
  run: Runner,
  src: string,
  dst: string,
  space: { needed: number; available: number },
  sameHost = false,
  progress?: ByteProgress,
): Promise<TreeCopyMethod> {
  const measured = (pid: number) => progress?.measure(() => processReadBytes(pid));
  if (sameHost && (await reflinkCandidates(src, dst))) {
    try {
      await run(reflinkCopyArgv(src, dst), { onSpawn: measured });
      return "reflink";
    } catch (e) {
      if (!(e instanceof ToolFailed)) throw e;
    }
  }
  if (space.needed > space.available) throw new NoSpace("the new rootfs", space.needed, space.available);
  try {
    await run(copyArgv(src, dst), { onSpawn: measured });
    return "cp";
  } catch (e) {
    if (e instanceof ToolFailed && /No space left on device|ENOSPC/.test(e.stderr)) {
      // The bytes fit, so the files did not: a filesystem out of inodes says ENOSPC too.
      const { ffree } = await fs.statfs(dst).catch(() => ({ ffree: 1 }));
      throw new NoSpace(
        ffree === 0 ? "the new rootfs (no free inodes left on its filesystem)" : "the new rootfs",
        space.needed,
        space.available,
      );
    }
    throw e;
  }
}
