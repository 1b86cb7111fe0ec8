/**
 * The id map a rootfs's owners are in, as a refresh or an import sees it without mounting anything: where
 * its files are a tree the host can read as it is (dir, btrfs, a dataset mounted on the host), a root
 * owned by another map's root than the recorded one is drift. The map it is in then is one whose root owns
 * it, and which maps every id of the entries right below it: host root's (none), the config's lxc.idmap,
 * or 65536 ids from the root's owner, Proxmox's and LXC's default (the next update's survey checks
 * whichever it is before it shifts). A loop or LVM image is never mounted for this (a running container
 * may hold it): its recorded map stands.
 */
import { promises as fs } from "fs";
import path from "path";
import { OpContext } from "../drivers";
import { configuredIdmap, readContainerConfig } from "../host/lxc-config";
import { mountedAt } from "../host/mounts";
import { Idmap, IdmapEntry, idmapEntriesOf, idmapOf, MAX_ID, toContainer, toHost } from "../model/idmap";
import { Current } from "./observe";

/** How many entries below the root a refresh reads: enough to see a tree chowned by hand, cheap on any tree. */
const SAMPLE = 64;

/** The directory where the rootfs's files are on the host as they are, or null where they would need a mount. */
async function treeOnHost({ driver, loc }: Current): Promise<string | null> {
  if (driver.kind !== "tree") return null;
  if (loc.localRoot !== undefined) return loc.path;
  return mountedAt(loc.path);
}

const owns = (map: Idmap | null, st: { uid: number; gid: number }) => st.uid === toHost(map, "uid", 0) && st.gid === toHost(map, "gid", 0);

/**
 * The map the owners are in when it is not `recorded` (undefined: none recorded, a privileged rootfs or an
 * import), as `idmap` entries; undefined when the root is the recorded map's root's, or cannot be read
 * without a mount. Of the maps whose root owns the root, the first that maps every id of the sample.
 */
export async function idmapSeen(ctx: OpContext, current: Current, recorded: IdmapEntry[] | undefined): Promise<IdmapEntry[] | undefined> {
  const dir = await treeOnHost(current);
  if (dir === null) return undefined;
  const root = await fs.lstat(dir).catch(() => null);
  if (!root?.isDirectory() || owns(recorded === undefined ? null : idmapOf(recorded), root)) return undefined;
  const names = (await fs.readdir(dir).catch(() => [] as string[])).slice(0, SAMPLE);
  const sample = (await Promise.all(names.map((n) => fs.lstat(path.join(dir, n)).catch(() => null)))).filter((st) => st !== null);
  const mapsAll = (map: Idmap | null) =>
    sample.every((st) => toContainer(map, "uid", st.uid) !== null && toContainer(map, "gid", st.gid) !== null);
  // Up to the last id a map may hold.
  const from = (hostId: number) => ({ containerId: 0, hostId, size: Math.min(65536, MAX_ID + 1 - hostId) });
  const guessed = idmapOf([
    { kind: "uid", ...from(root.uid) },
    { kind: "gid", ...from(root.gid) },
  ]);
  const candidates = [null, configuredIdmap(await readContainerConfig(ctx.containerDir)), guessed].filter(
    (m, i) => (i === 0 || m !== null) && owns(m, root),
  );
  // Found by index: a candidate may be null (none), which `??` would pass over.
  const i = candidates.findIndex(mapsAll);
  return idmapEntriesOf(candidates.length ? candidates[Math.max(i, 0)] : guessed);
}
