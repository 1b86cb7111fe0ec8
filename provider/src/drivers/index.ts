import { Store } from "../model/requests";
import { btrfsDriver } from "./btrfs";
import { dirDriver } from "./dir";
import { loopDriver } from "./loop";
import { lvmDriver } from "./lvm";
import { overlayDriver } from "./overlay";
import { Driver } from "./types";
import { zfsDriver } from "./zfs";

/** The one table of backing stores. Adding a store is one file and one row. */
export const DRIVERS: Readonly<Record<Store, Driver>> = {
  dir: dirDriver,
  loop: loopDriver,
  btrfs: btrfsDriver,
  overlay: overlayDriver,
  lvm: lvmDriver,
  zfs: zfsDriver,
};

export function driverFor(store: Store): Driver {
  return DRIVERS[store];
}

export type { Driver, Location, OpContext, Slot, StoreUsage } from "./types";
