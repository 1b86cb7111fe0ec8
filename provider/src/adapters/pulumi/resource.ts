/**
 * The Rootfs resource's semantics, shared by every Pulumi adapter (the dynamic provider, the schema-based
 * plugin): which inputs replace, which update, what a preview says, what a refresh reads. Nothing here
 * knows Pulumi's wire formats; adapters translate.
 */
import path from "path";
import { unknownValue as UNKNOWN } from "@pulumi/pulumi/runtime";
import { AlreadyExists, HasSnapshots, InvalidInput, RootfsError, SourceMissing } from "../../model/errors";
import { CHANGE_KEYS, ContainerRef, containerDirOf, Fstype, Store } from "../../model/requests";
import { StoreShape } from "../../model/plans";
import { CreateResult, Observed } from "../../model/results";
import { CONNECTION, coreInputNames, inputNames, storeValues } from "../../model/schema";
import { parseSize, SIZE_ALIGN } from "../../model/sizes";
import { isBlockStore } from "../../drivers";
import { planChange } from "../../planner/plan";
import { OperationOptions, RootfsCore } from "../../api";
import { inputFailures, validateChange, validateSpec, withDefaults } from "../../api/validate";
import { connectionIn, machineFor, validateConnection } from "../remote/connection";
import { extraKeys, hasUnknown, isUnknown, placementOf, Props } from "./props";
import { knownUnreachable, previewUnreachable, unreachableNote } from "./unreachable";
import { idmapLabel, idmapOf, sameIdmap } from "../../model/idmap";

export type { Props };

/** Inputs whose change means a new rootfs somewhere else: replace, never move. */
export const REPLACE_ON_CHANGE = ["container", "lxcPath"] as const;
/** Used at create only: changing it later changes nothing on the host (but a new image: see imageChange). */
const CREATE_ONLY = ["from", "source"];

/** Recorded at create, and kept as it is: the host cannot say what image a rootfs came from. */
const RECORDED = ["sourceDigest", "sourceConfig", "idmap"] as const;

export const OUTPUT_NAMES = [
  "backingStore",
  "rootfsPath",
  "sizeBytes",
  "fstype",
  "allocatedBytes",
  "usedBytes",
  "managed",
  "idmapMode",
] as const;

/** The core's input properties among `props` (state holds inputs and outputs together). */
export function inputsOf(props: Props): Props {
  const out: Props = {};
  for (const k of coreInputNames) if (props[k] !== undefined && props[k] !== null) out[k] = props[k];
  return out;
}

export interface CheckResult {
  inputs: Props;
  failures: Array<{ property: string; reason: string }>;
}

/**
 * Stand-ins for values a preview does not know yet: valid, so only the known values are judged (a bare
 * absolute path is a rootfs string of any store's `from`, as LXC reads one).
 */
const UNKNOWN_STAND_INS: Props = { container: "unknown", lxcPath: "/unknown", from: "/unknown" };

/** Validates inputs, leaving unknown values (previews) for later. */
export function checkResource(news: Props): CheckResult {
  const placement = placementOf(news);
  const inputs = { ...withDefaults(inputsOf(news)), ...placement };
  const failures: CheckResult["failures"] = [];
  if (placement.connection !== undefined && !hasUnknown(placement.connection)) {
    try {
      validateConnection(placement.connection);
    } catch (e) {
      if (!(e instanceof InvalidInput)) throw e;
      failures.push({ property: e.property, reason: e.message });
    }
  }
  // With the store unknown, no rule that depends on it can be judged yet.
  if (isUnknown(inputs.backingStore)) return { inputs, failures };
  const judged: Props = { ...extraKeys(news, [...inputNames, ...OUTPUT_NAMES, ...RECORDED, "container", "lxcPath"]) };
  for (const [k, v] of Object.entries(inputsOf(inputs))) {
    // An object with an unknown inside (a source whose sha256 is another resource's output) waits whole.
    if (!hasUnknown(v)) judged[k] = v;
    else if (k in UNKNOWN_STAND_INS) judged[k] = UNKNOWN_STAND_INS[k];
  }
  failures.push(...inputFailures(judged).map((e) => ({ property: e.property, reason: e.message })));
  return { inputs, failures };
}

