/**
 * Each request of the core's API is validated here, once, at its edge: the shape with ajv against
 * schema.json, then the rules a schema cannot say (the store's own, from planner/target.ts). Every
 * failure names the property, the value and what is allowed, and comes before anything is touched.
 */
import type { default as Ajv, ErrorObject } from "ajv";
import path from "path";
import { InvalidInput } from "../model/errors";
import { parseSize } from "../model/sizes";
import { shownUrl } from "../model/urls";
import { IdmapEntry, idmapOf } from "../model/idmap";
import { CHANGE_KEYS, ContainerRef, containerDirOf, LXC_PATH_ALLOWED, RootfsChange, RootfsSpec, Store } from "../model/requests";
import {
  inputDefaults,
  inputJsonSchema,
  RESOURCE_TOKEN,
  SNAPSHOT_TOKEN,
  snapshotDefaults,
  snapshotInputNames,
  snapshotRequired,
} from "../model/schema";
import { SnapshotRef, SnapshotSpec } from "../model/snapshots";
import { parseRootfsString } from "../drivers";
import { judgeStoreRules, StoreInputs } from "../planner/target";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

let validator: ReturnType<Ajv["compile"]> | undefined;

function describe(err: ErrorObject): InvalidInput {
  // A property of an object input (source.sha256) is named by its path.
  const within = err.instancePath.replace(/^\//, "").split("/").filter(Boolean);
  const prop =
    err.keyword === "additionalProperties"
      ? [...within, String((err.params as { additionalProperty: string }).additionalProperty)].join(".")
      : err.keyword === "required"
        ? [...within, String((err.params as { missingProperty: string }).missingProperty)].join(".")
        : within.join(".") || "(inputs)";
  const schema = (inputJsonSchema.properties as Record<string, { enum?: string[] }>)[prop];
  const allowed =
    err.keyword === "additionalProperties"
      ? `not a property of ${within.length ? within.join(".") : RESOURCE_TOKEN}`
      : err.keyword === "required"
        ? "required"
        : schema?.enum
          ? `one of ${schema.enum.join(", ")}`
          : (err.message ?? "invalid");
  // A source's value may be a URL with a credential (given as a string, say): shown as a URL may be.
  const data = prop.startsWith("source") && typeof err.data === "string" ? shownUrl(err.data) : err.data;
  return new InvalidInput(prop, err.keyword === "additionalProperties" || err.keyword === "required" ? undefined : data, allowed);
}

/** The validator ajv generated from schema.json at build time; compiled here when running from sources. */
function loadValidator(): ReturnType<Ajv["compile"]> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("./input-validator.js");
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const AjvClass: typeof Ajv = require("ajv").default;
    return new AjvClass({ allErrors: true, verbose: true }).compile(inputJsonSchema);
  }
}

type Raw = Record<string, unknown>;

