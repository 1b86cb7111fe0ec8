export const STORES = ["dir", "loop", "btrfs", "overlay", "lvm", "zfs"] as const;
export type Store = (typeof STORES)[number];

export const FSTYPES = ["ext2", "ext3", "ext4", "xfs", "btrfs"] as const;
export type Fstype = (typeof FSTYPES)[number];

/** The defaults of LXC's storage layer (src/lxc/storage/storage.h). */
export const DEFAULT_SIZE = 1073741824;
export const DEFAULT_FSTYPE: Fstype = "ext4";
export const DEFAULT_LXC_PATH = "/var/lib/lxc";
export const DEFAULT_VG = "lxc";
export const DEFAULT_THIN_POOL = "lxc";
export const DEFAULT_ZFS_ROOT = "lxc";

/** A validated request: what the rootfs of one container should be. */
export interface RootfsSpec {
  container: string;
  /** Absolute, as given (not resolved through symlinks). */
  lxcPath: string;
  backingStore: Store;
  /** Bytes. Undefined: the store's default (1 GiB for block stores, none for the others). */
  size?: number;
  fstype?: Fstype;
  /** An LXC rootfs string whose content is copied in at create (the lower layer for overlay). */
  from?: string;
  vgName?: string;
  lvName?: string;
  thinPool?: string;
  zfsRoot?: string;
}

/** What is really on the host, read without mounting. These are the resource's outputs. */
export interface Observed {
  container: string;
  lxcPath: string;
  backingStore: Store;
  /** The `lxc.rootfs.path` string, e.g. `loop:/var/lib/lxc/web/rootdev`. */
  rootfsPath: string;
  /** Capacity in bytes: image or device size, btrfs qgroup limit, zfs quota; null where there is none. */
  sizeBytes: number | null;
  fstype: Fstype | null;
  /** Bytes the storage takes on the host (st_blocks of an image, du of a tree, LV size). */
  allocatedBytes: number;
  /** Bytes of data inside the filesystem: what a file-level copy would move. */
  usedBytes: number;
  /** Whether `lxc.rootfs.managed = 0`: LXC and this tool never delete such storage. */
  managed: boolean;
}