/**
 * The rootfs the diff found to be replaced in place (a new image: deleted first, then made again where it
 * was), by machine and container directory. The engine checks the create half of a replacement again
 * after the diff, with no old inputs, as if new: that check then asks the host as if the rootfs were gone,
 * instead of finding it there. Each entry serves one such check.
 */
const replacingInPlace = new Set<string>();
const placeOf = (props: Props): string => `${machineFor(props)} ${containerDirOf(refOf(props))}`;

/** What a preview says of a new rootfs whose `from` is not there yet. */
export const FROM_MISSING =
  "`from` names nothing on the host now: the create checks it again at up, after what it depends on is made, and fails there if it is still missing";

/** What a preview says of a new rootfs whose host is not known yet. */
export const HOST_UNKNOWN = "its connection is known only once another resource is made: the host is asked at up, before anything is made";

/**
 * Validates, and for a new rootfs (no old inputs: a create, or the create half of a replacement, which for
 * one in place is asked as if the old rootfs were gone) whose inputs are known, asks its host with the
 * create's own preparation, read-only: `plan` is the line a preview prints, and what `up` would fail on (the
 * store cannot live there, no volume group, no room) fails here with the same error. A rootfs already there is a failure of `container` that says how to adopt it.
 * A `from` with nothing there is a line, not a failure: another resource of the stack may make it before
 * the create (which checks it again). The value of `from` is never printed: it may be a secret.
 */
export async function checkRootfs(
  olds: Props,
  news: Props,
  core: () => RootfsCore,
  opts: OperationOptions = {},
): Promise<CheckResult & { plan?: string }> {
  previewUnreachable();
  const checked = checkResource(news);
  const creating = Object.keys(olds ?? {}).length === 0;
  const inputs = inputsOf(checked.inputs);
  if (!creating || checked.failures.length || hasUnknown(inputs)) return checked;
  if (hasUnknown(connectionIn(news))) return { ...checked, plan: HOST_UNKNOWN };
  const machine = machineFor(news);
  const known = knownUnreachable(machine);
  if (known) return { ...checked, plan: known };
  try {
    const plan = replacingInPlace.delete(placeOf(news)) ? await core().planReplace(inputs, opts) : await core().planCreate(inputs, opts);
    return { ...checked, plan: plan?.summary ?? "an interrupted operation awaits recovery there: the create recovers it first" };
  } catch (e) {
    const unreachable = unreachableNote(e, machine);
    if (unreachable) return { ...checked, plan: unreachable };
    if (e instanceof SourceMissing) return { ...checked, plan: FROM_MISSING };
    if (e instanceof InvalidInput && e.property === "from")
      return { ...checked, failures: [{ property: "from", reason: `from: ${e.allowed}` }] };
    if (e instanceof InvalidInput) return { ...checked, failures: [{ property: e.property, reason: e.message }] };
    if (!(e instanceof AlreadyExists)) throw e;
    const id = resourceId(refOf(inputs), news);
    const reason = `a rootfs is already at ${e.path}: adopt it with pulumi import lxc:index:Rootfs <name> ${id}, or pick another container`;
    return { ...checked, failures: [{ property: "container", reason }] };
  }
}

/** What a preview says of an update that changes nothing on the host. */
export const RECORD_ONLY = "the host already holds this: the update records it and changes nothing there";

export interface DiffResult {
  changes: boolean;
  replaces: string[];
  /** A replacement at the same place: the old rootfs must go before the new one can be made there. */
  deleteBeforeReplace?: boolean;
  /** What the update will do and what it costs, for the preview. */
  summary?: string;
}

function sameValue(key: string, a: unknown, b: unknown): boolean {
  if (key === "size" && a !== undefined && b !== undefined) {
    try {
      return parseSize(a) === parseSize(b);
    } catch {
      return false;
    }
  }
  return a === b;
}

/** The container a resource names, and where its rootfs was last seen (for a config that names none). */
function refOf(props: Props): ContainerRef {
  const inputs = withDefaults(inputsOf(props));
  const ref: ContainerRef = { container: inputs.container as string, lxcPath: inputs.lxcPath as string };
  if (typeof props.rootfsPath === "string") ref.rootfsPath = props.rootfsPath;
  return ref;
}

