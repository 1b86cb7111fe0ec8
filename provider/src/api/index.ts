/**
 * The storage core's edge: seven operations on a rootfs, four on its snapshots and one naming the container, on typed,
 * JSON-serializable requests, each validated once here. Adapters (the CLI, the Pulumi providers, the agent of a remote host) call only these, through
 * `RootfsCore`, so that a core in another process or on another host can stand in for `localCore`.
 */
import { ContainerRef, RootfsChange, RootfsSpec } from "../model/requests";
import { CreatePlan, DestroyPlan, UpdatePlan } from "../model/plans";
import { ContainerIdentity, CreateResult, DestroyResult, Observed, UpdateResult } from "../model/results";
import { OperationOptions, resolveContainer } from "../executor/context";
import { create, planCreate, planCreateInPlace } from "../executor/create";
import { destroy, planDestroy } from "../executor/destroy";
import { identify } from "../executor/identify";
import { inspect } from "../executor/inspect";
import { planStoreUpdate, updateStore } from "../executor/update";
import { SnapshotObserved, SnapshotPlan, SnapshotRef, SnapshotResult, SnapshotSpec } from "../model/snapshots";
import { destroySnapshot, inspectSnapshot, planSnapshotOf, takeSnapshot } from "../executor/snapshot";
import { validateChange, validateRef, validateSnapshotRef, validateSnapshotSpec, validateSpec } from "./validate";

export type { OperationOptions };

/**
 * A request as it arrives (flags, a program's inputs, a line off the wire): any values, since each is
 * validated here; the keys are the request type's.
 */
export type Given<T> = { [K in keyof T]?: unknown };

/**
 * Runs `op` on the request with its lxcPath resolved through its symlinks, once, here at the edge: one
 * container has one identity (its lock, its guards, the paths written to its config), however the lxcPath
 * is spelled. A lxcPath no container directory can live under is refused before anything is touched. What
 * the core answers says the lxcPath as the request spelled it.
 */
async function canonical<Q extends ContainerRef, R>(request: Q, op: (canonical: Q) => Promise<R>): Promise<R> {
  const { lxcPath } = await resolveContainer(request);
  const result = await op({ ...request, lxcPath });
  return result && typeof result === "object" && "lxcPath" in result ? { ...result, lxcPath: request.lxcPath } : result;
}

/** What is on the host now; null when there is no rootfs. Never mounts. */
export async function inspectRootfs(ref: Given<ContainerRef>, opts: OperationOptions = {}): Promise<Observed | null> {
  return canonical(validateRef(ref), (r) => inspect(r, opts));
}

/** A new rootfs, empty or filled from `from`. Refused over anything that exists. */
export async function createRootfs(spec: Given<RootfsSpec>, opts: OperationOptions = {}): Promise<CreateResult> {
  return canonical(validateSpec(spec), (r) => create(r, opts));
}

/**
 * What `createRootfs` would make, checked against the host as it is now with the create's own checks;
 * changes nothing. Null while a killed operation awaits recovery.
 */
export async function planRootfsCreate(spec: Given<RootfsSpec>, opts: OperationOptions = {}): Promise<CreatePlan | null> {
  return canonical(validateSpec(spec), (r) => planCreate(r, opts));
}

/** The create half of a replacement that deletes the rootfs first (a new image): planRootfsCreate as if it were gone. */
export async function planRootfsReplace(spec: Given<RootfsSpec>, opts: OperationOptions = {}): Promise<CreatePlan | null> {
  return canonical(validateSpec(spec), (r) => planCreateInPlace(r, opts));
}

/** What `updateRootfs` would do, checked against the host as it is now; null while a killed operation awaits recovery. */
export async function planRootfsUpdate(
  ref: Given<ContainerRef>,
  change: Given<RootfsChange>,
  opts: OperationOptions = {},
): Promise<UpdatePlan | null> {
  const c = validateChange(change);
  return canonical(validateRef(ref), (r) => planStoreUpdate(r, c, opts));
}

/** Changes what `change` names and keeps the rest, moving the data when the store changes. */
export async function updateRootfs(
  ref: Given<ContainerRef>,
  change: Given<RootfsChange>,
  opts: OperationOptions = {},
): Promise<UpdateResult> {
  const c = validateChange(change);
  return canonical(validateRef(ref), (r) => updateStore(r, c, opts));
}

/** What `destroyRootfs` would do, with its checks (snapshots refuse it); changes nothing. Null while a killed operation awaits recovery. */
export async function planRootfsDestroy(ref: Given<ContainerRef>, opts: OperationOptions = {}): Promise<DestroyPlan | null> {
  return canonical(validateRef(ref), (r) => planDestroy(r, opts));
}

