/** What the core answers: plain data, the resource's outputs among it. */
import type { IdmapMode, Store } from "./requests";
import type { UpdateStrategy } from "./plans";
import type { StoreUsage } from "./usage";
import type { IdmapEntry } from "./idmap";

/** What is really on the host, read without mounting. These are the resource's outputs. */
export interface Observed extends StoreUsage {
  container: string;
  lxcPath: string;
  backingStore: Store;
  /** The `lxc.rootfs.path` string, e.g. `loop:/var/lib/lxc/web/rootdev`. */
  rootfsPath: string;
  /** Whether `lxc.rootfs.managed = 0`: LXC and this tool never delete such storage. */
  managed: boolean;
  /** "mount" where the config has LXC mount the rootfs idmapped (`lxc.rootfs.options = idmap=container`), else "shift". */
  idmapMode: IdmapMode;
  /**
   * The id map the owners are in, where an inspect saw them in another than the one it was told they were
   * recorded in (a refresh's drift, an import's find); unset otherwise.
   */
  idmap?: IdmapEntry[];
}

/** How a block copy went: extents shared (reflink) or allocated blocks copied with holes kept. */
export type BlockCopyMethod = "reflink" | "sparse-copy";

/** How a file copy went: extents shared (cp --reflink) or bytes copied (cp). */
export type TreeCopyMethod = "reflink" | "cp";

/** How a fill or update moved the data, as reported to the user. */
export type CopyMethod = BlockCopyMethod | TreeCopyMethod | "snapshot" | "unpack" | "none";

export interface CreateResult extends Observed {
  /** How the content of `from` or `source` got in. */
  method: CopyMethod;
  /** `sha256:<hex>` of the image unpacked, for a rootfs made from `source`. */
  sourceDigest?: string;
  /** The LXC config lines the image asks for (an OCI image's entrypoint, environment, user, directory). */
  sourceConfig?: string[];
  /** The id map the rootfs's owners were shifted into (the idmap input as given, or the config's lines); unset for none. */
  idmap?: IdmapEntry[];
}

export interface UpdateResult extends Observed {
  strategy: UpdateStrategy;
  method: CopyMethod;
  summary: string;
  /** The id map the rootfs's owners are in now, when the update was given one (`idmap`). */
  idmap?: IdmapEntry[];
}

export interface DestroyResult {
  destroyed: boolean;
  /** Why nothing was deleted (nothing there, or adopted storage). */
  reason?: string;
}

/** The directory a container reference names, resolved through symlinks; dev and ino null when it does not exist. */
export interface ContainerIdentity {
  containerDir: string;
  dev: number | null;
  ino: number | null;
}