/** The map a state's `idmap` output says the rootfs is in, for an update that shifts it: checked against the host. */
function recordedOf(olds: Props): Pick<ContainerRef, "recordedIdmap"> {
  return Array.isArray(olds.idmap) ? { recordedIdmap: olds.idmap as ContainerRef["recordedIdmap"] } : {};
}

/** The wanted state as an update: what an update takes of the inputs. */
function changeOf(inputs: Props): Props {
  return Object.fromEntries(CHANGE_KEYS.filter((k) => inputs[k] !== undefined).map((k) => [k, inputs[k]]));
}

/**
 * How the machine changes, if it does: its host and port replace (another machine); credentials never
 * diff. Unknown when the connection is not known yet (a preview: an SDK makes the whole secret connection
 * unknown when any of its fields is), and the engine diffs again with the values at apply.
 */
function movedMachine(olds: Props, news: Props): string | undefined | typeof UNKNOWN {
  const c = connectionIn(news) as Props | undefined;
  if (isUnknown(c) || isUnknown(c?.host) || isUnknown(c?.port)) return UNKNOWN;
  const before = machineFor(olds);
  const after = machineFor(news);
  return before === after ? undefined : `${CONNECTION} ${before} → ${after}`;
}

/**
 * A new image: a `source` whose sha256 is not the digest the rootfs was unpacked from. The rootfs is made
 * again from it where it is (the old one deleted first: two cannot stand in one place), so a stack that
 * pins an image by digest moves to the next one by changing the digest. A new url with the same sha256, or
 * without one, only records the url: the data in the rootfs is the container's now, not the image's.
 */
function imageChange(olds: Props, newInputs: Props): string | undefined {
  const recorded = olds.sourceDigest;
  const sha256 = (newInputs.source as { sha256?: unknown } | undefined)?.sha256;
  if (typeof recorded !== "string" || typeof sha256 !== "string") return undefined;
  const wanted = `sha256:${sha256.toLowerCase()}`;
  return wanted === recorded ? undefined : `source ${recorded} → ${wanted} (the rootfs is deleted, then unpacked again from the new image)`;
}

/**
 * A new idmap on a rootfs that exists: its owners are shifted in place, an update that keeps the data (the
 * host counts the files at preview). No idmap given asks for nothing: a later edit of the config never
 * shifts; `[]` asks for none (privileged).
 */
function idmapChange(olds: Props, newInputs: Props): string | undefined {
  if (newInputs.idmap === undefined) return undefined;
  const recorded = olds.idmap === undefined || olds.idmap === null ? null : idmapOf(olds.idmap);
  const wanted = idmapOf(newInputs.idmap);
  return sameIdmap(wanted, recorded) ? undefined : `shift the owners in place from ${idmapLabel(recorded)} to ${idmapLabel(wanted)}`;
}

/** A new idmap of a rootfs mounted idmapped: no owner moves, LXC maps them at mount. */
function idmapRecordChange(olds: Props, newInputs: Props): string | undefined {
  return idmapChange(olds, newInputs) && `record idmap ${idmapLabel(idmapOf(newInputs.idmap))}: LXC maps the owners at mount, none moves`;
}

/**
 * A new idmapMode: the owners shifted in place between the map and none, and the config's idmapped-mount
 * line written or removed. A state from before the mode was recorded is in shift.
 */
function idmapModeChange(olds: Props, newInputs: Props): string | undefined {
  const recorded = olds.idmapMode ?? "shift";
  const wanted = newInputs.idmapMode ?? "shift";
  if (recorded === wanted) return undefined;
  return wanted === "mount"
    ? "idmapMode shift → mount: shift the owners in place to none, then write lxc.rootfs.options = idmap=container"
    : "idmapMode mount → shift: shift the owners in place into the map, then remove lxc.rootfs.options = idmap=container";
}

/**
 * Compares what is recorded (the old outputs: what the host held at the last create, update or refresh)
 * with what is wanted, without touching the host. "1G" and 1073741824 are one size; `from` only matters
 * at create.
 */
