#!/usr/bin/env node
/**
 * npm run gen-types: writes into provider/src the TypeScript that schema.json states, so the core needs no
 * generated SDK (sdk/ is for users of the plugin; importing it made tsc ship a copy of it in dist/sdk):
 * - model/enums.generated.ts: each enum of schema.json's types, as a list of its values and the type of
 *   one; the model layer imports no Pulumi;
 * - adapters/dynamic/args.generated.ts: the dynamic resources' args, as the Node.js SDK types them (the
 *   same names, the same optionality, each property a pulumi.Input), with the object types they use.
 * The files are committed, so that tsc and the unit tests run without a build; test/unit/generated-types.test.ts
 * fails when they differ from what this writes. `node scripts/gen-types.js <dir>` writes under <dir> instead
 * (the test does). npm run gen-sdk runs it too.
 */
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..");
const schema = JSON.parse(fs.readFileSync(path.join(root, "schema.json"), "utf8"));
const HEADER = "// Generated from schema.json by scripts/gen-types.js; do not edit: run npm run gen-types.\n";
const ENUMS = "provider/src/model/enums.generated.ts";
const ARGS = "provider/src/adapters/dynamic/args.generated.ts";

const typeName = (token) => token.split(":").pop();
const constantName = (name) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
const types = Object.entries(schema.types).map(([token, spec]) => ({ token, name: typeName(token), spec }));
const enums = types.filter((t) => t.spec.enum);
const objects = types.filter((t) => t.spec.type === "object");

/** A JSDoc block at the given indent, or nothing when schema.json gives no description. */
function doc(description, indent) {
  if (!description) return "";
  const lines = description.replace(/\*\//g, "*\\/").split("\n");
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`.trimEnd()), `${indent} */`, ""].join("\n");
}

function enumsFile() {
  const blocks = enums.map(({ name, spec }) => {
    if (spec.type !== "string") throw new Error(`gen-types: enum ${name} is not of strings`);
    const list = constantName(name) + "_VALUES";
    return (
      `/** ${name}'s values, in schema.json's order. */\n` +
      `export const ${list} = [${spec.enum.map((e) => JSON.stringify(e.value)).join(", ")}] as const;\n` +
      doc(spec.description, "") +
      `export type ${name} = (typeof ${list})[number];\n`
    );
  });
  return [HEADER, ...blocks].join("\n");
}

/** The TypeScript of a schema.json type, as the SDK's inputs spell it; the enums it names go in `used`. */
function tsType(spec, used) {
  if (spec.$ref) {
    const t = types.find((x) => `#/types/${x.token}` === spec.$ref);
    if (!t) throw new Error(`gen-types: ${spec.$ref} is not in schema.json's types`);
    if (!t.spec.enum) return `${t.name}Args`;
    used.add(t.name);
    return t.name;
  }
  if (spec.oneOf) return spec.oneOf.map((s) => tsType(s, used)).join(" | ");
  // As the Node.js SDK spells an array input: each element an input too.
  if (spec.type === "array") return `pulumi.Input<${tsType(spec.items, used)}>[]`;
  const plain = { string: "string", integer: "number", number: "number", boolean: "boolean" }[spec.type];
  if (!plain) throw new Error(`gen-types: no TypeScript for ${JSON.stringify(spec)}`);
  return plain;
}

function argsInterface(name, description, properties, required, used, base) {
  const own = Object.entries(properties).filter(([key]) => !base?.spec.properties[key]);
  const members = own.map(([key, spec]) => {
    const type = tsType(spec, used);
    const member = required.includes(key) ? `${key}: pulumi.Input<${type}>;` : `${key}?: pulumi.Input<${type} | undefined>;`;
    return `${doc(spec.description, "  ")}  ${member}\n`;
  });
  const heading = base ? `${name} extends ${base.name}Args` : name;
  return `${doc(description, "")}export interface ${heading} {\n${members.join("")}}\n`;
}

/**
 * The object type that `t` has every property of, each the same (a connection and its bastion), so that its
 * args extend that type's rather than repeat them.
 */
function baseOf(t) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const required = (x, key) => (x.spec.required ?? []).includes(key);
  const size = (x) => Object.keys(x.spec.properties).length;
  return objects.find(
    (o) =>
      size(o) < size(t) &&
      Object.entries(o.spec.properties).every(([key, spec]) => same(spec, t.spec.properties[key]) && required(o, key) === required(t, key)),
  );
}

function argsFile() {
  const used = new Set();
  const resources = Object.entries(schema.resources).map(([token, spec]) =>
    argsInterface(
      `${typeName(token)}Args`,
      `The inputs of a ${typeName(token)} (${token}).`,
      spec.inputProperties,
      spec.requiredInputs,
      used,
    ),
  );
  const inputTypes = objects.map((t) =>
    argsInterface(`${t.name}Args`, t.spec.description, t.spec.properties, t.spec.required ?? [], used, baseOf(t)),
  );
  const enumImport = used.size ? `import type { ${[...used].join(", ")} } from "../../model/enums.generated";\n` : "";
  return [`${HEADER}import type * as pulumi from "@pulumi/pulumi";\n${enumImport}`, ...resources, ...inputTypes].join("\n");
}

const out = process.argv[2] ?? root;
for (const [file, text] of Object.entries({ [ENUMS]: enumsFile(), [ARGS]: argsFile() })) {
  fs.mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
  fs.writeFileSync(path.join(out, file), text);
}
