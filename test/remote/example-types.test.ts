/**
 * examples/remote under the real TypeScript compiler, with the project's compiler options: the program
 * type-checks against the @pulumi/command package and pulumi-lxc; @pulumi/command's connection is a Rootfs
 * connection and one object literal serves both resources; the two connection types have the same fields
 * and values; and a wrong connection does not compile. The program itself cannot run here: @pulumi/command's
 * plugin cannot be fetched on this machine.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, sh, tempDir } from "../helpers/env";

const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
const EXAMPLE = path.join(REPO, "examples", "remote", "index.ts");
const SDK_INPUTS = path.join(REPO, "sdk", "nodejs", "types", "input");
const IMPORTS = `
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type * as lxc from ${JSON.stringify(SDK_INPUTS)};
import { Rootfs } from "pulumi-lxc";
`;

let dir: string;

beforeAll(async () => {
  dir = await tempDir("example-types");
  // Fixtures import @pulumi/command and @pulumi/pulumi as a program does: from the project's node_modules.
  await fs.symlink(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
});

afterAll(async () => {
  // fs.rm unlinks the node_modules symlink; it does not follow it.
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** tsc over `files` with the project's tsconfig; everything absolute, since this tsconfig lives in a temp dir. */
async function typeCheck(name: string, files: string[], extraArgs: string[] = []): Promise<{ code: number; output: string }> {
  const config = path.join(dir, `tsconfig.${name}.json`);
  const compilerOptions = {
    noEmit: true,
    // The fixtures lie outside the checkout.
    rootDir: "/",
    baseUrl: REPO,
    paths: { "pulumi-lxc": [path.join(REPO, "provider", "src", "index.ts")] },
    // "types": ["node", "jest"] is looked up from the tsconfig's own folder otherwise.
    typeRoots: [path.join(REPO, "node_modules", "@types")],
  };
  // include: [] so that the project's own include list is not inherited beside `files`.
  await fs.writeFile(config, JSON.stringify({ extends: path.join(REPO, "tsconfig.json"), compilerOptions, files, include: [] }));
  const r = await sh([process.execPath, TSC, "-p", config, "--pretty", "false", ...extraArgs], { cwd: dir });
  return { code: r.code, output: (r.stdout + r.stderr).trim() };
}

async function fixture(name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, IMPORTS + body);
  return file;
}

/** The `file(line,col)` tsc reports for the first occurrence of `needle` in the fixture's text. */
async function at(file: string, needle: string): Promise<string> {
  const text = await fs.readFile(file, "utf8");
  const before = text.slice(0, text.indexOf(needle)).split("\n");
  return `${path.basename(file)}(${before.length},${before[before.length - 1].length + 1})`;
}

it("examples/remote type-checks against @pulumi/command and pulumi-lxc", async () => {
  const { code, output } = await typeCheck("example", [EXAMPLE], ["--listFiles"]);
  const files = output.split("\n");
  // --listFiles: proof that the real packages were read, not a program that resolved nothing.
  expect(files).toContain(EXAMPLE);
  expect(files).toContain(path.join(REPO, "node_modules", "@pulumi", "command", "remote", "command.d.ts"));
  expect(files).toContain(path.join(REPO, "provider", "src", "adapters", "dynamic", "rootfs.ts"));
  // Nothing but file names: no diagnostic.
  expect(files.filter((l) => !l.startsWith("/"))).toEqual([]);
  expect(code).toBe(0);
}, 120_000);

it("one connection serves Rootfs and @pulumi/command: the same fields, the same values", async () => {
  const file = await fixture(
    "one-connection.ts",
    `
// Identity, stricter than assignability both ways, which an extra optional field would pass.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Theirs = command.types.input.remote.ConnectionArgs;

// @pulumi/command's connection, whatever it holds, is a Rootfs connection.
declare const theirs: Theirs;
new Rootfs("from-command", { container: "web", connection: theirs });

// One object literal, a secret and a bastion among its values, given to both.
const conn = {
  host: "10.0.0.5",
  port: 2222,
  user: "ops",
  privateKey: pulumi.secret("key"),
  hostKey: "ssh-ed25519 AAAA",
  proxy: { host: "bastion", port: 22, privateKey: pulumi.secret("key") },
};
new Rootfs("web", { container: "web", connection: conn });
new command.remote.Command("start", { connection: conn, create: "lxc-start -n web" });

// Field for field, resolved: the same names and the same value types, bastion included.
export const sameFields: Equal<keyof lxc.ConnectionArgs, keyof Theirs> = true;
export const sameValues: Equal<pulumi.Unwrap<lxc.ConnectionArgs>, pulumi.Unwrap<Theirs>> = true;
export const sameProxy: Equal<pulumi.Unwrap<lxc.ProxyConnectionArgs>, pulumi.Unwrap<command.types.input.remote.ProxyConnectionArgs>> = true;
// The control: a bastion is a connection without a proxy, so the two are not equal.
export const proxyIsNotConnection: Equal<pulumi.Unwrap<lxc.ConnectionArgs>, pulumi.Unwrap<lxc.ProxyConnectionArgs>> = false;
`,
  );
  expect(await typeCheck("one-connection", [file])).toEqual({ code: 0, output: "" });
}, 120_000);

it("a value typed as our ConnectionArgs is not @pulumi/command 1.2.1's: our optional Inputs admit Promise<T | undefined>", async () => {
  // What a user meets who types the shared object as ours: type it as @pulumi/command's, as examples/remote does.
  const file = await fixture(
    "ours-to-theirs.ts",
    `
declare const ours: lxc.ConnectionArgs;
export const back: command.types.input.remote.ConnectionArgs = ours;
`,
  );
  const { code, output } = await typeCheck("ours-to-theirs", [file]);
  expect(code).not.toBe(0);
  expect(output).toContain(`${await at(file, "back")}: error TS2322`);
  expect(output).toContain("Type 'Promise<string | undefined>' is not assignable to type 'Promise<string>'.");
  expect(output.split("\n").filter((l) => /error TS/.test(l))).toHaveLength(1);
}, 120_000);

it("a wrong connection does not compile: a string port, an unknown field", async () => {
  const badPort = await fixture("bad-port.ts", `new Rootfs("web", { container: "web", connection: { host: "h", port: "22" } });\n`);
  const unknown = await fixture("unknown-field.ts", `new Rootfs("web", { container: "web", connection: { host: "h", hostkey: "k" } });\n`);
  const { code, output } = await typeCheck("wrong", [badPort, unknown]);
  expect(code).not.toBe(0);
  const errors = output.split("\n").filter((l) => /error TS/.test(l));
  // One error each, at the offending property of `connection`: the fixtures are otherwise valid.
  expect(errors).toEqual([
    `${await at(badPort, `port: "22"`)}: error TS2322: Type 'string' is not assignable to type 'Input<number | undefined>'.`,
    expect.stringContaining(
      `${await at(unknown, "hostkey")}: error TS2353: Object literal may only specify known properties, and 'hostkey' does not exist in type 'ConnectionArgs`,
    ),
  ]);
}, 120_000);
