/**
 * The Rootfs resource's semantics, shared by every Pulumi adapter (the dynamic provider, the schema-based
 * plugin): which inputs replace, which update, what a preview says, what a refresh reads. Nothing here
 * knows Pulumi's wire formats; adapters translate.
 */
import path from "path";
import { InvalidInput, RootfsError } from "../../model/errors";
import { inputDefaults, inputNames } from "../../model/schema";
import { parseSize, SIZE_ALIGN } from "../../model/sizes";
import { Observed, RootfsSpec } from "../../model/requests";
import { DRIVERS } from "../../drivers";
import { containerDirOf, OperationOptions } from "../../executor/context";
import { createRootfs, destroyRootfs, inspectRootfs, updateRootfs } from "../../api";
import { planUpdate } from "../../planner/plan";
import { inputFailures, validateSpec } from "../../api/validate";

export type Props = Record<string, unknown>;

/** The engine's placeholder for a value not known during a preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Inputs whose change means a new rootfs somewhere else: replace, never move. */
export const REPLACE_ON_CHANGE = ["container", "lxcPath"] as const;
/** Used at create only: changing it later changes nothing on the host. */
const CREATE_ONLY = ["from"];

export const OUTPUT_NAMES = ["backingStore", "rootfsPath", "sizeBytes", "fstype", "allocatedBytes", "usedBytes", "managed"] as const;

function isUnknown(v: unknown): boolean {
  return v === UNKNOWN;
}

/** The input properties among `props` (state holds inputs and outputs together). */
export function inputsOf(props: Props): Props {
  const out: Props = {};
  for (const k of inputNames) if (props[k] !== undefined && props[k] !== null) out[k] = props[k];
  return out;
}

/** Inputs with schema.json's defaults made explicit, so the state says what was meant. */
export function withDefaults(inputs: Props): Props {
  return { lxcPath: inputDefaults.lxcPath, backingStore: inputDefaults.backingStore, ...inputs };
}

export interface CheckResult {
  inputs: Props;
  failures: Array<{ property: string; reason: string }>;
}

/** Stand-ins for values a preview does not know yet: valid, so only the known values are judged. */
const UNKNOWN_STAND_INS: Props = { container: "unknown", lxcPath: "/unknown", from: "dir:/unknown" };

/** Validates inputs, leaving unknown values (previews) for later. */
export function checkResource(news: Props): CheckResult {
  const inputs = withDefaults(inputsOf(news));
  // With the store unknown, no rule that depends on it can be judged yet.
  if (isUnknown(inputs.backingStore)) return { inputs, failures: [] };
  const judged: Props = { ...extraKeys(news) };
  for (const [k, v] of Object.entries(inputs)) {
    if (!isUnknown(v)) judged[k] = v;
    else if (k in UNKNOWN_STAND_INS) judged[k] = UNKNOWN_STAND_INS[k];
  }
  const failures = inputFailures(judged).map((e) => ({ property: e.property, reason: e.message }));
  return { inputs, failures };
}

/** Properties that are neither inputs nor outputs: reported by ajv as "not a property". */
function extraKeys(props: Props): Props {
  const known = new Set<string>([...inputNames, ...OUTPUT_NAMES, "container", "lxcPath", "__provider"]);
  return Object.fromEntries(Object.entries(props).filter(([k]) => !known.has(k) && !k.startsWith("__")));
}

