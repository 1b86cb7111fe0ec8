/** The library API: the storage core's five operations, its requests, results and errors, and the dynamic resource. */
export { createRootfs, destroyRootfs, inspectRootfs, localCore, planRootfsUpdate, updateRootfs } from "./api";
export type { RootfsCore } from "./api";
export * from "./model/errors";
export * from "./model/requests";
export * from "./model/results";
export * from "./model/plans";
export { Rootfs } from "./adapters/dynamic/rootfs";
export type { RootfsArgs } from "./adapters/dynamic/rootfs";