export function diffRecorded(olds: Props, news: Props): DiffResult & { known: boolean } {
  const moved = movedMachine(olds, news);
  if (moved === UNKNOWN)
    return { changes: true, replaces: [], known: false, summary: `update: ${CONNECTION} known only after apply (another host replaces)` };
  if (moved) return { changes: true, replaces: [CONNECTION], known: true, summary: `replace: ${moved}` };
  const oldInputs = withDefaults(inputsOf(olds));
  const newInputs = withDefaults(inputsOf(news));
  const replaces = REPLACE_ON_CHANGE.filter((k) => !sameValue(k, oldInputs[k], newInputs[k]));
  if (replaces.length) {
    return {
      changes: true,
      replaces: [...replaces],
      known: true,
      summary: `replace: ${replaces.map((k) => `${k} ${JSON.stringify(oldInputs[k])} → ${JSON.stringify(newInputs[k])}`).join(", ")}`,
    };
  }
  if (Object.values(newInputs).some(hasUnknown))
    return { changes: true, replaces: [], known: false, summary: "update: values known only after apply" };
  const image = imageChange(olds, newInputs);
  if (image) return { changes: true, replaces: ["source"], deleteBeforeReplace: true, known: true, summary: `replace: ${image}` };
  // A bad value stops the preview here, naming the property.
  validateSpec(newInputs);
  const mode = idmapModeChange(olds, newInputs);
  // Mounted idmapped before and after, a new map moves no owner: the update records it.
  const shift = mode ?? (newInputs.idmapMode === "mount" ? idmapRecordChange(olds, newInputs) : idmapChange(olds, newInputs));
  if (olds.backingStore === undefined || olds.rootfsPath === undefined) {
    // No recorded observation (an old state): fall back to comparing inputs.
    const keys = new Set([...Object.keys(oldInputs), ...Object.keys(newInputs)].filter((k) => !CREATE_ONLY.includes(k)));
    const changes = [...keys].some((k) => !sameValue(k, oldInputs[k], newInputs[k]));
    return { changes, replaces: [], known: true };
  }
  const store = olds.backingStore as Store;
  const sizeBytes = (olds.sizeBytes as number | null | undefined) ?? null;
  const fstype = (olds.fstype as Fstype | null | undefined) ?? null;
  const recorded: StoreShape = {
    store,
    sizeBytes,
    fstype,
    usedBytes: Number(olds.usedBytes ?? 0),
    allocatedBytes: Number(olds.allocatedBytes ?? 0),
    // The state keeps no filesystem size: a block store's whole sectors stand for it (lxc-create's images
    // hold a filesystem of that size). The host's superblock decides when the host is asked.
    fsBytes: isBlockStore(store) && fstype !== null && sizeBytes !== null ? sizeBytes - (sizeBytes % SIZE_ALIGN) : null,
    rootfsPath: olds.rootfsPath as string,
  };
  try {
    const { plan } = planChange(refOf(olds), recorded, validateChange(changeOf(newInputs)));
    const moved = plan.strategy === "none" ? undefined : plan.summary;
    const summary = moved && shift ? `${moved}; then ${shift}` : (moved ?? shift);
    return { changes: summary !== undefined, replaces: [], known: true, summary };
  } catch (e) {
    // What the record cannot plan (room for the bytes it last counted, say) the host may: it is asked.
    if (e instanceof RootfsError) return { changes: true, replaces: [], known: true };
    throw e;
  }
}

/**
 * The diff a reviewer reads. When the record says something is to do, the host is asked what, with the
 * update's own preparation (read-only): a preview then fails with the update's own error when the host
 * cannot take the change (the store cannot live on this lxcPath, no volume group, no room), and the plan
 * counts the bytes the host holds now, not those of the last refresh.
 */