/** The properties given: undefined and null mean "not given". */
function given(raw: Raw): Raw {
  const out: Raw = {};
  for (const [k, v] of Object.entries(raw ?? {})) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

/** schema.json's defaults for the properties not given: the one place they are applied. */
export function withDefaults(raw: Raw): Raw {
  return { ...inputDefaults, ...given(raw) };
}

/** The shape of properties of lxc:index:Rootfs, checked by the validator generated from schema.json. */
function checkShape(inputs: Raw): void {
  const failures = shapeFailures(inputs);
  if (failures.length) throw failures[0];
}

/** Every property whose shape is wrong, once each (the validator reports them all). */
function shapeFailures(inputs: Raw): InvalidInput[] {
  validator ??= loadValidator();
  if (validator(inputs)) return [];
  const byProperty = new Map<string, InvalidInput>();
  for (const err of validator.errors!) {
    const e = describe(err);
    if (!byProperty.has(e.property)) byProperty.set(e.property, e);
  }
  return [...byProperty.values()];
}

/** Valid values put in place of a required property that failed, so that the others are still judged. */
const STAND_INS: Raw = { container: "stand-in", name: "stand-in", lxcPath: inputDefaults.lxcPath };

/**
 * Every failure of `validate` on `inputs`, not only the first: each property that fails is set aside (or
 * a required one replaced by a stand-in) and the rest judged again, until they pass or a property fails
 * twice. When the store itself fails, the rules that depend on it cannot be judged.
 */
function everyFailure(inputs: Raw, validate: (inputs: Raw) => unknown, known: InvalidInput[] = []): InvalidInput[] {
  const failures = [...known];
  const rest = { ...inputs };
  // A property of an object input sets the whole input aside.
  const setAside = (path: string) => {
    const property = path.split(".")[0];
    return property in STAND_INS ? (rest[property] = STAND_INS[property]) : delete rest[property];
  };
  for (const f of failures) setAside(f.property);
  while (!failures.some((f) => f.property === "backingStore")) {
    try {
      validate(rest);
      break;
    } catch (e) {
      if (!(e instanceof InvalidInput)) throw e;
      if (failures.some((f) => f.property === e.property)) break;
      failures.push(e);
      setAside(e.property);
    }
  }
  return failures;
}

function refuseOthers(inputs: Raw, allowed: readonly string[], what: string): void {
  for (const [k, v] of Object.entries(inputs)) if (!allowed.includes(k)) throw new InvalidInput(k, v, `not a property of ${what}`);
}

/** container and lxcPath, with lxcPath normalized (no trailing slash, no `.` steps). */
function checkContainer(inputs: Raw): ContainerRef {
  const container = inputs.container as string;
  if (!NAME_RE.test(container)) {
    throw new InvalidInput(
      "container",
      container,
      "letters, digits, '.', '_' and '-', not starting with '.' or '-', at most 64 characters",
    );
  }
  const lxcPath = inputs.lxcPath as string;
  const names = lxcPath.split("/");
  if (
    !path.isAbsolute(lxcPath) ||
    /[\n\0:]/.test(lxcPath) ||
    names.includes("..") ||
    lxcPath.length > 1024 ||
    names.some((n) => Buffer.byteLength(n) > 255)
  ) {
    throw new InvalidInput("lxcPath", lxcPath, LXC_PATH_ALLOWED);
  }
  // Whether it is a directory, and where it leads, is the host's to say: executor/context.ts asks it.
  return { container, lxcPath: path.normalize(lxcPath).replace(/(.)\/$/, "$1") };
}

const REF_KEYS = ["container", "lxcPath", "rootfsPath", "recordedIdmap"] as const;

/** Which container: for inspect and destroy, and the target of an update. */
export function validateRef(raw: Raw): ContainerRef {
  const inputs: Raw = { lxcPath: inputDefaults.lxcPath, ...given(raw) };
  refuseOthers(inputs, REF_KEYS, "a container reference (container, lxcPath, rootfsPath, recordedIdmap)");
  const { rootfsPath, recordedIdmap, ...shape } = inputs;
  checkShape(shape);
  const ref = checkContainer(shape);
  if (rootfsPath !== undefined) {
    parseRootfsString(rootfsPath, "rootfsPath", containerDirOf(ref));
    ref.rootfsPath = rootfsPath as string;
  }
  if (recordedIdmap !== undefined) {
    idmapOf(recordedIdmap, "recordedIdmap");
    ref.recordedIdmap = recordedIdmap as IdmapEntry[];
  }
  return ref;
}

/** Every property error of raw inputs, once each: empty when valid. Pulumi's check lists them all. */
export function inputFailures(raw: Raw): InvalidInput[] {
  const inputs = withDefaults(raw);
  return everyFailure(inputs, validateSpec, shapeFailures(inputs));
}

/** Every property error of a snapshot's raw inputs, once each: empty when valid. */
export function snapshotInputFailures(raw: Raw): InvalidInput[] {
  return everyFailure(raw, validateSnapshotSpec);
}

/** What to create: every input, schema.json's defaults applied. */
export function validateSpec(raw: Raw): RootfsSpec {
  const inputs = withDefaults(raw);
  checkShape(inputs);
  const ref = checkContainer(inputs);
  const backingStore = inputs.backingStore as Store;
  return { ...ref, backingStore, ...judgeStoreRules(backingStore, inputs as StoreInputs, { creating: true }) };
}

/**
 * What an update changes: only the properties given. The store's rules are judged here when the change
 * names the store, else by the update once it has read which store is there.
 */
export function validateChange(raw: Raw): RootfsChange {
  const inputs = given(raw);
  refuseOthers(inputs, CHANGE_KEYS, "an update (backingStore, size, fstype, idmap and the store options)");
  // The shape of each property is the resource's: checked with a stand-in container.
  checkShape({ container: "change", ...inputs });
  if (inputs.backingStore !== undefined) {
    const backingStore = inputs.backingStore as Store;
    return { backingStore, ...judgeStoreRules(backingStore, inputs as StoreInputs, { creating: false }) };
  }
  const change: RootfsChange = { ...(inputs as RootfsChange) };
  if (inputs.size !== undefined) change.size = parseSize(inputs.size, "size");
  return change;
}

/** A snapshot's name: a directory under snaps/, by LXC's rule for container names. */
function checkSnapshotName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new InvalidInput("name", name, "letters, digits, '.', '_' and '-', not starting with '.' or '-', at most 64 characters");
  }
  return name;
}

/** The snapshot inputs given, schema.json's defaults applied, every one a string, the required ones there. */
function snapshotInputs(raw: Raw, keys: readonly string[], what: string): Raw {
  const inputs: Raw = { ...snapshotDefaults, ...given(raw) };
  for (const k of Object.keys(inputs)) if (!keys.includes(k)) delete inputs[k];
  refuseOthers(given(raw), keys, what);
  for (const k of snapshotRequired) if (keys.includes(k) && inputs[k] === undefined) throw new InvalidInput(k, undefined, "required");
  for (const [k, v] of Object.entries(inputs)) if (typeof v !== "string") throw new InvalidInput(k, v, "a string");
  return inputs;
}

const SNAPSHOT_REF_KEYS = ["container", "lxcPath", "name"] as const;
const COMMENT_MAX = 4096;

/** Which snapshot: for inspect and destroy. */
export function validateSnapshotRef(raw: Raw): SnapshotRef {
  const inputs = snapshotInputs(raw, SNAPSHOT_REF_KEYS, "a snapshot reference (container, lxcPath, name)");
  return { ...checkContainer(inputs), name: checkSnapshotName(inputs.name) };
}

/** A snapshot to take: every input of lxc:index:RootfsSnapshot but where it runs. */
export function validateSnapshotSpec(raw: Raw): SnapshotSpec {
  const inputs = snapshotInputs(raw, snapshotInputNames, `${SNAPSHOT_TOKEN} (${snapshotInputNames.join(", ")})`);
  const spec: SnapshotSpec = { ...checkContainer(inputs), name: checkSnapshotName(inputs.name) };
  const comment = inputs.comment as string | undefined;
  if (comment !== undefined) {
    if (comment.includes("\0") || Buffer.byteLength(comment) > COMMENT_MAX) {
      throw new InvalidInput("comment", comment, `text without NUL characters, at most ${COMMENT_MAX} bytes`);
    }
    spec.comment = comment;
  }
  return spec;
}
