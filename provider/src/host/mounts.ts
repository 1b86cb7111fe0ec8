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

/** One line of a mountinfo table (proc(5)). */
export interface MountEntry {
  /** major:minor of the filesystem mounted. */
  device: string;
  /** The directory of that filesystem which is mounted (not `/` for a bind mount of a subdirectory). */
  root: string;
  mountPoint: string;
  fstype: string;
  /** What is mounted, as the filesystem names it: a device, a dataset, `overlay`. */
  source: string;
  superOptions: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (f.length < 10 || dash < 0) continue;
    entries.push({
      device: f[2],
      root: unescapeMountinfo(f[3]),
      mountPoint: unescapeMountinfo(f[4]),
      fstype: f[dash + 1],
      source: unescapeMountinfo(f[dash + 2] ?? ""),
      superOptions: unescapeMountinfo(f[dash + 3] ?? ""),
    });
  }
  return entries;
}

/** Where `source` (a dataset's name, say) is mounted in this process's namespace, its first mount; null when it is not. */
export async function mountedAt(source: string): Promise<string | null> {
  const entry = parseMountinfo(await fs.readFile("/proc/self/mountinfo", "utf8")).find((m) => m.source === source && m.root === "/");
  return entry?.mountPoint ?? null;
}

/** The mount tables of every mount namespace on the host, one per namespace (read through a process in it). */
async function everyMountTable(): Promise<{ pid: string; entries: MountEntry[] }[]> {
  const seen = new Set<string>();
  const tables: { pid: string; entries: MountEntry[] }[] = [];
  for (const pid of ["self", ...(await fs.readdir("/proc")).filter((e) => /^\d+$/.test(e))]) {
    const ns = await fs.readlink(`/proc/${pid}/ns/mnt`).catch(() => null);
    if (ns === null || seen.has(ns)) continue;
    // A process that exits between the two reads takes its table with it: nothing to see there.
    const text = await fs.readFile(`/proc/${pid}/mountinfo`, "utf8").catch(() => null);
    if (text === null) continue;
    seen.add(ns);
    tables.push({ pid, entries: parseMountinfo(text) });
  }
  return tables;
}

const isAtOrUnder = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);

/**
 * Where the tree at `dir` (a canonical path) is mounted, in any mount namespace, other than as part of the
 * mount that holds it here: a bind mount of it or of a directory in it (the `root` field names it, whatever
 * the mount point), a running container's root (LXC bind-mounts the rootfs into the container's own
 * namespace, whatever spelling of the lxcPath started it), an overlay using it as a layer. Each as
 * "<mount point> (pid <n>'s namespace)".
 */
export async function mountsOfTree(dir: string): Promise<string[]> {
  const own = parseMountinfo(await fs.readFile("/proc/self/mountinfo", "utf8"));
  // The mount holding `dir` here: the last of the deepest mount points above it (later mounts cover earlier).
  let holder: MountEntry | undefined;
  for (const m of own) if (isAtOrUnder(dir, m.mountPoint) && (!holder || m.mountPoint.length >= holder.mountPoint.length)) holder = m;
  if (!holder) return [];
  const rel = dir.slice(holder.mountPoint.length).replace(/^\/*/, "");
  const rootInFs = rel ? `${holder.root.replace(/\/$/, "")}/${rel}` : holder.root;
  const layerOf = (m: MountEntry) =>
    m.fstype === "overlay" &&
    m.superOptions.split(",").some(
      (o) =>
        /^(lowerdir|upperdir)=/.test(o) &&
        o
          .replace(/^\w+=/, "")
          .split(":")
          .some((l) => isAtOrUnder(l, dir)),
    );
  const found: string[] = [];
  for (const { pid, entries } of await everyMountTable()) {
    for (const m of entries) {
      if ((m.device === holder.device && isAtOrUnder(m.root, rootInFs) && m.root !== holder.root) || layerOf(m)) {
        found.push(`${m.mountPoint}${pid === "self" ? "" : ` (pid ${pid}'s namespace)`}`);
      }
    }
  }
  return [...new Set(found)];
}
