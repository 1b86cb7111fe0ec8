/** The host checks an operation makes before it touches anything: room, ownership, nothing using the store. */
import { promises as fs } from "fs";
import path from "path";
import { InUse, InvalidInput, NoSpace, Unsafe } from "../model/errors";
import { IDMAPPABLE_FS, NOT_IDMAPPABLE_FS } from "../model/filesystems";
import { Driver, Location, OpContext } from "../drivers/types";
import { isBlock, parseRootfsString } from "../drivers";
import { heldFor } from "../host/held";
import { configValue, readConfig } from "../host/lxc-config";
import { mountsOfTree, mountsUnder } from "../host/mounts";
import { assertInside, lstatOrNull } from "../host/paths";
import { spellingsOf } from "./context";

/** What a new or grown store takes: its capacity, and the bytes that will be written into it. */
export interface SpaceNeed {
  sizeBytes: number;
  dataBytes: number;
}

/**
 * The filesystem `dir` will be made on: its own, or its nearest existing parent's. A create's preview
 * asks before the container directory (or the lxcPath) exists.
 */
async function statfsNearest(dir: string): Promise<{ bavail: number; bsize: number; type: number }> {
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      return await fs.statfs(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || at === "/") throw e;
    }
  }
}

/**
 * Refuses, before anything is made, a store its host could not hold once written. On the host filesystem
 * a loop image counts at its full size (sparse now, but a container that fills it must not hit ENOSPC
 * underneath its filesystem), a tree at the bytes copied into it. A volume (an LV, a dataset) asks its
 * volume manager: a thin pool or a pool that runs full mid-copy fails slowly and less clearly than this.
 */
export async function assertSpace(ctx: OpContext, driver: Driver, loc: Location, need: SpaceNeed): Promise<void> {
  if (!loc.localRoot) return driver.assertRoom?.(ctx, loc, need);
  const neededBytes = isBlock(driver) ? need.sizeBytes : need.dataBytes;
  if (neededBytes <= 0) return;
  const { bavail, bsize } = await statfsNearest(ctx.containerDir);
  const available = bavail * bsize;
  if (neededBytes > available) throw new NoSpace(`${ctx.containerDir} (${driver.store})`, neededBytes, available);
}

/**
 * Refuses `idmapMode: "mount"` for a rootfs at `loc` on a filesystem whose mounts the kernel cannot idmap
 * (zfs 2.1, overlay): LXC would fail at start, with the rootfs already made. The filesystem is the
 * directory's own, or its nearest existing parent's (a create's preview asks before it exists).
 */
export async function assertIdmappable(loc: Location): Promise<void> {
  const { type } = await statfsNearest(loc.path);
  if (IDMAPPABLE_FS.has(type)) return;
  const name = NOT_IDMAPPABLE_FS.get(type) ?? `a filesystem of statfs type 0x${type.toString(16)}`;
  throw new InvalidInput(
    "idmapMode",
    "mount",
    `shift here: ${loc.path} is on ${name}, whose mounts the kernel cannot idmap (LXC's idmap=container needs ${[...IDMAPPABLE_FS.values()].join(", ")})`,
  );
}

/**
 * Refuses to change a store that is not this container's own: one whose rootfs string points outside
 * `<lxcPath>/<container>`, or reached through a symbolic link. Inspecting it stays allowed. Inside means
 * inside the directory this operation holds, by name or by identity: a config LXC wrote through another
 * spelling of the lxcPath (a symlink to the real one) names the same directory.
 */
export async function assertOwned(ctx: OpContext, loc: Location): Promise<void> {
  for (const p of [loc.localRoot, loc.mountPoint]) {
    if (p === undefined) continue;
    const held = await heldFor(p, ctx.containerDir);
    if (!held) assertInside(ctx.containerDir, p);
    const rel = held ? held.rel.split(path.sep) : path.relative(ctx.containerDir, p).split(path.sep);
    for (let i = 1; i <= rel.length; i++) {
      const step = path.join(ctx.containerDir, ...rel.slice(0, i));
      const st = await lstatOrNull(step);
      if (st?.isSymbolicLink()) throw new Unsafe(`refusing to change ${p}: ${step} is a symbolic link`);
    }
  }
}

