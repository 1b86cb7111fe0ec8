import { RootfsRef } from "./syntax";
import { Fstype, RootfsSpec, Store } from "../model/requests";
import { Mounted } from "../host/mounts";
import { Runner } from "../host/run";

/** Where one rootfs lives. Slots let an operation build the new store beside the old one, then swap. */
export type Slot = "final" | "new" | "old";

export interface Location {
  store: Store;
  /** The `lxc.rootfs.path` string of this location. */
  rootfsPath: string;
  /** The object holding the data: image, directory, subvolume, overlay upper dir, LV device or dataset. */
  path: string;
  /** Overlay only: the read-only lower directory. */
  lower?: string;
  /**
   * The host path an operation removes when it destroys this store, for stores kept under the container
   * directory; it must stay inside `<lxcPath>/<container>`. Undefined for volumes (LV, dataset).
   */
  localRoot?: string;
  /** Loop, final slot: the empty directory LXC mounts the image on (`<lxcPath>/<container>/rootfs`). */
  mountPoint?: string;
}

/** What the storage reports about itself, without mounting. */
export interface StoreUsage {
  sizeBytes: number | null;
  fstype: Fstype | null;
  allocatedBytes: number;
  usedBytes: number;
}

/** An attached block device (a loop device over an image, or an LV). */
export interface BlockDevice {
  path: string;
  /** Re-reads the size after the backing object grew (LOOP_SET_CAPACITY). */
  refreshCapacity(): Promise<void>;
  release(): Promise<void>;
}

export interface OpContext {
  run: Runner;
  /** `<lxcPath>/<container>`. */
  containerDir: string;
  /** A fresh empty directory under the container directory, for a temporary mount point. */
  scratchDir(label: string): Promise<string>;
  log(message: string): void;
}

/**
 * Capabilities are data: callers test these, never a store's name.
 * - isBlock: the store is a block device holding a filesystem of `fstype` (loop, lvm).
 * - sized: the store enforces `size` (block device size, btrfs qgroup, zfs quota).
 * - needsLower: the store is a layer over a lower rootfs given by `from` (overlay).
 */
export interface Capabilities {
  isBlock: boolean;
  sized: boolean;
  needsLower: boolean;
  canSnapshot: boolean;
  /** Whether the test suite drives this backend on a real kernel (README support matrix). */
  kernelVerified: boolean;
}

export interface CreateOptions {
  size?: number;
  fstype?: Fstype;
  /** Block stores: make the filesystem. False when a block copy will fill the device. */
  format: boolean;
}

export interface Driver {
  readonly store: Store;
  readonly caps: Capabilities;
  /** Where a container's store lives (the final slot). Pure. */
  locate(spec: RootfsSpec, containerDir: string): Location;
  /** The same store in another slot: a sibling name under the same parent. Pure. */
  relocate(final: Location, slot: Slot): Location;
  /** The location a parsed rootfs string names, for a container directory. Pure. */
  fromRef(ref: RootfsRef, containerDir: string): Location;
  exists(ctx: OpContext, loc: Location): Promise<boolean>;
  /** Checks the host can hold this store (btrfs filesystem, volume group, pool) before anything is made. */
  precheck?(ctx: OpContext, spec: RootfsSpec, lxcPath: string): Promise<void>;
  inspect(ctx: OpContext, loc: Location): Promise<StoreUsage>;
  /** Makes an empty store (formatted, for block stores with `format`). Never overwrites. */
  create(ctx: OpContext, loc: Location, opts: CreateOptions): Promise<void>;
  /** Renames a store between slots. */
  move(ctx: OpContext, from: Location, to: Location): Promise<void>;
  destroy(ctx: OpContext, loc: Location): Promise<void>;
  /** Makes what LXC needs next to the final store (the loop mount point). */
  finalize?(ctx: OpContext, loc: Location): Promise<void>;

  /** Tree stores: a mounted (or plain) view of the files. Block stores are mounted generically. */
  mountTree?(ctx: OpContext, loc: Location, readOnly: boolean): Promise<Mounted>;
  /** Block stores: the image or device path whose bytes a block copy reads and writes. */
  blockPath?(loc: Location): string;
  attach?(ctx: OpContext, loc: Location, readOnly: boolean): Promise<BlockDevice>;
  /** Block stores: set the device size (the filesystem is resized separately). */
  resizeDevice?(ctx: OpContext, loc: Location, size: number): Promise<void>;
  /** Sized tree stores: set the limit (btrfs qgroup, zfs quota). */
  setLimit?(ctx: OpContext, loc: Location, size: number): Promise<void>;
  /** A copy cheaper than a file copy (btrfs snapshot on the same filesystem); false when it does not apply. */
  cloneFrom?(ctx: OpContext, src: Location, srcDriver: Driver, dst: Location): Promise<boolean>;
}

export const SLOT_SUFFIX: Record<Slot, string> = { final: "", new: ".lxc-rootfs-new", old: ".lxc-rootfs-old" };
