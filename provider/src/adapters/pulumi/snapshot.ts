/**
 * The RootfsSnapshot resource's semantics, shared by the dynamic provider and the plugin: a snapshot is
 * immutable, so every input replaces it (but the lxcPath spelled another way, which it records); a preview of a new one says how it will be taken and what that
 * moves; a refresh drops one deleted on the host and refuses to take one re-created there for the one this
 * stack made (a snapshot of other data under the same name), as does a delete.
 */
import path from "path";
import { AlreadyExists, InvalidInput, NotFound, RootfsError } from "../../model/errors";
import { SnapshotObserved, SNAPS_DIR, snapshotDirOf, SnapshotRef } from "../../model/snapshots";
import { CONNECTION, snapshotDefaults, snapshotInputNames } from "../../model/schema";
import { OperationOptions, RootfsCore } from "../../api";
import { snapshotInputFailures } from "../../api/validate";
import { connectionIn, machineFor, validateConnection } from "../remote/connection";
import { extraKeys, hasUnknown, isUnknown, placementOf, Props } from "./props";
import { previewUnreachable, unreachableNote } from "./unreachable";
import { CheckResult, DiffResult, RECORD_ONLY, resourceId, respelled, respelling } from "./resource";

export const SNAPSHOT_OUTPUT_NAMES = [
  "createdAt",
  "timestamp",
  "rootfsPath",
  "backingStore",
  "sizeBytes",
  "allocatedBytes",
  "method",
] as const;

/** The snapshot's own inputs among `props` (the state holds inputs and outputs together), defaults applied. */
export function snapshotInputsOf(props: Props): Props {
  const out: Props = { ...snapshotDefaults };
  for (const k of snapshotInputNames) if (props[k] !== undefined && props[k] !== null) out[k] = props[k];
  return out;
}

function refOf(props: Props): SnapshotRef {
  const i = snapshotInputsOf(props);
  return { container: i.container as string, lxcPath: i.lxcPath as string, name: i.name as string };
}

export function snapshotLabel(props: Props): string {
  const i = snapshotInputsOf(props);
  return `snapshot ${String(i.name)} of ${String(i.lxcPath)}/${String(i.container)}`;
}

/** Stand-ins for values a preview does not know yet (a Rootfs's container output): valid, so the rest is judged. */
const STAND_INS: Props = { container: "unknown", lxcPath: "/unknown", name: "unknown", comment: "" };

/**
 * The snapshots this process's diffs replaced where they stand (same machine, same directory), by
 * machine and directory. A snapshot is deleted before it is taken again, and the engine checks the new one
 * (with no old inputs) before that delete: the old one still holds the name, which is no conflict here.
 */
const replacedInPlace = new Set<string>();
const placeOf = (props: Props) => `${machineFor(props)} ${snapshotDirOf(refOf(props))}`;

/**
 * Validates the inputs. For a new snapshot (no old inputs) whose inputs are all known, the host is asked
 * how it would be taken: `plan` is the line a preview prints, and a name already taken there fails here.
 */
export async function checkSnapshot(olds: Props, news: Props, core: () => RootfsCore): Promise<CheckResult & { plan?: string }> {
  previewUnreachable();
  const inputs = { ...snapshotInputsOf(news), ...placementOf(news) };
  const failures: CheckResult["failures"] = [];
  const judged = Object.fromEntries(
    Object.entries({ ...snapshotInputsOf(news), ...extraKeys(news, [...snapshotInputNames, ...SNAPSHOT_OUTPUT_NAMES, CONNECTION]) }).map(
      ([k, v]) => [k, isUnknown(v) ? STAND_INS[k] : v],
    ),
  );
  try {
    if (inputs.connection !== undefined && !hasUnknown(inputs.connection)) validateConnection(inputs.connection);
  } catch (e) {
    if (!(e instanceof InvalidInput)) throw e;
    failures.push({ property: e.property, reason: e.message });
  }
  failures.push(...snapshotInputFailures(judged).map((e) => ({ property: e.property, reason: e.message })));
  const creating = Object.keys(olds ?? {}).length === 0;
  if (!creating || failures.length || hasUnknown(inputs)) return { inputs, failures };
  try {
    return { inputs, failures, plan: (await core().planSnapshot(snapshotInputsOf(inputs))).summary };
  } catch (e) {
    const unreachable = unreachableNote(e, machineFor(news));
    if (unreachable) return { inputs, failures, plan: unreachable };
    // The rootfs may be made by this same update: the plan is known once it exists.
    if (e instanceof NotFound) return { inputs, failures };
    if (e instanceof AlreadyExists && replacedInPlace.has(placeOf(news)))
      return { inputs, failures, plan: "taken again once the snapshot it replaces is deleted" };
    if (e instanceof AlreadyExists) {
      const id = snapshotDirOf(refOf(inputs));
      failures.push({
        property: "name",
        reason: `a snapshot is already at ${id}: adopt it with pulumi import lxc:index:RootfsSnapshot <name> ${id}, or pick another name`,
      });
      return { inputs, failures };
    }
    throw e;
  }
}

