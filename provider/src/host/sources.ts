/** The checks of a `from` path on the host: a rootfs to copy, never the host's root or a kernel filesystem. */
import { promises as fs } from "fs";
import { InvalidInput } from "../model/errors";

/** Kernel filesystems hold no rootfs: copying /proc, /sys or /dev would never end or would copy devices. */
const PSEUDO_FS = new Set([
  0x9fa0 /* proc */, 0x62656572 /* sysfs */, 0x1cd1 /* devpts */, 0x27e0eb /* cgroup */, 0x63677270 /* cgroup2 */, 0x64626720 /* debugfs */,
  0x73636673 /* securityfs */,
]);

/** Refuses a source path that is the host's own root or lives on a kernel filesystem. */
export async function checkSourcePath(from: string, paths: string[]): Promise<void> {
  for (const p of paths) {
    const real = await fs.realpath(p).catch(() => p);
    if (real === "/") throw new InvalidInput("from", from, "a container's rootfs, not the host's root directory");
    // A dangling symlink passed the existence check (lstat): nothing is there either.
    const st = await fs.statfs(real).catch(() => null);
    if (!st) throw new InvalidInput("from", from, "an existing rootfs; nothing is there");
    if (PSEUDO_FS.has(Number(st.type)) || real === "/dev" || real.startsWith("/dev/")) {
      throw new InvalidInput("from", from, "a container's rootfs, not a kernel filesystem (/proc, /sys, /dev)");
    }
  }
}
