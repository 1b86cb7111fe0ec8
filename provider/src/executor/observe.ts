/** What is on the host for a container, read without mounting anything. */
import { InvalidInput, SourceMissing, Unsafe } from "../model/errors";
import { ContainerRef, RootfsSpec } from "../model/requests";
import { Observed } from "../model/results";
import { StoreShape } from "../model/plans";
import { detectRootfs, Driver, Found, isBlock, Location, OpContext, parseRootfsString } from "../drivers";
import { configPath, configuredIdmapMode, configuredRootfs, isManaged, readContainerConfig } from "../host/lxc-config";
import { checkSourcePath } from "../host/sources";
import { canonicalSpelling } from "../host/paths";

export interface Current {
  driver: Driver;
  loc: Location;
  observed: Observed;
}

/** The config's rootfs string: host data, so a bad one is refused naming the file, not an input. */
function fromConfig(containerDir: string, value: string): Found {
  try {
    return parseRootfsString(value, "lxc.rootfs.path", containerDir);
  } catch (e) {
    if (!(e instanceof InvalidInput)) throw e;
    throw new Unsafe(`refusing to use ${configPath(containerDir)}: its ${e.message}`);
  }
}

/**
 * Whether `found` is where its store puts this container's rootfs: `rootfs`, `rootdev` or `overlay` under
 * the container directory, the LV named after the container (in whichever volume group), the dataset named
 * after it (under whichever parent). Never a snapshot's storage, a slot's temporary name, a pool's root or
 * another container's volume: a hint is taken from the state or a flag, and destroy acts on what it names.
 */
function isOwnPlace(ref: ContainerRef, containerDir: string, { driver, loc }: Found): boolean {
  const options = { ...driver.optionsOf(loc) };
  // The volume group or parent dataset is the hint's own; the volume's name must be the container's.
  delete options.lvName;
  const spec: RootfsSpec = { ...ref, ...options, backingStore: driver.store, from: driver.lowerOf?.(loc) };
  try {
    const own = driver.locate(spec, containerDir);
    return own.path === loc.path && own.localRoot === loc.localRoot;
  } catch (e) {
    // A lower layer locate refuses (a snapshot's storage) is no overlay of ours.
    if (e instanceof InvalidInput) return false;
    throw e;
  }
}

/** Where the state last saw the rootfs, for a config that names none: only this container's own place. */
async function hinted(ctx: OpContext, ref: ContainerRef): Promise<Found | null> {
  if (ref.rootfsPath === undefined) return null;
  const found = parseRootfsString(await canonicalSpelling(ref.rootfsPath, ctx.containerDir), "rootfsPath", ctx.containerDir);
  if (isOwnPlace(ref, ctx.containerDir, found)) return found;
  ctx.log(`ignoring rootfsPath ${ref.rootfsPath}: it is not where container ${ref.container}'s own ${found.driver.store} rootfs would be`);
  return null;
}

/**
 * Locates the container's current storage: the config's lxc.rootfs.path, else the recorded place, else
 * LXC's names. A line destroy left (naming storage it removed) means there is none.
 */
export async function locateCurrent(ctx: OpContext, ref: ContainerRef): Promise<(Found & { managed: boolean }) | null> {
  const config = await readContainerConfig(ctx.containerDir);
  const managed = isManaged(config);
  const configured = configuredRootfs(config);
  if (configured?.destroyed) return null;
  if (configured) {
    const found = fromConfig(ctx.containerDir, await canonicalSpelling(configured.value, ctx.containerDir));
    return (await found.driver.exists(ctx, found.loc)) ? { ...found, managed } : null;
  }
  const hint = await hinted(ctx, ref);
  if (hint && (await hint.driver.exists(ctx, hint.loc))) return { ...hint, managed };
  const detected = await detectRootfs(ctx.containerDir);
  return detected && { ...detected, managed };
}

export async function observeAt(ctx: OpContext, ref: ContainerRef, driver: Driver, loc: Location, managed: boolean): Promise<Observed> {
  const usage = await driver.inspect(ctx, loc);
  const { mode: idmapMode } = configuredIdmapMode(await readContainerConfig(ctx.containerDir));
  return {
    container: ref.container,
    lxcPath: ref.lxcPath,
    backingStore: driver.store,
    rootfsPath: loc.rootfsPath,
    ...usage,
    managed,
    idmapMode,
  };
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
    throw new SourceMissing(from);
  }
  // Host paths (not volumes) are checked against the host's root and kernel filesystems.
  const lower = driver.lowerOf?.(loc);
  if (loc.localRoot !== undefined) await checkSourcePath(from, [loc.path, ...(lower ? [lower] : [])]);
  const problem = await driver.sourceProblem?.(loc);
  if (problem) throw new InvalidInput("from", from, problem);
  const usage = await driver.inspect(ctx, loc);
  if (isBlock(driver) && usage.fstype === null)
    throw new InvalidInput("from", from, "a block rootfs holding ext2/3/4, xfs or btrfs; no filesystem was found in it");
  return { driver, loc, usage };
}
