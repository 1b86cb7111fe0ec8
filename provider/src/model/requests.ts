/**
 * The core's requests: plain data, JSON in and out, so that an adapter in another process (or on another
 * host) can send them. The store and filesystem names are schema.json's enums (enums.generated.ts).
 */
import path from "path";
import type { BackingStore, Fstype, IdmapMode } from "./enums.generated";
import type { IdmapEntry } from "./idmap";

export type Store = BackingStore;
export type { Fstype, IdmapMode };

/** The defaults of LXC's storage layer (src/lxc/storage/storage.h). */
export const DEFAULT_SIZE = 1073741824;
export const DEFAULT_FSTYPE: Fstype = "ext4";

/** Which container: enough to find, inspect or destroy what its config names. */
export interface ContainerRef {
  container: string;
  /**
   * Absolute, as given: outputs keep this spelling. The operation resolves it once, through symlinks, and
   * works on the canonical directory (executor/context.ts).
   */
  lxcPath: string;
  /**
   * Where the rootfs was last seen (`lxc.rootfs.path`), a hint for when the config names none: a volume
   * or overlay is found by it. Never followed outside the container directory or its named volume.
   */
  rootfsPath?: string;
  /**
   * The id map the caller's record says the rootfs is in (a Pulumi state's `idmap` output), for an update
   * that shifts it: checked against the owner of its root before anything is written. Unset: the map is
   * told by that owner (host root's, or the config's lxc.idmap).
   */
  recordedIdmap?: IdmapEntry[];
}

/** The options only some stores take: LVM's volume group, volume name and thin pool, ZFS's parent dataset. */
export interface StoreOptions {
  vgName?: string;
  lvName?: string;
  thinPool?: string;
  zfsRoot?: string;
}
export type StoreOption = keyof StoreOptions;
export const STORE_OPTIONS: readonly StoreOption[] = ["vgName", "lvName", "thinPool", "zfsRoot"];

/** A validated request to create: what the rootfs of one container should be. */
export interface RootfsSpec extends ContainerRef, StoreOptions {
  backingStore: Store;
  /** Bytes. Undefined: the store's default (1 GiB for block stores, none for the others). */
  size?: number;
  fstype?: Fstype;
  /** An LXC rootfs string whose content is copied in at create (the lower layer for overlay). */
  from?: string;
  /** An OS image unpacked in at create, instead of `from`. */
  source?: ImageSource;
  /** The id map the rootfs's owners are shifted into at create (an unprivileged container's); as given, validated. */
  idmap?: IdmapEntry[];
  /** "mount": the owners are kept as a privileged rootfs's and LXC mounts it idmapped; unset: shifted. */
  idmapMode?: IdmapMode;
}

/** An OS image: a rootfs tarball on the LXC host (an absolute path, or a file:// URL), and its sha256 if known. */
export interface ImageSource {
  url: string;
  /** Lowercase hex; checked whenever given. */
  sha256?: string;
  /** For `images:` urls: the image server (default https://images.linuxcontainers.org). */
  server?: string;
}

/** A validated request to update: only what is asked for; the rest is kept from the host. */
export interface RootfsChange extends StoreOptions {
  backingStore?: Store;
  size?: number;
  fstype?: Fstype;
  /** The map to shift the rootfs's owners into, in place; [] for none (privileged). Unset: kept as they are. */
  idmap?: IdmapEntry[];
  /** Another mode than the config's: the owners shifted in place to none (mount) or into the map (shift). Unset: kept. */
  idmapMode?: IdmapMode;
}

/** What an lxcPath may be: the one sentence every refusal of one starts with. */
export const LXC_PATH_ALLOWED =
  "an absolute directory path (made if missing) outside /proc, /sys and /dev, without '..', ':' or newlines, each name at most 255 bytes";

/** The properties an update takes; the rest name the container, or are read at create only (`from`). */
export const CHANGE_KEYS: readonly (keyof RootfsChange)[] = ["backingStore", "size", "fstype", "idmap", "idmapMode", ...STORE_OPTIONS];

export function containerDirOf(ref: Pick<ContainerRef, "lxcPath" | "container">): string {
  return path.join(ref.lxcPath, ref.container);
}
