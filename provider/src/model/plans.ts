/** The planner's vocabulary: what an update or a fill will do, and what it costs. */
import type { Fstype, Store } from "./requests";
import type { StoreUsage } from "./usage";

export type UpdateStrategy = "none" | "grow-in-place" | "shrink-in-place" | "set-limit" | "block-copy" | "file-copy";
export type FillStrategy = "empty" | "clone" | "block-copy" | "file-copy";

/** The storage as it is, or as it will be. */
export interface StoreShape extends StoreUsage {
  store: Store;
  /** Where it is (`lxc.rootfs.path`), when known: a spec naming another volume moves the data there. */
  rootfsPath?: string;
}

/** What a request resolves to: the store, and for sized stores the size, for block stores the filesystem. */
export interface Target {
  store: Store;
  size?: number;
  fstype?: Fstype;
}

export interface UpdatePlan {
  strategy: UpdateStrategy;
  target: Target;
  /** Bytes the strategy moves (0 for in-place changes and reflinks). */
  bytesToMove: number;
  /** One line for a reviewer: what will happen and what it costs. */
  summary: string;
}