export async function diffResource(
  olds: Props,
  news: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
  oldCore?: () => RootfsCore,
): Promise<DiffResult> {
  if (await respelled(olds, news, refOf(olds), refOf(news), core, opts)) {
    // The same directory: the rest is diffed as if the spelling had not changed, and the update records it.
    const rest = await diffResource(olds, { ...news, lxcPath: olds.lxcPath }, core, opts);
    // A replacement (a new image) stays one: the new rootfs is made under the new spelling.
    if (rest.replaces.length) return rest;
    const spelling = respelling(olds, news);
    return {
      changes: true,
      replaces: [],
      summary: rest.changes ? `${rest.summary ?? "update"}; ${spelling}` : `${RECORD_ONLY}: ${spelling}`,
    };
  }
  const { known, ...recorded } = diffRecorded(olds, news);
  if (recorded.deleteBeforeReplace) replacingInPlace.add(placeOf(news));
  if (recorded.replaces.length && oldCore)
    return {
      ...recorded,
      summary: `${recorded.summary}; ${await deleteHalf(olds, oldCore, opts, recorded.deleteBeforeReplace ? "first" : "then")}`,
    };
  if (!recorded.changes || recorded.replaces.length || !known) return recorded;
  // A credential known only after apply: the host cannot be asked yet; the record speaks.
  if (hasUnknown(connectionIn(news))) return recorded;
  const plan = await core.planUpdate({ ...refOf(olds), ...recordedOf(olds) }, changeOf(withDefaults(inputsOf(news))), opts);
  // Null: an interrupted operation awaits recovery, which the update does first; the record speaks.
  if (plan === null) return recorded;
  // The host already holds what is wanted while the record says otherwise (an operation that finished after
  // its run was cut off, a change made by hand): an update that only brings the record up to date, so the
  // next up converges without a refresh.
  if (plan.strategy === "none" && !plan.shift && plan.idmappedMount === undefined)
    return { changes: true, replaces: [], summary: RECORD_ONLY };
  return { changes: true, replaces: [], summary: plan.summary };
}

/**
 * The delete half of a replacement (the new rootfs is made first, then the old one deleted; `first` for one
 * in place, which deletes first), asked of the old rootfs's host with the destroy's own checks, for the plan
 * line: what it will delete, or the snapshots it has now. Those do not fail the preview: the stack's own
 * RootfsSnapshots of the rootfs are deleted before it, and which snapshots are the stack's the host cannot
 * tell. An old host no dial reaches fails it.
 */
async function deleteHalf(olds: Props, oldCore: () => RootfsCore, opts: OperationOptions, when: "first" | "then"): Promise<string> {
  try {
    const plan = await oldCore().planDestroy(refOf(olds), opts);
    return `${when} ${plan?.summary ?? "recover the interrupted operation there, and delete the old rootfs"}`;
  } catch (e) {
    const unreachable = unreachableNote(e, machineFor(olds));
    if (unreachable) return unreachable;
    // The stack's own RootfsSnapshots of it are deleted before it (they depend on it); others are not.
    if (e instanceof HasSnapshots)
      return `${when} delete the old rootfs, which has snapshots ${e.names.join(", ")} now: the delete refuses unless they are gone by then (this stack's RootfsSnapshots of it are)`;
    throw e;
  }
}

/**
 * Whether `before` and `after` spell one container directory two ways on one machine: a symlinked
 * /var/lib/lxc written out, or the other way. The host says. A replacement there would destroy what it then
 * recreates in the same place (a snapshot's moment, lost), so such a change is an update that records it.
 */
