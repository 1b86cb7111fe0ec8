/** What is on the host for a container, read without mounting anything. */
import path from "path";
import { InvalidInput } from "../core/errors";
import { parseRootfsString } from "../core/rootfs-string";
import { Observed, RootfsSpec } from "../core/types";
import { DRIVERS } from "../drivers";
import { Driver, Location, OpContext } from "../drivers/types";
import { configValue, isManaged, readConfig } from "../host/lxc-config";
import { lstatOrNull } from "../host/paths";
import { isSubvolume } from "../drivers/btrfs";

export interface Current {
  driver: Driver;
  loc: Location;
  observed: Observed;
}

/** Guesses the store of a container with no `lxc.rootfs.path`, from the names LXC gives its storage. */
async function probeLocal(containerDir: string): Promise<string | undefined> {
  const rootdev = await lstatOrNull(path.join(containerDir, "rootdev"));
  if (rootdev?.isFile()) return `loop:${containerDir}/rootdev`;
  const rootfs = path.join(containerDir, "rootfs");
  const st = await lstatOrNull(rootfs);
  if (st?.isDirectory()) return (await isSubvolume(rootfs)) ? `btrfs:${rootfs}` : `dir:${rootfs}`;
  return undefined;
}

/** Locates the container's current storage: the config's lxc.rootfs.path, else the spec's store, else LXC's names. */
export async function locateCurrent(ctx: OpContext, spec: RootfsSpec): Promise<{ driver: Driver; loc: Location; managed: boolean } | null> {
  const config = await readConfig(ctx.containerDir);
  const managed = isManaged(config);
  const configured = configValue(config, "lxc.rootfs.path");
  if (configured) {
    const ref = parseRootfsString(configured, "lxc.rootfs.path");
    const driver = DRIVERS[ref.store];
    const loc = driver.fromRef(ref, ctx.containerDir);
    return (await driver.exists(ctx, loc)) ? { driver, loc, managed } : null;
  }
  const wanted = DRIVERS[spec.backingStore];
  if (!wanted.caps.needsLower || spec.from !== undefined) {
    const loc = wanted.locate(spec, ctx.containerDir);
    if (await wanted.exists(ctx, loc)) return { driver: wanted, loc, managed };
  }
  const probed = await probeLocal(ctx.containerDir);
  if (!probed) return null;
  const ref = parseRootfsString(probed, "rootfs");
  return { driver: DRIVERS[ref.store], loc: DRIVERS[ref.store].fromRef(ref, ctx.containerDir), managed };
}

export async function observeAt(ctx: OpContext, spec: RootfsSpec, driver: Driver, loc: Location, managed: boolean): Promise<Observed> {
  const usage = await driver.inspect(ctx, loc);
  return {
    container: spec.container,
    lxcPath: spec.lxcPath,
    backingStore: driver.store,
    rootfsPath: loc.rootfsPath,
    ...usage,
    managed,
  };
}

export async function observeCurrent(ctx: OpContext, spec: RootfsSpec): Promise<Current | null> {
  const found = await locateCurrent(ctx, spec);
  if (!found) return null;
  return { driver: found.driver, loc: found.loc, observed: await observeAt(ctx, spec, found.driver, found.loc, found.managed) };
}

/** A `from` rootfs: it must exist, and is read, never written. */
export async function observeSource(ctx: OpContext, from: string) {
  const ref = parseRootfsString(from, "from");
  const driver = DRIVERS[ref.store];
  const loc = driver.fromRef(ref, path.dirname(ref.path));
  if (!(await driver.exists(ctx, loc).catch(() => false))) {
    throw new InvalidInput("from", from, "an existing rootfs; nothing is there");
  }
  return { driver, loc, usage: await driver.inspect(ctx, loc) };
}