/**
 * Any changed input replaces the snapshot; of the connection, only the machine (host and port) counts. An
 * lxcPath spelled another way that names the same directory is no replacement: the update records it.
 */
export async function diffSnapshot(olds: Props, news: Props, core: RootfsCore, opts: OperationOptions = {}): Promise<DiffResult> {
  if (await respelled(olds, news, refOf(olds), refOf(news), core, opts)) {
    const rest = diffRecorded(olds, { ...news, lxcPath: olds.lxcPath });
    return rest.changes ? rest : { changes: true, replaces: [], summary: `${RECORD_ONLY}: ${respelling(olds, news)}` };
  }
  const diff = diffRecorded(olds, news);
  if (diff.replaces.length && !hasUnknown(news) && placeOf(olds) === placeOf(news)) replacedInPlace.add(placeOf(news));
  return diff;
}

function diffRecorded(olds: Props, news: Props): DiffResult {
  const c = connectionIn(news) as Props | undefined;
  const machineUnknown = isUnknown(c) || isUnknown(c?.host) || isUnknown(c?.port);
  const replaces: string[] = [];
  if (machineUnknown || machineFor(olds) !== machineFor(news)) replaces.push(CONNECTION);
  const before = snapshotInputsOf(olds);
  const after = snapshotInputsOf(news);
  for (const k of snapshotInputNames) if (before[k] !== after[k]) replaces.push(k);
  if (!replaces.length) return { changes: false, replaces: [] };
  const what = replaces.map((k) =>
    k === CONNECTION || isUnknown(after[k]) ? k : `${k} ${JSON.stringify(before[k])} → ${JSON.stringify(after[k])}`,
  );
  return {
    changes: true,
    replaces,
    summary: `replace: ${what.join(", ")}: a snapshot never changes in place; the old one is deleted and a new one taken of the rootfs as it is then`,
  };
}

/**
 * The outputs: the inputs, and what the host holds. The comment stays the one given: taken from the host
 * (edited there, say), it would differ from the program's and replace the snapshot, losing its moment;
 * only an import (`adopt`) takes the host's.
 */
function outputs(inputs: Props, observed: SnapshotObserved, method: unknown, adopt = false): Props {
  const out: Props = { ...inputs };
  for (const k of SNAPSHOT_OUTPUT_NAMES) out[k] = observed[k];
  if (adopt && observed.comment !== null) out.comment = observed.comment;
  // The disk tells a store's own snapshot, not which copy made the others: what was recorded stays.
  out.method = observed.method ?? method ?? "copy";
  return out;
}

/** The snapshot's directory, after its host's name when it is on another machine (as a Rootfs's id). */
function idOf(props: Props, ref: SnapshotRef): string {
  return resourceId({ container: `${ref.container}/${SNAPS_DIR}/${ref.name}`, lxcPath: ref.lxcPath }, props);
}

export async function createSnapshot(news: Props, core: RootfsCore, opts: OperationOptions = {}): Promise<{ id: string; outs: Props }> {
  const inputs = snapshotInputsOf(news);
  const made = await core.createSnapshot(inputs, opts);
  return { id: idOf(news, made), outs: outputs({ ...inputs, ...placementOf(news) }, made, made.method) };
}