export async function respelled(
  olds: Props,
  news: Props,
  before: ContainerRef,
  after: ContainerRef,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<boolean> {
  if (before.container !== after.container || before.lxcPath === after.lxcPath) return false;
  if (typeof after.lxcPath !== "string" || hasUnknown(connectionIn(news)) || machineFor(olds) !== machineFor(news)) return false;
  const dirOf = (ref: ContainerRef) => core.identify({ container: ref.container, lxcPath: ref.lxcPath }, opts);
  const [a, b] = await Promise.all([dirOf(before), dirOf(after)]);
  return a.containerDir === b.containerDir;
}

/** What a preview says of a new spelling of the lxcPath that names the same directory. */
export function respelling(olds: Props, news: Props): string {
  return `lxcPath ${JSON.stringify(olds.lxcPath)} → ${JSON.stringify(news.lxcPath)} names the same directory`;
}

/**
 * The inputs an import starts from, given only the id (the container directory): `pulumi import
 * lxc:index:Rootfs web /var/lib/lxc/web`. Refused unless it is a plain absolute path.
 */
export function propsFromId(id: string): Props {
  if (typeof id !== "string" || !path.isAbsolute(id) || id.split("/").includes("..") || path.dirname(id) === id) {
    throw new InvalidInput("id", id, "the container directory, an absolute path such as /var/lib/lxc/web");
  }
  const dir = path.normalize(id).replace(/\/+$/, "");
  return { container: path.basename(dir), lxcPath: path.dirname(dir) };
}

/**
 * The inputs that describe what is on the host, for an imported rootfs: a program declaring these has
 * nothing to change. Size and fstype are stated only for block stores (dir and overlay take none), idmap
 * only where the owners were seen in one.
 */
export function inputsFromObserved(outs: Props): Props {
  const inputs: Props = { container: outs.container, lxcPath: outs.lxcPath, backingStore: outs.backingStore };
  const block =
    typeof outs.backingStore === "string" && storeValues.includes(outs.backingStore) && isBlockStore(outs.backingStore as Store);
  // Whole sectors, as planning compares them: an image lxc-create made is one byte over its size.
  if (block && typeof outs.sizeBytes === "number") inputs.size = outs.sizeBytes - (outs.sizeBytes % SIZE_ALIGN);
  if (block && typeof outs.fstype === "string") inputs.fstype = outs.fstype;
  // The map its owners were found in (read on dir, btrfs and a mounted dataset): kept, never shifted.
  if (Array.isArray(outs.idmap) && outs.idmap.length) inputs.idmap = outs.idmap;
  if (outs.idmapMode === "mount") inputs.idmapMode = "mount";
  return inputs;
}

/** The resource's id: its container directory, after its host's name when it is on another machine. */
export function resourceId(spec: ContainerRef, props: Props): string {
  const c = connectionIn(props) as { host?: unknown } | undefined;
  const host = typeof c?.host === "string" ? c.host : undefined;
  return host === undefined ? containerDirOf(spec) : `${host.includes(":") ? `[${host}]` : host}:${containerDirOf(spec)}`;
}

/** The outputs: the inputs, what the host holds, and what was recorded at create (`recorded`, the old state). */
function outputs(inputs: Props, observed: Observed & Partial<Pick<CreateResult, (typeof RECORDED)[number]>>, recorded: Props = {}): Props {
  const out: Props = { ...inputs };
  for (const k of OUTPUT_NAMES) out[k] = observed[k];
  for (const k of RECORDED) {
    const value = observed[k] ?? recorded[k];
    if (value !== undefined && value !== null) out[k] = value;
  }
  return out;
}

export async function createResource(
  news: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<{ id: string; outs: Props; method: string }> {
  const inputs = withDefaults(inputsOf(news));
  const created = await core.create(inputs, opts);
  // Recorded even when none ([]): a later change of idmap then knows the map it shifts from without a mount.
  const outs = outputs({ ...inputs, ...placementOf(news) }, { ...created, idmap: created.idmap ?? [] });
  return { id: resourceId(created, news), outs, method: created.method };
}

/** What is on the host now, without mounting. Null when the rootfs is gone (refresh drops it). */
export async function readResource(
  props: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<{ id: string; outs: Props } | null> {
  const observed = await core.inspect({ ...refOf(props), ...recordedOf(props) }, opts);
  if (!observed) return null;
  return { id: resourceId(observed, props), outs: outputs({ ...withDefaults(inputsOf(props)), ...placementOf(props) }, observed, props) };
}

/** The wanted state, in full: what equals the host is kept, the rest changes. */
export async function updateResource(
  olds: Props,
  news: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<{ outs: Props; strategy: string; summary: string; method: string }> {
  const inputs = withDefaults(inputsOf(news));
  // Through the new spelling of the lxcPath (diffResource found it names the same directory): the old one
  // may be what the user is moving away from.
  const ref: ContainerRef = {
    ...refOf(news),
    ...(typeof olds.rootfsPath === "string" ? { rootfsPath: olds.rootfsPath } : {}),
    ...recordedOf(olds),
  };
  const updated = await core.update(ref, changeOf(inputs), opts);
  return {
    outs: outputs({ ...inputs, ...placementOf(news) }, updated, olds),
    strategy: updated.strategy,
    summary: updated.summary,
    method: updated.method,
  };
}

export async function deleteResource(
  props: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<{ destroyed: boolean; reason?: string }> {
  return core.destroy(refOf(props), opts);
}

/** A message for an error, as a user should read it. */
export function describeError(e: unknown): string {
  if (e instanceof InvalidInput || e instanceof RootfsError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
