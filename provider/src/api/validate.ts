/**
 * Input validation: the shape with ajv against schema.json, then the rules a schema cannot say. Every
 * failure names the property, the value and what is allowed, and comes before anything is touched.
 */
import type { default as Ajv, ErrorObject } from "ajv";
import path from "path";
import { InvalidInput } from "../model/errors";
import { parseRootfsString } from "../drivers/syntax";
import { inputDefaults, inputJsonSchema } from "../model/schema";
import { parseSize } from "../model/sizes";
import { Fstype, RootfsSpec, Store } from "../model/requests";
import { DRIVERS } from "../drivers";
import { MIN_FS_SIZE } from "../host/filesystem";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LVM_NAME_RE = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;
const ZFS_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*(\/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$/;

let validator: ReturnType<Ajv["compile"]> | undefined;

function describe(err: ErrorObject): InvalidInput {
  const prop =
    err.keyword === "additionalProperties"
      ? String((err.params as { additionalProperty: string }).additionalProperty)
      : err.keyword === "required"
        ? String((err.params as { missingProperty: string }).missingProperty)
        : err.instancePath.replace(/^\//, "").split("/")[0] || "(inputs)";
  const schema = (inputJsonSchema.properties as Record<string, { enum?: string[] }>)[prop];
  const allowed =
    err.keyword === "additionalProperties"
      ? `not a property of lxc:index:Rootfs`
      : err.keyword === "required"
        ? "required"
        : schema?.enum
          ? `one of ${schema.enum.join(", ")}`
          : (err.message ?? "invalid");
  return new InvalidInput(prop, err.keyword === "additionalProperties" || err.keyword === "required" ? undefined : err.data, allowed);
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

/** The property errors of raw inputs: empty when valid. Used by Pulumi's check to list every failure. */
export function inputFailures(raw: Record<string, unknown>): InvalidInput[] {
  try {
    validateSpec(raw);
    return [];
  } catch (e) {
    if (e instanceof InvalidInput) return [e];
    throw e;
  }
}

/** Validates raw inputs (CLI flags, Pulumi inputs) into a spec, applying schema.json's defaults. */
export function validateSpec(raw: Record<string, unknown>): RootfsSpec {
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null) inputs[k] = v;
  validator ??= loadValidator();
  if (!validator(inputs)) throw describe(validator.errors![0]);

  const container = inputs.container as string;
  if (!NAME_RE.test(container)) {
    throw new InvalidInput("container", container, "letters, digits, '.', '_' and '-', not starting with '.' or '-', at most 64 characters");
  }
  const lxcPath = (inputs.lxcPath ?? inputDefaults.lxcPath) as string;
  if (!path.isAbsolute(lxcPath) || /[\n\0:]/.test(lxcPath) || lxcPath.split("/").includes("..") || lxcPath.length > 1024) {
    throw new InvalidInput("lxcPath", lxcPath, "an absolute directory path without '..', ':' or newlines");
  }
  const backingStore = (inputs.backingStore ?? inputDefaults.backingStore) as Store;
  const caps = DRIVERS[backingStore].caps;
  const spec: RootfsSpec = { container, lxcPath: path.normalize(lxcPath).replace(/(.)\/$/, "$1"), backingStore };

  if (inputs.fstype !== undefined) {
    if (!caps.isBlock) {
      throw new InvalidInput("fstype", inputs.fstype, `only block stores (loop, lvm) take an fstype; ${backingStore} has none`);
    }
    spec.fstype = inputs.fstype as Fstype;
  }
  if (inputs.size !== undefined) {
    if (!caps.sized) {
      throw new InvalidInput("size", inputs.size, `${backingStore} has no size; only loop, lvm, btrfs and zfs take one`);
    }
    spec.size = parseSize(inputs.size, "size");
    const fs = spec.fstype ?? (caps.isBlock ? "ext4" : undefined);
    if (fs && spec.size < MIN_FS_SIZE[fs]) {
      throw new InvalidInput("size", inputs.size, `at least ${MIN_FS_SIZE[fs]} bytes (${MIN_FS_SIZE[fs] / 2 ** 20}M) for ${fs}`);
    }
  }
  if (inputs.from !== undefined) {
    parseRootfsString(inputs.from as string, "from");
    spec.from = inputs.from as string;
  } else if (caps.needsLower) {
    throw new InvalidInput("from", undefined, `${backingStore} needs from: the dir: or btrfs: rootfs to use as its lower layer`);
  }
  const storeOption = (name: "vgName" | "lvName" | "thinPool" | "zfsRoot", store: Store, re: RegExp) => {
    const v = inputs[name];
    if (v === undefined) return;
    if (backingStore !== store) throw new InvalidInput(name, v, `only for backingStore ${store}`);
    if (!re.test(v as string)) throw new InvalidInput(name, v, `a valid ${store === "lvm" ? "LVM" : "ZFS"} name`);
    spec[name] = v as string;
  };
  storeOption("vgName", "lvm", LVM_NAME_RE);
  storeOption("lvName", "lvm", LVM_NAME_RE);
  storeOption("thinPool", "lvm", LVM_NAME_RE);
  storeOption("zfsRoot", "zfs", ZFS_NAME_RE);
  return spec;
}
