/**
 * Filesystem tools in one place: make, grow, shrink. The ordering rule (Incus, `drivers/utils.go`) is
 * enforced by the lifecycle: grow the device then the filesystem; shrink the filesystem then the device.
 */
import { CannotShrink, NoSpace } from "../model/errors";
import { isExt } from "../model/filesystems";
import { Fstype } from "../model/requests";
import { Runner } from "./run";

/** mkfs without any prompt: -F/-f force, -q quiet; stdin is /dev/null. */
export function mkfsArgv(fstype: Fstype, target: string): string[] {
  if (isExt(fstype)) return [`mkfs.${fstype}`, "-F", "-q", target];
  return [`mkfs.${fstype}`, "-f", "-q", target];
}

export async function makeFilesystem(run: Runner, fstype: Fstype, target: string): Promise<void> {
  await run(mkfsArgv(fstype, target));
}

/** e2fsck -f, required by resize2fs before an offline resize; exit 1 means "errors corrected". */
export async function checkExt(run: Runner, device: string): Promise<void> {
  await run(["e2fsck", "-f", "-y", device], { okCodes: [0, 1] });
}

/**
 * Grows ext* offline: resize2fs on the unmounted device. Online resize needs CAP_SYS_RESOURCE, which
 * container hosts often drop (it fails with EPERM there).
 */
export async function growExtOffline(run: Runner, device: string): Promise<void> {
  await checkExt(run, device);
  await run(["resize2fs", device]);
}

/** Grows a mounted xfs or btrfs filesystem to fill its (already grown) device. */
export async function growMountedFilesystem(run: Runner, fstype: Fstype, mountPoint: string): Promise<void> {
  if (fstype === "xfs") await run(["xfs_growfs", "-d", mountPoint]);
  else await run(["btrfs", "filesystem", "resize", "max", mountPoint]);
}

/** Shrinks an unmounted ext filesystem to `bytes`, refusing before any change when the data does not fit. */
export async function shrinkExtOffline(run: Runner, fstype: Fstype, device: string, bytes: number): Promise<void> {
  // The estimate first: e2fsck writes the superblock, and a refusal must leave every byte as it was.
  const { stdout: est } = await run(["resize2fs", "-P", device]);
  const { stdout: info } = await run(["dumpe2fs", "-h", device]);
  const minBlocks = Number(/minimum size of the filesystem:\s*(\d+)/i.exec(est)?.[1]);
  const blockSize = Number(/^Block size:\s*(\d+)/m.exec(info)?.[1]);
  if (!minBlocks || !blockSize) throw new CannotShrink(fstype, "resize2fs could not estimate the minimum size");
  if (minBlocks * blockSize > bytes) {
    throw new NoSpace(`the shrunk ${fstype} filesystem`, minBlocks * blockSize, bytes);
  }
  await checkExt(run, device);
  await run(["resize2fs", device, `${Math.floor(bytes / 1024)}K`]);
}

/** Shrinks a mounted btrfs filesystem; btrfs itself refuses (and changes nothing) if the data does not fit. */
export async function shrinkBtrfsOnline(run: Runner, mountPoint: string, bytes: number): Promise<void> {
  await run(["btrfs", "filesystem", "resize", String(bytes), mountPoint]);
}
