/** The library API: the storage lifecycle, its types and its errors. The Pulumi resource builds on these. */
export { createRootfs, destroyRootfs, inspectRootfs, updateRootfs } from "./lifecycle/operations";
export type { CreateResult, DestroyResult, UpdateResult } from "./lifecycle/operations";
export { planUpdate, planFill, resolveTarget } from "./lifecycle/plan";
export type { UpdatePlan, UpdateStrategy } from "./lifecycle/plan";
export { validateSpec, inputFailures } from "./lifecycle/validate";
export * from "./core/errors";
export * from "./core/types";
export { Rootfs } from "./pulumi/rootfs";
export type { RootfsArgs, BackingStore, Fstype as RootfsFstype } from "./pulumi/rootfs";
