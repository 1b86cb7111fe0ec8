/** What is on the host for a container, read without mounting anything. */
import { InvalidInput, Unsafe } from "../model/errors";
import { ContainerRef } from "../model/requests";
import { Observed } from "../model/results";
import { StoreShape } from "../model/plans";
import { detectRootfs, Driver, Found, isBlock, Location, OpContext, parseRootfsString } from "../drivers";
import { configPath, configValue, isManaged, readConfig } from "../host/lxc-config";
import { checkSourcePath } from "../host/sources";
import { isInside } from "../host/paths";

export interface Current {
  driver: Driver;
  loc: Location;
  observed: Observed;
}

/** The config's rootfs string: host data, so a bad one is refused naming the file, not an input. */
function configured(containerDir: string, value: string): Found {
  try {
    return parseRootfsString(value, "lxc.rootfs.path", containerDir);
  } catch (e) {
    if (!(e instanceof InvalidInput)) throw e;
    throw new Unsafe(`refusing to use ${configPath(containerDir)}: its ${e.message}`);
  }
}

/**
 * Where the state last saw the rootfs, for a config that names none: a volume (LV, dataset) it names, or
 * a store inside the container directory; never a path elsewhere on the host.
 */
function hinted(containerDir: string, rootfsPath: string | undefined): Found | null {
  if (rootfsPath === undefined) return null;
  const found = parseRootfsString(rootfsPath, "rootfsPath", containerDir);
  return found.loc.localRoot === undefined || isInside(containerDir, found.loc.localRoot) ? found : null;
}

/** Locates the container's current storage: the config's lxc.rootfs.path, else the recorded place, else LXC's names. */
export async function locateCurrent(ctx: OpContext, ref: ContainerRef): Promise<(Found & { managed: boolean }) | null> {
  const config = await readConfig(ctx.containerDir);
  const managed = isManaged(config);
  const value = configValue(config, "lxc.rootfs.path");
  if (value) {
    const found = configured(ctx.containerDir, value);
    return (await found.driver.exists(ctx, found.loc)) ? { ...found, managed } : null;
  }
  const hint = hinted(ctx.containerDir, ref.rootfsPath);
  if (hint && (await hint.driver.exists(ctx, hint.loc))) return { ...hint, managed };
  const detected = await detectRootfs(ctx.containerDir);
  return detected && { ...detected, managed };
}

export async function observeAt(ctx: OpContext, ref: ContainerRef, driver: Driver, loc: Location, managed: boolean): Promise<Observed> {
  const usage = await driver.inspect(ctx, loc);
  return { container: ref.container, lxcPath: ref.lxcPath, backingStore: driver.store, rootfsPath: loc.rootfsPath, ...usage, managed };
}

export async function observeCurrent(ctx: OpContext, ref: ContainerRef): Promise<Current | null> {
  const found = await locateCurrent(ctx, ref);
  if (!found) return null;
  return { driver: found.driver, loc: found.loc, observed: await observeAt(ctx, ref, found.driver, found.loc, found.managed) };
}

/** The planner's view of what is there. */
export function shapeOf(current: Current): StoreShape {
  return { ...current.observed, store: current.driver.store, rootfsPath: current.loc.rootfsPath };
}

/** A `from` rootfs: it must exist, and is read, never written. */
export async function observeSource(ctx: OpContext, from: string) {
  // A source belongs to no container of ours: it is read through its own path, never LXC's mount point.
  const { driver, loc } = parseRootfsString(from, "from", "/");
  if (!(await driver.exists(ctx, loc).catch(() => false))) {
    throw new InvalidInput("from", from, "an existing rootfs; nothing is there");
  }
  // Host paths (not volumes) are checked against the host's root and kernel filesystems.
  if (loc.localRoot !== undefined) await checkSourcePath(from, [loc.path, ...(loc.lower ? [loc.lower] : [])]);
  const problem = await driver.sourceProblem?.(loc);
  if (problem) throw new InvalidInput("from", from, problem);
  const usage = await driver.inspect(ctx, loc);
  if (isBlock(driver) && usage.fstype === null)
    throw new InvalidInput("from", from, "a block rootfs holding ext2/3/4, xfs or btrfs; no filesystem was found in it");
  return { driver, loc, usage };
}
