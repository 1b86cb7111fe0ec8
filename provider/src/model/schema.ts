/**
 * schema.json is the single source of truth for the inputs: this derives from it the JSON Schema that
 * ajv validates; the lists of stores and filesystems are generated from it (enums.generated.ts).
 */
import schemaJson from "../../../schema.json";
import { BACKING_STORE_VALUES, FSTYPE_VALUES } from "./enums.generated";

type PropertySpec = { type?: string; $ref?: string; oneOf?: PropertySpec[]; default?: unknown; description?: string };

export const RESOURCE_TOKEN = "lxc:index:Rootfs";
export const SNAPSHOT_TOKEN = "lxc:index:RootfsSnapshot";
/** The package's version, as schema.json states it for the plugin. */
export const PACKAGE_VERSION: string = schemaJson.version;
const resource = (schemaJson.resources as Record<string, { inputProperties: Record<string, PropertySpec>; requiredInputs: string[] }>)[
  RESOURCE_TOKEN
];
const types = schemaJson.types as unknown as Record<
  string,
  { type: string; enum?: Array<{ value: string }>; properties?: Record<string, PropertySpec>; required?: string[] }
>;

/**
 * Inputs that say where the core runs, not what it makes: the Pulumi adapters take them (see
 * adapters/remote/connection.ts), and no core request carries them.
 */
export const CONNECTION = "connection";
export const PLACEMENT_INPUTS: readonly string[] = [CONNECTION];
const coreInputs = Object.entries(resource.inputProperties).filter(([k]) => !PLACEMENT_INPUTS.includes(k));

/** An enum of schema.json's types as a list of strings, an object type as an object of its properties. */
function refSchema(ref: string): Record<string, unknown> {
  const t = types[ref.replace("#/types/", "")];
  if (t.enum) return { type: "string", enum: t.enum.map((e) => e.value) };
  return {
    type: "object",
    additionalProperties: false,
    required: t.required ?? [],
    properties: Object.fromEntries(Object.entries(t.properties ?? {}).map(([k, v]) => [k, toJsonSchema(v)])),
  };
}

function toJsonSchema(p: PropertySpec): Record<string, unknown> {
  if (p.$ref) return refSchema(p.$ref);
  if (p.oneOf) return { anyOf: p.oneOf.map(toJsonSchema) };
  return { type: p.type };
}

/** The JSON Schema of the core's inputs: the resource's, less where it runs. */
export const inputJsonSchema = {
  type: "object",
  additionalProperties: false,
  required: resource.requiredInputs,
  properties: Object.fromEntries(coreInputs.map(([k, v]) => [k, toJsonSchema(v)])),
};

/** Declared defaults of the inputs (lxcPath, backingStore, ...). */
export const inputDefaults: Record<string, unknown> = Object.fromEntries(
  coreInputs.filter(([, v]) => v.default !== undefined).map(([k, v]) => [k, v.default]),
);

/** Every input of the resource, where it runs included. */
export const inputNames = Object.keys(resource.inputProperties);
/** The inputs the core's requests take. */
export const coreInputNames = coreInputs.map(([k]) => k);
/** The enums' values as plain strings, to test an input not yet known to be one. */
export const storeValues: readonly string[] = BACKING_STORE_VALUES;
export const fstypeValues: readonly string[] = FSTYPE_VALUES;

type ResourceSpec = { inputProperties: Record<string, PropertySpec & { secret?: boolean }>; requiredInputs: string[] };
const snapshotResource = (schemaJson.resources as unknown as Record<string, ResourceSpec>)[SNAPSHOT_TOKEN];

/** Inputs schema.json marks secret: the plugin keeps them secret in the state whatever the caller sent. */
export const secretInputNames = Object.entries(resource.inputProperties as Record<string, PropertySpec & { secret?: boolean }>)
  .filter(([, v]) => v.secret)
  .map(([k]) => k);

/** The snapshot's inputs, less where it runs, with their declared defaults and which are required. */
export const snapshotInputNames = Object.keys(snapshotResource.inputProperties).filter((k) => !PLACEMENT_INPUTS.includes(k));
export const snapshotRequired = snapshotResource.requiredInputs;
export const snapshotDefaults: Record<string, unknown> = Object.fromEntries(
  Object.entries(snapshotResource.inputProperties)
    .filter(([, v]) => v.default !== undefined)
    .map(([k, v]) => [k, v.default]),
);

/** The properties of an object type of schema.json (lxc:index:Connection, say). */
export function typeProperties<T>(token: string): Record<string, T> {
  return (schemaJson.types as unknown as Record<string, { properties: Record<string, T> }>)[token].properties;
}
