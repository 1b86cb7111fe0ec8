/**
 * The storage core's edge: five operations on typed, JSON-serializable requests, each validated once
 * here. Adapters (the CLI, the Pulumi providers, the agent of a remote host) call only these, through
 * `RootfsCore`, so that a core in another process or on another host can stand in for `localCore`.
 */
import { ContainerRef, RootfsChange, RootfsSpec } from "../model/requests";
import { UpdatePlan } from "../model/plans";
import { CreateResult, DestroyResult, Observed, UpdateResult } from "../model/results";
import { OperationOptions } from "../executor/context";
import { create } from "../executor/create";
import { destroy } from "../executor/destroy";
import { inspect } from "../executor/inspect";
import { planStoreUpdate, updateStore } from "../executor/update";
import { validateChange, validateRef, validateSpec } from "./validate";

export type { OperationOptions };

/**
 * A request as it arrives (flags, a program's inputs, a line off the wire): any values, since each is
 * validated here; the keys are the request type's.
 */
export type Given<T> = { [K in keyof T]?: unknown };

/** What is on the host now; null when there is no rootfs. Never mounts. */
export async function inspectRootfs(ref: Given<ContainerRef>, opts: OperationOptions = {}): Promise<Observed | null> {
  return inspect(validateRef(ref), opts);
}

/** A new rootfs, empty or filled from `from`. Refused over anything that exists. */
export async function createRootfs(spec: Given<RootfsSpec>, opts: OperationOptions = {}): Promise<CreateResult> {
  return create(validateSpec(spec), opts);
}

/** What `updateRootfs` would do, checked against the host as it is now; null while a killed operation awaits recovery. */
export async function planRootfsUpdate(
  ref: Given<ContainerRef>,
  change: Given<RootfsChange>,
  opts: OperationOptions = {},
): Promise<UpdatePlan | null> {
  return planStoreUpdate(validateRef(ref), validateChange(change), opts);
}

/** Changes what `change` names and keeps the rest, moving the data when the store changes. */
export async function updateRootfs(
  ref: Given<ContainerRef>,
  change: Given<RootfsChange>,
  opts: OperationOptions = {},
): Promise<UpdateResult> {
  return updateStore(validateRef(ref), validateChange(change), opts);
}

/** Deletes the rootfs and the config's pointer to it, unless the config marks it as not ours. */
export async function destroyRootfs(ref: Given<ContainerRef>, opts: OperationOptions = {}): Promise<DestroyResult> {
  return destroy(validateRef(ref), opts);
}

/** The core as the adapters see it: the same five calls, wherever the core runs. */
export interface RootfsCore {
  inspect(ref: Given<ContainerRef>, opts?: OperationOptions): Promise<Observed | null>;
  create(spec: Given<RootfsSpec>, opts?: OperationOptions): Promise<CreateResult>;
  planUpdate(ref: Given<ContainerRef>, change: Given<RootfsChange>, opts?: OperationOptions): Promise<UpdatePlan | null>;
  update(ref: Given<ContainerRef>, change: Given<RootfsChange>, opts?: OperationOptions): Promise<UpdateResult>;
  destroy(ref: Given<ContainerRef>, opts?: OperationOptions): Promise<DestroyResult>;
}

/** The core in this process, on this host. */
export const localCore: RootfsCore = {
  inspect: inspectRootfs,
  create: createRootfs,
  planUpdate: planRootfsUpdate,
  update: updateRootfs,
  destroy: destroyRootfs,
};

/**
 * A core found at each call, not before: `get` runs when a request is made (so a remote host is dialed,
 * or a connection checked, only when one is) and the call goes to what it returns. `get` keeps what it
 * finds if it should: the pool drops an agent that died, so its core must be asked again.
 */
export function deferredCore(get: () => RootfsCore | Promise<RootfsCore>): RootfsCore {
  const core = async () => get();
  return {
    inspect: async (ref, opts) => (await core()).inspect(ref, opts),
    create: async (spec, opts) => (await core()).create(spec, opts),
    planUpdate: async (ref, change, opts) => (await core()).planUpdate(ref, change, opts),
    update: async (ref, change, opts) => (await core()).update(ref, change, opts),
    destroy: async (ref, opts) => (await core()).destroy(ref, opts),
  };
}
