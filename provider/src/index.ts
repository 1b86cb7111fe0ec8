/** The library API: the storage lifecycle, its types and its errors. The Pulumi resource builds on these. */
export { createRootfs, destroyRootfs, inspectRootfs, updateRootfs } from "./api";
export type { CreateResult, DestroyResult, UpdateResult } from "./api";
export { planUpdate, planFill, resolveTarget } from "./planner/plan";
export type { UpdatePlan, UpdateStrategy } from "./planner/plan";
export { validateSpec, inputFailures } from "./api/validate";
export * from "./model/errors";
export * from "./model/requests";
export { Rootfs } from "./adapters/dynamic/rootfs";
export type { RootfsArgs, BackingStore, Fstype as RootfsFstype } from "./adapters/dynamic/rootfs";
