import { RootfsError } from "../model/errors";
import { Fstype, RootfsSpec, Store, StoreOption, StoreOptions } from "../model/requests";
import { StoreUsage } from "../model/usage";
import { Mounted } from "../host/mounts";
import { Runner } from "../host/run";

export type { StoreUsage };

/** Where one rootfs lives. Slots let an operation build the new store beside the old one, then swap. */
export type Slot = "final" | "new" | "old";

/** What every location has, whatever its store: all that code outside the drivers reads. */
interface LocationBase<S extends Store> {
  store: S;
  /** The `lxc.rootfs.path` string of this location. */
  rootfsPath: string;
  /** The object holding the data: image, directory, subvolume, overlay upper dir, LV device or dataset. */
  path: string;
  /**
   * The host path an operation removes when it destroys this store, for stores kept under the container
   * directory; it must stay inside `<lxcPath>/<container>`. Undefined for volumes (LV, dataset).
   */
  localRoot?: string;
  /** The directory LXC mounts the store on (`<lxcPath>/<container>/rootfs` for loop and zfs). */
  mountPoint?: string;
}

/** What a store's locations hold besides the base, read by its driver alone; a store with nothing more has no row. */
interface StoreFields {
  overlay: {
    /** The read-only lower directory. */
    lower: string;
  };
  lvm: { vg: string; lv: string; thinPool?: string };
}

/** A location of one store: what its driver narrows a `Location` to. */
export type LocationOf<S extends Store> = LocationBase<S> & (S extends keyof StoreFields ? StoreFields[S] : unknown);

export type Location = { [S in Store]: LocationOf<S> }[Store];

/** The stores whose locations are the base alone, with no fields of their own. */
export type PlainStore = Exclude<Store, keyof StoreFields>;

/** A driver's own location: one of another store handed to it is a bug in the caller, stopped before any command. */
export function ownLocation<S extends Store>(store: S, loc: Location): LocationOf<S> {
  if (loc.store !== store) throw new RootfsError(`internal: a ${loc.store} location handed to the ${store} driver`);
  return loc as LocationOf<S>;
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
  /** How far long work is (`copying blocks: 1.2 GiB of 2.0 GiB, 310 MiB/s`), every few seconds while it runs. */
  progress(line: string): void;
}

/**
 * Capabilities are data: callers test these, never a store's name.
 * - sized: the store enforces `size` (block device size, btrfs qgroup, zfs quota).
 * - needsLower: the store is a layer over a lower rootfs given by `from` (overlay).
 * - sharesHostFiles: its files are the host filesystem's own, at its path: reached without a mount, and a
 *   copy between two such trees can share extents (reflinks) where that filesystem allows.
 * - kernelVerified: the test suite drives this store on a real kernel (the README's support matrix).
 * - idmappedMount: LXC mounts this store idmapped (`lxc.rootfs.options = idmap=container`, `idmapMode:
 *   "mount"`); LXC 5.0 refuses it for every storage driver but dir.
 */
export interface Capabilities {
  sized: boolean;
  needsLower: boolean;
  sharesHostFiles: boolean;
  kernelVerified: boolean;
  idmappedMount: boolean;
}

/** One store option: the names it accepts, and its default when the store is chosen without it. */
export interface OptionRule {
  pattern: RegExp;
  /** What the pattern allows, for the error. */
  allowed: string;
}

export interface CreateOptions {
  size?: number;
  fstype?: Fstype;
  /** Block stores: make the filesystem. False when a block copy will fill the device. */
  format: boolean;
}