/**
 * Whether LXC says the container is running (`lxc-info -s`), asked under every spelling of its lxcPath:
 * LXC finds a running container by the lxcPath string it was started with, so a container started through
 * a symlinked lxcPath is unknown to lxc-info under the canonical one, and the reverse.
 */
async function lxcSaysRunning(ctx: OpContext): Promise<boolean> {
  if (!(await lstatOrNull(path.join(ctx.containerDir, "config")))) return false;
  for (const dir of spellingsOf(ctx)) {
    try {
      const { stdout } = await ctx.run(["lxc-info", "-P", path.dirname(dir), "-n", path.basename(dir), "-s"]);
      if (/State:\s+(RUNNING|STARTING|FREEZING|FROZEN|THAWED)/.test(stdout)) return true;
    } catch {
      // LXC does not know it under this spelling.
    }
  }
  return false;
}

/** The containers beside this one (same lxcPath) whose overlay rootfs has `dir` as its lower layer. */
async function overlaysOver(ctx: OpContext, dir: string): Promise<string[]> {
  const own = await fs.stat(dir).catch(() => null);
  if (!own) return [];
  const lxcPath = path.dirname(ctx.containerDir);
  const users: string[] = [];
  for (const name of await fs.readdir(lxcPath).catch(() => [] as string[])) {
    const sibling = path.join(lxcPath, name);
    if (sibling === ctx.containerDir) continue;
    // A sibling's config is its owner's: unreadable, odd or absent, it names no lower layer of ours.
    const value = configValue(await readConfig(sibling).catch(() => null), "lxc.rootfs.path");
    if (!value) continue;
    let lower: string | undefined;
    try {
      const { driver, loc } = parseRootfsString(value, "lxc.rootfs.path", sibling);
      lower = driver.lowerOf?.(loc);
    } catch {
      continue;
    }
    const st = lower ? await fs.stat(lower).catch(() => null) : null;
    if (st && st.dev === own.dev && st.ino === own.ino) users.push(name);
  }
  return users;
}

/**
 * Refuses to move, resize offline or destroy storage in use: its container running (LXC says so under
 * either spelling of the lxcPath, or the tree is mounted in some mount namespace, the container's own
 * included), a mount on it or of it anywhere (a bind mount elsewhere), a loop device, or another
 * container's overlay over it (LXC refuses to destroy an overlay's lower layer too).
 */
export async function assertNotInUse(ctx: OpContext, driver: Driver, loc: Location): Promise<void> {
  if (await lxcSaysRunning(ctx)) throw new InUse(ctx.containerDir, "lxc-info says the container is running");
  if (loc.localRoot) {
    const mounts = (await mountsUnder(loc.localRoot)).filter((m) => m !== loc.mountPoint);
    if (mounts.length) throw new InUse(loc.localRoot, `mounted at ${mounts.join(", ")}`);
    if (driver.kind === "tree") {
      const real = await fs.realpath(loc.path).catch(() => null);
      const elsewhere = real ? await mountsOfTree(real) : [];
      if (elsewhere.length) throw new InUse(loc.path, `mounted at ${elsewhere.join(", ")}: a running container's root, or a bind mount`);
      const overlays = await overlaysOver(ctx, loc.path);
      if (overlays.length) throw new InUse(loc.path, `the lower layer of the overlay rootfs of ${overlays.join(", ")}`);
    }
  }
  if (loc.mountPoint && (await mountsUnder(loc.mountPoint)).length) throw new InUse(loc.mountPoint, "mounted");
  const holders = driver.kind === "block" ? ((await driver.holders?.(loc)) ?? []) : [];
  if (holders.length) throw new InUse(loc.path, `attached to ${holders.join(", ")}`);
}
