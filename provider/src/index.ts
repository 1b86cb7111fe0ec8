/** The library API: the storage core's operations, its requests, results and errors, and the dynamic resources. */
export {
  createRootfs,
  createRootfsSnapshot,
  destroyRootfs,
  destroyRootfsSnapshot,
  inspectRootfs,
  inspectRootfsSnapshot,
  localCore,
  planRootfsSnapshot,
  planRootfsUpdate,
  updateRootfs,
} from "./api";
export type { RootfsCore } from "./api";
export * from "./model/errors";
export * from "./model/requests";
export * from "./model/results";
export * from "./model/plans";
export * from "./model/snapshots";
export { Rootfs } from "./adapters/dynamic/rootfs";
export type { RootfsArgs } from "./adapters/dynamic/rootfs";
export { RootfsSnapshot } from "./adapters/dynamic/snapshot";
export type { RootfsSnapshotArgs } from "./adapters/dynamic/snapshot";
