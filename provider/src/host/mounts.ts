import { promises as fs } from "fs";
import { mount, umount2 } from "../native/libc";
import { SyscallError } from "../model/errors";

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;

/** A mounted view of a store. `release` undoes exactly what the mount did, nothing more. */
export interface Mounted {
  root: string;
  release(): Promise<void>;
}

export async function mountFs(
  source: string,
  target: string,
  fstype: string,
  opts: { readOnly?: boolean; data?: string } = {},
): Promise<void> {
  const flags = MS_NOSUID | MS_NODEV | (opts.readOnly ? MS_RDONLY : 0);
  await mount(source, target, fstype, flags, opts.data ?? null);
}

/**
 * Mounts on a fresh, empty scratch directory that the mount then owns: a failed mount removes it, and
 * `release` unmounts and removes it.
 */
export async function mountOnScratch(
  mp: string,
  source: string,
  fstype: string,
  opts: { readOnly?: boolean; data?: string } = {},
): Promise<Mounted> {
  try {
    await mountFs(source, mp, fstype, opts);
  } catch (e) {
    await fs.rmdir(mp).catch(() => undefined);
    throw e;
  }
  return {
    root: mp,
    release: async () => {
      await unmount(mp);
      await fs.rmdir(mp).catch(() => undefined);
    },
  };
}

/** Unmounts, retrying while a straggling process (udev, blkid) still holds the filesystem. */
export async function unmount(target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await umount2(target, 0);
      return;
    } catch (e) {
      if (e instanceof SyscallError && e.code === "EBUSY" && attempt < 50) {
        await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
        continue;
      }
      throw e;
    }
  }
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir`, deepest first, read from /proc/self/mountinfo. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fs.readFile("/proc/self/mountinfo", "utf8");
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return text
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((mp): mp is string => mp !== undefined)
    .map(unescapeMountinfo)
    .filter((mp) => mp === dir || mp.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

export async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(dir);
}