interface DriverBase {
  readonly store: Store;
  readonly caps: Capabilities;
  /** The prefixes of the `lxc.rootfs.path` strings this store owns (`overlay` also reads `overlayfs`). */
  readonly prefixes: readonly string[];
  /** The options this store takes, and their rules. */
  readonly options: Readonly<Partial<Record<StoreOption, OptionRule>>>;
  /** The location a rootfs string's body (after the prefix) names, for a container directory; null when malformed. Pure. */
  parse(body: string, containerDir: string): Location | null;
  /** The store LXC made under its own names in a container directory with no `lxc.rootfs.path`. */
  detect?(containerDir: string): Promise<Location | null>;
  /** Where a container's store lives (the final slot). Pure. */
  locate(spec: RootfsSpec, containerDir: string): Location;
  /** The same store in another slot: a sibling name under the same parent. Pure. */
  relocate(final: Location, slot: Slot): Location;
  /** The store options a location implies, so an update that names none keeps the volume where it is. Pure. */
  optionsOf(loc: Location): StoreOptions;
  /** Refuses a `from` this store cannot layer over (overlay's lower layer). Pure. */
  checkLower?(from: string | undefined): void;
  /** Layered stores: the lower directory a location reads and never writes, as the `from` that locates it. Pure. */
  lowerOf?(loc: Location): string;
  /**
   * The rootfs string a destroyed location leaves in the config, one LXC refuses to start from; by default
   * its own. Pure.
   */
  unbootable?(loc: Location): string;
  /** Whether destroying this location would take more than one rootfs (a pool's root dataset). Pure. */
  holdsOthers?(loc: Location): boolean;
  exists(ctx: OpContext, loc: Location): Promise<boolean>;
  /**
   * Refuses, before anything is changed, to replace a store that could not be destroyed afterwards (a
   * dataset whose snapshots have clones): the swap would commit and then fail its clean-up.
   */
  assertReplaceable?(ctx: OpContext, loc: Location): Promise<void>;
  /** A clearer error for `error`, raised while the store at `loc` was made and filled, or null to keep it. */
  explainFailure?(ctx: OpContext, loc: Location, error: unknown): Promise<Error | null>;
  /**
   * Volume stores: refuses with NoSpace, before anything is made, a store of `sizeBytes` holding
   * `dataBytes` that its volume group, thin pool or pool has no room for.
   */
  assertRoom?(ctx: OpContext, loc: Location, need: { sizeBytes: number; dataBytes: number }): Promise<void>;
  /** Checks the host can hold this store (btrfs filesystem, volume group, pool) before anything is made. */
  precheck?(ctx: OpContext, spec: RootfsSpec, lxcPath: string): Promise<void>;
  /** Why a location cannot serve as a `from` source, or null. */
  sourceProblem?(loc: Location): Promise<string | null>;
  inspect(ctx: OpContext, loc: Location): Promise<StoreUsage>;
  /** Makes an empty store (formatted, for block stores with `format`). Never overwrites. */
  create(ctx: OpContext, loc: Location, opts: CreateOptions): Promise<void>;
  /** Renames a store between slots. */
  move(ctx: OpContext, from: Location, to: Location): Promise<void>;
  destroy(ctx: OpContext, loc: Location): Promise<void>;
  /**
   * Refuses, changing nothing, what `destroy` would refuse at `loc` (a symbolic link or something else in
   * its place, a loop device attached): asked before a step that commits to the destroy.
   */
  checkDestroy?(ctx: OpContext, loc: Location): Promise<void>;
  /** Makes what LXC needs next to the final store (the loop mount point, the dataset's mountpoint). */
  finalize?(ctx: OpContext, loc: Location): Promise<void>;
  /**
   * Where a snapshot of `src` lives in `snapDir` (`<container>/snaps/<name>`), under the names LXC's
   * clone into that directory gives it. Undefined for a store this tool takes no snapshot of. Pure.
   */
  snapshotAt?(src: Location, snapDir: string): Location;
  /** A snapshot better than a copy (a read-only btrfs snapshot); false when it does not apply here. */
  snapshotFrom?(ctx: OpContext, src: Location, dst: Location): Promise<boolean>;
  /** What `snapshotFrom` makes, for the plan line ("a read-only btrfs snapshot"). */
  readonly snapshotKind?: string;
  /** Volume stores: whether a volume a snapshot's config names is a snapshot (an LV or dataset with an origin). */
  isSnapshotVolume?(ctx: OpContext, loc: Location): Promise<boolean>;
}

/** A block device holding a filesystem of `fstype` (loop, lvm): attached and mounted generically. */
export interface BlockDriver extends DriverBase {
  readonly kind: "block";
  /** The image or device path whose bytes a block copy reads and writes. */
  blockPath(loc: Location): string;
  attach(ctx: OpContext, loc: Location, readOnly: boolean): Promise<BlockDevice>;
  /** Sets the device size (the filesystem is resized separately). */
  resizeDevice(ctx: OpContext, loc: Location, size: number): Promise<void>;
  /** What holds the store open besides mounts (loop devices over an image). */
  holders?(loc: Location): Promise<string[]>;
}

/** A tree of files (dir, btrfs, overlay, zfs). */
export interface TreeDriver extends DriverBase {
  readonly kind: "tree";
  /** A mounted (or plain) view of the files. */
  mountTree(ctx: OpContext, loc: Location, readOnly: boolean): Promise<Mounted>;
  /** Sized tree stores: set the limit (btrfs qgroup, zfs quota). */
  setLimit?(ctx: OpContext, loc: Location, size: number): Promise<void>;
  /** A copy cheaper than a file copy (btrfs snapshot on the same filesystem); false when it does not apply. */
  cloneFrom?(ctx: OpContext, src: Location, dst: Location): Promise<boolean>;
}

export type Driver = BlockDriver | TreeDriver;

export const SLOT_SUFFIX: Record<Slot, string> = { final: "", new: ".lxc-rootfs-new", old: ".lxc-rootfs-old" };