/**
 * Refuses a snapshot on the host that is not the one recorded: made again under the same name. Told by
 * its `ts` as written (LXC's local time, which the reader's time zone does not change) and its storage.
 */
function assertSame(props: Props, observed: SnapshotObserved): void {
  const recorded = { createdAt: props.createdAt, timestamp: props.timestamp, rootfsPath: props.rootfsPath };
  if (recorded.createdAt === undefined) return;
  const sameTime = recorded.timestamp !== undefined ? recorded.timestamp === observed.timestamp : recorded.createdAt === observed.createdAt;
  if (sameTime && recorded.rootfsPath === observed.rootfsPath) return;
  const dir = snapshotDirOf(observed);
  throw new RootfsError(
    `${dir} is not the snapshot this stack took (taken ${String(recorded.createdAt)}, ${String(recorded.rootfsPath)}): ` +
      `the host holds one taken ${String(observed.createdAt)}, ${observed.rootfsPath}. It is left alone. ` +
      `Drop the record with pulumi state delete and adopt it with pulumi import, or remove it on the host.`,
  );
}

/** What is on the host now; null when the snapshot is gone (refresh drops it). */
export async function readSnapshot(
  props: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<{ id: string; outs: Props } | null> {
  const ref = refOf(props);
  const observed = await core.inspectSnapshot(ref, opts);
  if (!observed) return null;
  assertSame(props, observed);
  // No recorded output: an import, which takes what the host holds.
  const adopt = props.createdAt === undefined;
  return { id: idOf(props, ref), outs: outputs({ ...snapshotInputsOf(props), ...placementOf(props) }, observed, props.method, adopt) };
}

/**
 * The one update a snapshot takes: its lxcPath spelled another way that names the same directory
 * (diffSnapshot). Nothing changes on the host; the snapshot is read there through the new spelling.
 */
export async function updateSnapshot(olds: Props, news: Props, core: RootfsCore, opts: OperationOptions = {}): Promise<{ outs: Props }> {
  if (!(await respelled(olds, news, refOf(olds), refOf(news), core, opts)))
    throw new RootfsError(`internal: a snapshot is only ever updated to record its lxcPath spelled another way`);
  const r = await readSnapshot({ ...olds, ...snapshotInputsOf(news), ...placementOf(news) }, core, opts);
  if (!r) throw new NotFound(`${snapshotDirOf(refOf(news))} (a refresh drops the record of a snapshot deleted on the host)`);
  return { outs: r.outs };
}

export async function deleteSnapshot(
  props: Props,
  core: RootfsCore,
  opts: OperationOptions = {},
): Promise<{ destroyed: boolean; reason?: string }> {
  const ref = refOf(props);
  const observed = await core.inspectSnapshot(ref, opts);
  if (!observed) return { destroyed: false, reason: "no snapshot found" };
  assertSame(props, observed);
  return core.destroySnapshot(ref, opts);
}

/**
 * The inputs an import starts from, given only the id (the snapshot's directory):
 * `pulumi import lxc:index:RootfsSnapshot pre /var/lib/lxc/web/snaps/pre-upgrade`.
 */
export function snapshotPropsFromId(id: string): Props {
  const parts = typeof id === "string" && path.isAbsolute(id) ? path.normalize(id).replace(/\/+$/, "").split("/") : [];
  if (parts.length < 5 || parts.includes("..") || parts[parts.length - 2] !== SNAPS_DIR) {
    throw new InvalidInput("id", id, "the snapshot's directory, an absolute path such as /var/lib/lxc/web/snaps/pre-upgrade");
  }
  const name = parts[parts.length - 1];
  const container = parts[parts.length - 3];
  return { container, lxcPath: parts.slice(0, -3).join("/") || "/", name };
}

/** The inputs that describe an imported snapshot: a program declaring these has nothing to change. */
export function snapshotInputsFromObserved(outs: Props): Props {
  const inputs: Props = { container: outs.container, lxcPath: outs.lxcPath, name: outs.name };
  if (typeof outs.comment === "string") inputs.comment = outs.comment;
  return inputs;
}