/** Deletes the rootfs and the config's pointer to it, unless the config marks it as not ours. */
export async function destroyRootfs(ref: Given<ContainerRef>, opts: OperationOptions = {}): Promise<DestroyResult> {
  return canonical(validateRef(ref), (r) => destroy(r, opts));
}

/** A snapshot as it is on the host; null when there is none (no config under snaps/<name>). */
export async function inspectRootfsSnapshot(ref: Given<SnapshotRef>, opts: OperationOptions = {}): Promise<SnapshotObserved | null> {
  return canonical(validateSnapshotRef(ref), (r) => inspectSnapshot(r, opts));
}

/** What taking a snapshot would do (its method and the bytes it moves), checked against the host; changes nothing. */
export async function planRootfsSnapshot(spec: Given<SnapshotSpec>, opts: OperationOptions = {}): Promise<SnapshotPlan> {
  return canonical(validateSnapshotSpec(spec), (r) => planSnapshotOf(r, opts));
}

/** A new snapshot of the container's rootfs, in LXC's layout. Refused over one of the same name. */
export async function createRootfsSnapshot(spec: Given<SnapshotSpec>, opts: OperationOptions = {}): Promise<SnapshotResult> {
  return canonical(validateSnapshotSpec(spec), (r) => takeSnapshot(r, opts));
}

/** Deletes a snapshot and its storage. */
export async function destroyRootfsSnapshot(ref: Given<SnapshotRef>, opts: OperationOptions = {}): Promise<DestroyResult> {
  return canonical(validateSnapshotRef(ref), (r) => destroySnapshot(r, opts));
}

/** The directory the reference names, however its lxcPath is spelled; touches nothing. */
export async function identifyContainer(ref: Given<ContainerRef>, _opts: OperationOptions = {}): Promise<ContainerIdentity> {
  return identify(validateRef(ref));
}

/**
 * The core's operations, one row each: how many requests each takes (its other argument is the options),
 * and the call. The local core, the deferred core, the agent's dispatcher (adapters/agent) and the remote
 * client (adapters/remote) are all built from this table: a new operation is one row here.
 */
export const OPERATIONS = {
  inspect: { requests: 1, call: inspectRootfs },
  planCreate: { requests: 1, call: planRootfsCreate },
  planReplace: { requests: 1, call: planRootfsReplace },
  create: { requests: 1, call: createRootfs },
  planUpdate: { requests: 2, call: planRootfsUpdate },
  update: { requests: 2, call: updateRootfs },
  planDestroy: { requests: 1, call: planRootfsDestroy },
  destroy: { requests: 1, call: destroyRootfs },
  inspectSnapshot: { requests: 1, call: inspectRootfsSnapshot },
  planSnapshot: { requests: 1, call: planRootfsSnapshot },
  createSnapshot: { requests: 1, call: createRootfsSnapshot },
  destroySnapshot: { requests: 1, call: destroyRootfsSnapshot },
  identify: { requests: 1, call: identifyContainer },
} as const;

export type Op = keyof typeof OPERATIONS;
export const OPS = Object.keys(OPERATIONS) as Op[];

/** The core as the adapters see it: the same calls, wherever the core runs. */
export type RootfsCore = { [K in Op]: (typeof OPERATIONS)[K]["call"] };

/** Any operation of the core, called with its requests and then its options. */
type AnyCall = (...args: unknown[]) => Promise<unknown>;

/** A core whose every operation is `each(op, requests, opts)`. */
export function coreOf(each: (op: Op, requests: unknown[], opts?: OperationOptions) => Promise<unknown>): RootfsCore {
  const calls = OPS.map((op) => [
    op,
    (...args: unknown[]) => each(op, args.slice(0, OPERATIONS[op].requests), args[OPERATIONS[op].requests] as OperationOptions | undefined),
  ]);
  return Object.fromEntries(calls) as RootfsCore;
}

/** The core in this process, on this host. */
export const localCore: RootfsCore = Object.fromEntries(OPS.map((op) => [op, OPERATIONS[op].call])) as RootfsCore;

/**
 * A core found at each call, not before: `get` runs when a request is made (so a remote host is dialed,
 * or a connection checked, only when one is) and the call goes to what it returns. `get` keeps what it
 * finds if it should: the pool drops an agent that died, so its core must be asked again.
 */
export function deferredCore(get: () => RootfsCore | Promise<RootfsCore>): RootfsCore {
  return coreOf(async (op, requests, opts) => ((await get())[op] as AnyCall)(...requests, opts));
}