export interface DiffResult {
  changes: boolean;
  replaces: string[];
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

/**
 * Compares what is recorded (the old outputs: what the host held at the last create, update or refresh)
 * with what is wanted. "1G" and 1073741824 are one size; `from` only matters at create.
 */
export function diffResource(olds: Props, news: Props): DiffResult {
  const oldInputs = withDefaults(inputsOf(olds));
  const newInputs = withDefaults(inputsOf(news));
  const replaces = REPLACE_ON_CHANGE.filter((k) => !sameValue(k, oldInputs[k], newInputs[k]));
  if (replaces.length) {
    return { changes: true, replaces: [...replaces], summary: `replace: ${replaces.map((k) => `${k} ${JSON.stringify(oldInputs[k])} → ${JSON.stringify(newInputs[k])}`).join(", ")}` };
  }
  if (Object.values(newInputs).some(isUnknown)) return { changes: true, replaces: [], summary: "update: values known only after apply" };
  const spec = validateSpec(newInputs);
  if (olds.backingStore === undefined || olds.rootfsPath === undefined) {
    // No recorded observation (an old state): fall back to comparing inputs.
    const keys = new Set([...Object.keys(oldInputs), ...Object.keys(newInputs)].filter((k) => !CREATE_ONLY.includes(k)));
    const changes = [...keys].some((k) => !sameValue(k, oldInputs[k], newInputs[k]));
    return { changes, replaces: [] };
  }
  const plan = planUpdate(
    {
      store: olds.backingStore as RootfsSpec["backingStore"],
      sizeBytes: (olds.sizeBytes as number | null | undefined) ?? null,
      fstype: (olds.fstype as RootfsSpec["fstype"] | null | undefined) ?? null,
      usedBytes: Number(olds.usedBytes ?? 0),
      allocatedBytes: Number(olds.allocatedBytes ?? 0),
      rootfsPath: olds.rootfsPath as string,
    },
    spec,
  );
  return { changes: plan.strategy !== "none", replaces: [], summary: plan.strategy === "none" ? undefined : plan.summary };
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
 * nothing to change. Size and fstype are stated only for block stores (dir and overlay take none).
 */
export function inputsFromObserved(outs: Props): Props {
  const inputs: Props = { container: outs.container, lxcPath: outs.lxcPath, backingStore: outs.backingStore };
  const caps = DRIVERS[outs.backingStore as RootfsSpec["backingStore"]]?.caps;
  // Whole sectors, as planning compares them: an image lxc-create made is one byte over its size.
  if (caps?.isBlock && typeof outs.sizeBytes === "number") inputs.size = outs.sizeBytes - (outs.sizeBytes % SIZE_ALIGN);
  if (caps?.isBlock && typeof outs.fstype === "string") inputs.fstype = outs.fstype;
  return inputs;
}

/** The resource's id: its container directory. */
export function resourceId(spec: Pick<RootfsSpec, "lxcPath" | "container">): string {
  return containerDirOf(spec);
}

function outputs(inputs: Props, observed: Observed): Props {
  const out: Props = { ...inputs };
  for (const k of OUTPUT_NAMES) out[k] = observed[k];
  return out;
}

export async function createResource(news: Props, opts: OperationOptions = {}): Promise<{ id: string; outs: Props; method: string }> {
  const inputs = withDefaults(inputsOf(news));
  const created = await createRootfs(inputs, opts);
  return { id: resourceId(created), outs: outputs(inputs, created), method: created.method };
}

/** What is on the host now, without mounting. Null when the rootfs is gone (refresh drops it). */
export async function readResource(props: Props, opts: OperationOptions = {}): Promise<{ id: string; outs: Props } | null> {
  const inputs = withDefaults(inputsOf(props));
  // Inspect locates the store through the container's config; the recorded store helps when there is none.
  const observed = await inspectRootfs({ ...inputs, size: undefined, fstype: undefined, backingStore: props.backingStore ?? inputs.backingStore }, opts);
  if (!observed) return null;
  return { id: resourceId(observed), outs: outputs(inputs, observed) };
}

export async function updateResource(news: Props, opts: OperationOptions = {}): Promise<{ outs: Props; strategy: string; summary: string; method: string }> {
  const inputs = withDefaults(inputsOf(news));
  const updated = await updateRootfs(inputs, opts);
  return { outs: outputs(inputs, updated), strategy: updated.strategy, summary: updated.summary, method: updated.method };
}

export async function deleteResource(props: Props, opts: OperationOptions = {}): Promise<{ destroyed: boolean; reason?: string }> {
  const inputs = withDefaults(inputsOf(props));
  return destroyRootfs({ ...inputs, size: undefined, fstype: undefined, from: DRIVERS[(inputs.backingStore as RootfsSpec["backingStore"]) ?? "dir"].caps.needsLower ? inputs.from : undefined }, opts);
}

/** A message for an error, as a user should read it. */
export function describeError(e: unknown): string {
  if (e instanceof InvalidInput || e instanceof RootfsError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
