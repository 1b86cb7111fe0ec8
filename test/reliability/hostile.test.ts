/**
 * Hostile input, table-driven: every bad value is refused naming its property, nothing crashes, and
 * nothing outside <lxcPath>/<container> is touched, even with symlinks planted inside the container.
 */
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, RootfsError } from "../../provider/src/model/errors";
import { createRootfs, destroyRootfs, inspectRootfs, updateRootfs } from "../../provider/src/api";
import { inputNames } from "../../provider/src/model/schema";
import { cli, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";

let lxcPath: string;
let outside: string;
let outsideDigest: string;

beforeAll(async () => {
  lxcPath = await tempDir("hostile");
  outside = await tempDir("hostile-outside");
  await fs.mkdir(path.join(outside, "dir"));
  await fs.writeFile(path.join(outside, "dir", "file"), "outside");
  await fs.writeFile(path.join(outside, "image"), Buffer.alloc(4096, 7));
  outsideDigest = await treeDigest(outside);
});
afterEach(async () => {
  expect(await treeDigest(outside)).toBe(outsideDigest);
  await expectNoLeaks(lxcPath);
});
afterAll(async () => {
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

/** Runs an operation that must be refused; returns the error, which must be one of ours. */
async function refused(fn: () => Promise<unknown>): Promise<RootfsError> {
  const err = await fn().then(
    () => new Error("accepted"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RootfsError);
  return err as RootfsError;
}

const NAMES = [
  "",
  ".",
  "..",
  "/",
  "a/b",
  "../../etc",
  "/etc",
  "a b",
  " lead",
  "a\nb",
  "a\tb",
  "$(touch /tmp/pwned)",
  "`id`",
  "x;rm -rf /",
  "-rf",
  "ü",
  "名前",
  "🙂",
  "a\u0000b",
  "x".repeat(65),
  ".hidden",
];
const LXC_PATHS = ["", "relative", "./x", "../x", "/a/../b", "/with:colon", "/new\nline", "/nul\u0000byte", `/${"d".repeat(1100)}`];
const SIZES: unknown[] = [
  "",
  " ",
  "1e9",
  "0x10",
  "1.5G",
  "1 G B",
  "-0",
  "-1",
  "Infinity",
  "NaN",
  "9".repeat(30),
  2 ** 60,
  -1,
  0,
  1.5,
  "1P",
  "1Ki",
  "1GB",
  "12345",
  "1K",
  true,
  [],
  {},
  "١٢",
];
const FROMS = [
  "",
  "dir:",
  "dir:relative",
  "overlay:/a",
  "overlay:/a:/b:/c",
  "lvm:/dev/../etc",
  "zfs:../x",
  "zfs:/abs",
  "nfs:/x",
  "file:///etc",
  "dir:/a\nb",
  "loop:",
  "btrfs:rel",
];

describe.each([
  ["container", NAMES.map((v) => ({ container: v, lxcPath: "/LXC", backingStore: "dir" }))],
  ["lxcPath", LXC_PATHS.map((v) => ({ container: "c", lxcPath: v, backingStore: "dir" }))],
  ["size", SIZES.map((v) => ({ container: "c", lxcPath: "/LXC", backingStore: "loop", size: v }))],
  ["from", FROMS.map((v) => ({ container: "c", lxcPath: "/LXC", backingStore: "loop", from: v }))],
] as Array<[string, Array<Record<string, unknown>>]>)("%s", (property, cases) => {
  it.each(cases.map((c) => [JSON.stringify(c[property]), c]))("%s is refused naming %s, through every operation", async (_label, raw) => {
    const input: Record<string, unknown> = { ...raw, lxcPath: raw.lxcPath === "/LXC" ? lxcPath : raw.lxcPath };
    const before = await fs.readdir(lxcPath);
    const { container, lxcPath: at, ...wanted } = input;
    const ref = { container, lxcPath: at };
    const calls = [() => createRootfs(input), () => updateRootfs(ref, wanted), () => inspectRootfs(ref), () => destroyRootfs(ref)];
    // inspect and destroy take only the container: a case's size or from never reaches them.
    for (const call of property === "size" || property === "from" ? calls.slice(0, 2) : calls) {
      const err = await refused(call);
      expect(err).toBeInstanceOf(InvalidInput);
      expect((err as InvalidInput).property).toBe(property);
      expect(err.message.startsWith(`${property}: invalid value`)).toBe(true);
    }
    expect(await fs.readdir(lxcPath)).toEqual(before);
    await expect(fs.lstat("/tmp/pwned")).rejects.toThrow(/ENOENT/);
  });
});

it("a `from` that does not exist is refused at create, naming from, before anything is made", async () => {
  const err = await refused(() => createRootfs({ container: "nf", lxcPath, backingStore: "loop", from: "dir:/nonexistent/x" }));
  expect(err).toBeInstanceOf(InvalidInput);
  expect(err.message).toBe('from: invalid value "dir:/nonexistent/x": an existing rootfs; nothing is there');
  await expect(fs.lstat(path.join(lxcPath, "nf"))).rejects.toThrow(/ENOENT/);
});

it("every property named in a refusal is a property of schema.json", () => {
  expect(inputNames).toEqual(expect.arrayContaining(["container", "lxcPath", "size", "from"]));
});

describe("symlinks planted in the container directory", () => {
  const dir = (name: string) => path.join(lxcPath, name);
  async function plant(name: string, entries: Record<string, string>, config?: string): Promise<void> {
    await fs.mkdir(dir(name), { recursive: true });
    for (const [entry, target] of Object.entries(entries)) await fs.symlink(target, path.join(dir(name), entry));
    if (config !== undefined) await fs.writeFile(path.join(dir(name), "config"), config);
  }

  it.each([
    ["rootfs → an outside dir (dir store)", { rootfs: "OUT/dir" }, "lxc.rootfs.path = dir:DIR/rootfs\n", /symbolic link/],
    [
      "rootdev → an outside file (loop store)",
      { rootdev: "OUT/image", rootfs: "OUT/dir" },
      "lxc.rootfs.path = loop:DIR/rootdev\n",
      /not a regular file|symbolic link|in use|not a directory/,
    ],
    [
      "overlay → an outside dir",
      { overlay: "OUT/dir" },
      "lxc.rootfs.path = overlay:OUT/dir:DIR/overlay/delta\n",
      /symbolic link|not a directory/,
    ],
    [".lxc-rootfs work dir → an outside dir", { ".lxc-rootfs": "OUT/dir" }, "", /not a directory \(a symbolic link\?\)/],
    ["config → an outside file, rootfs string outside", {}, "lxc.rootfs.path = dir:OUT/dir\n", /outside/],
  ] as Array<[string, Record<string, string>, string, RegExp]>)(
    "%s: destroy and update refuse, nothing outside changes",
    async (label, links, config, why) => {
      const name = `s${label.length}`;
      const sub = (s: string) => s.replace(/OUT/g, outside).replace(/DIR/g, dir(name));
      await plant(name, Object.fromEntries(Object.entries(links).map(([k, v]) => [k, sub(v)])), sub(config));
      const destroy = await refused(() => destroyRootfs({ container: name, lxcPath }));
      expect(destroy.message).toMatch(why);
      if (config) {
        const update = await refused(() => updateRootfs({ container: name, lxcPath }, { backingStore: "loop" }));
        expect(update.message).toMatch(/symbolic link|outside|not a directory|not a regular file|in use|no space|cannot|refusing|invalid/);
      }
      const create = await refused(() => createRootfs({ container: name, lxcPath, backingStore: "dir" }));
      expect(create.message).toMatch(/already exists|symbolic link|not a directory|refusing/);
      await fs.rm(dir(name), { recursive: true });
    },
  );

  it("the container directory itself a symlink to outside: every operation refuses", async () => {
    await fs.symlink(path.join(outside, "dir"), path.join(lxcPath, "linked"));
    const ref = { container: "linked", lxcPath };
    for (const call of [
      () => createRootfs({ ...ref, backingStore: "dir" }),
      () => updateRootfs(ref, { backingStore: "dir" }),
      () => inspectRootfs(ref),
      () => destroyRootfs(ref),
    ]) {
      const err = await refused(call);
      expect(err.message).toMatch(/refusing to use .*linked: it is not a directory/);
    }
    await fs.unlink(path.join(lxcPath, "linked"));
  });
});

describe("the CLI with hostile arguments", () => {
  it.each([
    [["--name", "$(reboot)"], "--name"],
    [["--name", "../../etc"], "--name"],
    [["--lxcpath", "rel"], "--lxcpath"],
    [["--size", "-5G"], "--size"],
    [["--size", "1e99"], "--size"],
    [["--from", "dir:/nope\n/x"], "--from"],
    [["--backing-store", "loop;reboot"], "--backing-store"],
  ])("%j: exit 2, naming %s", async (args, option) => {
    const base: Record<string, string> = { "--lxcpath": lxcPath, "--name": "h", "--backing-store": "loop" };
    for (let i = 0; i < args.length; i += 2) base[args[i]] = args[i + 1];
    const r = await cli(["create", ...Object.entries(base).flat()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^lxc-rootfs: ${option}: invalid value `));
  });
});
