/** The one table of backing stores, and what dispatches on it. Adding a store is one file and one row. */
import { InvalidInput } from "../model/errors";
import { Store } from "../model/requests";
import { btrfsDriver } from "./btrfs";
import { dirDriver } from "./dir";
import { loopDriver } from "./loop";
import { lvmDriver } from "./lvm";
import { overlayDriver } from "./overlay";
import { ROOTFS_STRING_FORMS } from "./syntax";
import { BlockDriver, Driver, Location } from "./types";
import { zfsDriver } from "./zfs";

export const DRIVERS: Readonly<Record<Store, Driver>> = {
  dir: dirDriver,
  loop: loopDriver,
  btrfs: btrfsDriver,
  overlay: overlayDriver,
  lvm: lvmDriver,
  zfs: zfsDriver,
};

/** LXC's own names in a container directory with no `lxc.rootfs.path`, most specific first (a subvolume is also a directory). */
const DETECT_ORDER: readonly Driver[] = [loopDriver, btrfsDriver, dirDriver];

export interface Found {
  driver: Driver;
  loc: Location;
}

/**
 * Parses an LXC rootfs string for a container directory. The prefix is required, except that a bare
 * absolute path is taken as `dir:` the way LXC itself reads it. Newlines and NULs are never part of one.
 */
export function parseRootfsString(value: unknown, property: string, containerDir: string): Found {
  if (typeof value !== "string" || value.length === 0 || /[\n\0]/.test(value)) throw new InvalidInput(property, value, ROOTFS_STRING_FORMS);
  const colon = value.startsWith("/") ? -1 : value.indexOf(":");
  const prefix = colon < 0 ? "dir" : value.slice(0, colon);
  const driver = Object.values(DRIVERS).find((d) => d.prefixes.includes(prefix));
  const loc = driver?.parse(value.slice(colon + 1), containerDir);
  if (!driver || !loc) throw new InvalidInput(property, value, ROOTFS_STRING_FORMS);
  return { driver, loc };
}

/** The store LXC made under its own names in a container directory, if any. */
export async function detectRootfs(containerDir: string): Promise<Found | null> {
  for (const driver of DETECT_ORDER) {
    const loc = await driver.detect?.(containerDir);
    if (loc) return { driver, loc };
  }
  return null;
}

/** The stores with a capability, for messages ("only loop, lvm, btrfs and zfs take one"). */
export function storesWhere(test: (d: Driver) => boolean): Store[] {
  return Object.values(DRIVERS)
    .filter(test)
    .map((d) => d.store);
}

export function isBlock(driver: Driver): driver is BlockDriver {
  return driver.kind === "block";
}

/** Whether a store is a block device holding a filesystem. */
export function isBlockStore(store: Store): boolean {
  return isBlock(DRIVERS[store]);
}

/** Whether a store can fill a new store of its own kind without copying (a btrfs snapshot). */
export function canClone(store: Store): boolean {
  const driver = DRIVERS[store];
  return driver.kind === "tree" && driver.cloneFrom !== undefined;
}

/** Whether a store's files are reached without mounting anything: the host's own files, at its path. */
export function filesWithoutMount(store: Store): boolean {
  return DRIVERS[store].caps.sharesHostFiles;
}

/**
 * Whether a file copy between two stores can share extents: both are trees of the host's own files (whether
 * the host's filesystem shares them is the copy's to find out).
 */
export function copySharesExtents(from: Store, to: Store): boolean {
  return DRIVERS[from].caps.sharesHostFiles && DRIVERS[to].caps.sharesHostFiles;
}

export type { BlockDriver, Driver, Location, OpContext, Slot, StoreUsage, TreeDriver } from "./types";
