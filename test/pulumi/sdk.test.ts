/**
 * The Node.js, Python and Go SDKs are generated from schema.json (npm run gen-sdk, Pulumi's own generators) and committed:
 * regenerating them must give the committed bytes, every input must reach every SDK, and the schema must
 * say what each property means.
 */
import { promises as fs, readFileSync } from "fs";
import path from "path";
import { REPO, sh, tempDir } from "../helpers/env";

const LANGUAGES = ["nodejs", "python", "go"];
const schema = JSON.parse(readFileSync(path.join(REPO, "schema.json"), "utf8"));
const rootfs = schema.resources["lxc:index:Rootfs"];
const inputs = Object.keys(rootfs.inputProperties);

async function files(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    // Build output and installed packages are not part of the generated SDK.
    if (["bin", "node_modules", "__pycache__"].includes(e.name)) continue;
    if (e.isDirectory()) out.push(...(await files(root, r)));
    else out.push(r);
  }
  return out.sort();
}

let generated: string;

beforeAll(async () => {
  generated = await tempDir("gen-sdk");
  const r = await sh(["bash", path.join(REPO, "scripts", "gen-sdk.sh")], { env: { OUT: generated } });
  if (r.code !== 0) throw new Error(`npm run gen-sdk failed: ${r.stderr}`);
}, 900000);

afterAll(async () => {
  await fs.rm(generated, { recursive: true, force: true });
});

it("npm run gen-sdk reproduces the committed SDKs byte for byte", async () => {
  const committed = await files(path.join(REPO, "sdk"));
  expect(await files(generated)).toEqual(committed);
  for (const f of committed) {
    const [a, b] = await Promise.all([fs.readFile(path.join(REPO, "sdk", f)), fs.readFile(path.join(generated, f))]);
    if (!a.equals(b)) throw new Error(`sdk/${f} differs from what schema.json generates: run npm run gen-sdk`);
  }
  expect(committed.some((f) => f.startsWith("nodejs/"))).toBe(true);
  for (const lang of LANGUAGES) expect(committed.some((f) => f.startsWith(`${lang}/`))).toBe(true);
});

it("every input of schema.json reaches each SDK under its language's name", async () => {
  const ts = await fs.readFile(path.join(REPO, "sdk", "nodejs", "rootfs.ts"), "utf8");
  const py = await fs.readFile(path.join(REPO, "sdk", "python", "pulumi_lxc", "rootfs.py"), "utf8");
  const go = await fs.readFile(path.join(REPO, "sdk", "go", "lxc", "rootfs.go"), "utf8");
  const goArgs = go.slice(go.indexOf("type RootfsArgs struct {"));
  expect(goArgs.length).toBeLessThan(go.length);
  const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  for (const name of inputs) {
    expect(ts).toMatch(new RegExp(`\\b${name}\\??: pulumi\\.Input<`));
    // Python names: snake_case, and a keyword gets a trailing underscore (from → from_).
    const py_ = snake(name) === "from" ? "from_" : snake(name);
    expect(py).toMatch(new RegExp(`\\b${py_}: pulumi\\.Input\\[`));
    // Go names: exported PascalCase fields of RootfsArgs, each some Input type.
    const pascal = name[0].toUpperCase() + name.slice(1);
    expect(goArgs).toMatch(new RegExp(`\\n\\t${pascal} +[A-Za-z.]*Input\\n`));
  }
  expect(ts).toContain("'lxc:index:Rootfs'");
  expect(py).toContain("'lxc:index:Rootfs'");
  expect(go).toContain(`ctx.RegisterResource("lxc:index:Rootfs"`);
  // The Go SDK is one module at sdk/, at the import path schema.json names.
  expect(await fs.readFile(path.join(REPO, "sdk", "go.mod"), "utf8")).toMatch(/^module github\.com\/pulumi-lxc\/pulumi-lxc\/sdk\n/);
  expect(schema.language.go.importBasePath).toBe("github.com/pulumi-lxc/pulumi-lxc/sdk/go/lxc");
});

it("schema.json describes every property, makes backingStore and fstype enums, and states defaults", () => {
  for (const [name, p] of [...Object.entries(rootfs.inputProperties), ...Object.entries(rootfs.properties)] as Array<
    [string, { description?: string }]
  >) {
    expect(`${name}: ${p.description ?? ""}`.length).toBeGreaterThan(name.length + 10);
  }
  for (const t of ["lxc:index:BackingStore", "lxc:index:Fstype"]) expect(schema.types[t].enum.length).toBeGreaterThan(2);
  expect(rootfs.inputProperties.backingStore.$ref).toBe("#/types/lxc:index:BackingStore");
  expect(rootfs.inputProperties.fstype.$ref).toBe("#/types/lxc:index:Fstype");
  expect(schema.types["lxc:index:BackingStore"].enum.map((e: { value: string }) => e.value)).toEqual([
    "dir",
    "loop",
    "btrfs",
    "overlay",
    "lvm",
    "zfs",
  ]);
  expect(rootfs.inputProperties.lxcPath.default).toBe("/var/lib/lxc");
  expect(rootfs.inputProperties.backingStore.default).toBe("dir");
  // Store-specific options state their default in words: a schema default would be sent for every store.
  for (const k of ["vgName", "zfsRoot", "lvName", "thinPool", "fstype", "size"]) {
    expect(rootfs.inputProperties[k].default).toBeUndefined();
    expect(rootfs.inputProperties[k].description).toMatch(/[Dd]efault/);
  }
});
