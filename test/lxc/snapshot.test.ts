/**
 * Snapshots on the real kernel with real LXC: what `lxc-rootfs snapshot` keeps equals the rootfs at that
 * moment and stays so, costs what the host can share, is listed by `lxc-snapshot -L`, restored by
 * `lxc-snapshot -r` and by a new rootfs whose `from` is its rootfsPath, and both restored containers boot.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, imageDigest, must, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { boot, execute, seedFixture, SeedFixture, writeBootConfig } from "../helpers/lxc";

const M = 2 ** 20;
let fixture: SeedFixture;
let lxcPath: string;
let bpath: string;
let seed: string;

beforeAll(async () => {
  fixture = await seedFixture("snapshot");
  ({ lxcPath, bpath, seed } = fixture);
  // Data worth sharing: 1% of it is a bound a snapshot's metadata stays under.
  const big = Buffer.alloc(48 * M);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i ^ 0x5a5a5a5a, i);
  await fs.writeFile(path.join(seed, "rootfs", "root", "big.bin"), big);
}, 300000);

afterAll(() => fixture.release());

const opts = (where: string, name: string) => ["--lxcpath", where, "--name", name];

/** The content of a rootfs string's storage: a tree's digest, or an image's filesystem's. */
async function digestOf(rootfsPath: string, scratch: string): Promise<string> {
  const [, store, rest] = /^(\w+):(.*)$/.exec(rootfsPath)!;
  if (store === "loop") return imageDigest(rest, scratch);
  // An overlay's own content is its upper layer (the lower one is shared, and read-only to it).
  return treeDigest(store === "overlay" ? rest.split(":")[1] : rest);
}

/** Bytes on disk of a storage object (du: a tree's blocks, an image's allocated extents). */
async function diskBytes(p: string): Promise<number> {
  return Number((await must(["du", "-s", "--block-size=1", p])).split(/\s/)[0]);
}

/** Data bytes of `p` that no other file on its btrfs shares (btrfs filesystem du's Exclusive). */
async function exclusiveBytes(p: string): Promise<number> {
  const out = await must(["btrfs", "filesystem", "du", "-s", "--raw", p]);
  return Number(out.trim().split("\n").pop()!.trim().split(/\s+/)[1]);
}

/** The object that holds a rootfs string's data: image, directory, subvolume, upper layer. */
const objectOf = (rootfsPath: string) => rootfsPath.replace(/^\w+:/, "").split(":").pop()!;

describe.each([
  // store, create options, on the btrfs scratch filesystem, the method expected
  ["dir", ["--backing-store", "dir"], false, "cp"],
  ["loop", ["--backing-store", "loop", "--size", "192M"], false, "sparse-copy"],
  ["overlay", ["--backing-store", "overlay"], false, "cp"],
  ["btrfs", ["--backing-store", "btrfs"], true, "snapshot"],
  ["dir on btrfs", ["--backing-store", "dir"], true, "reflink"],
  ["loop on btrfs", ["--backing-store", "loop", "--size", "192M"], true, "reflink"],
] as Array<[string, string[], boolean, string]>)("a snapshot of a %s rootfs", (label, args, onBtrfs, method) => {
  const name = `s-${label.replace(/ /g, "-")}`;
  let where: string;
  let rootfsPath: string;
  let snap: Record<string, unknown>;
  let before: string;
  let later: string;

  beforeAll(async () => {
    where = onBtrfs ? bpath : lxcPath;
    await writeBootConfig(seed, where, name);
    // An overlay's data is what the container wrote over its lower layer.
    rootfsPath = (await cliOk(["create", ...opts(where, name), ...args, "--from", `dir:${seed}/rootfs`])).rootfsPath;
    if (args.includes("overlay")) {
      await execute(where, name, "head -c 8388608 /root/big.bin > /root/upper.bin");
    }
    before = await digestOf(rootfsPath, where);
  }, 300000);

  afterAll(async () => {
    await cli(["snapshot-destroy", ...opts(where, name), "--snapshot", "pre-upgrade"]);
    await cli(["destroy", ...opts(where, name)]);
    await fs.rm(path.join(where, name), { recursive: true, force: true });
  });

  it("keeps the content of that moment, in LXC's layout, at the cost the host allows", async () => {
    const plan = await cliOk(["snapshot-plan", ...opts(where, name), "--snapshot", "pre-upgrade"]);
    expect(plan).toMatchObject({ method });
    snap = (await cliOk([
      "snapshot",
      ...opts(where, name),
      "--snapshot",
      "pre-upgrade",
      "--comment",
      "before the upgrade",
    ])) as unknown as Record<string, unknown>;
    const dir = path.join(where, name, "snaps", "pre-upgrade");
    expect(snap).toMatchObject({ container: name, name: "pre-upgrade", comment: "before the upgrade", method });
    // The take reports what it wrote without reading it back: a read says the same.
    const { method: _taken, ...reported } = snap;
    expect(await cliOk(["snapshot-inspect", ...opts(where, name), "--snapshot", "pre-upgrade"])).toEqual({
      ...reported,
      method: label === "btrfs" ? "snapshot" : null,
    });
    expect(String(snap.rootfsPath)).toContain(`${dir}/`);
    expect(Math.abs(Date.parse(String(snap.createdAt)) - Date.now())).toBeLessThan(120000);
    expect((await fs.readdir(dir)).sort()).toEqual(expect.arrayContaining(["comment", "config", "rootfs", "ts"]));
    expect(await fs.readFile(path.join(dir, "ts"), "utf8")).toMatch(/^\d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/);
    expect(await fs.readFile(path.join(dir, "config"), "utf8")).toContain(`lxc.rootfs.path = ${String(snap.rootfsPath)}\n`);
    expect(await digestOf(String(snap.rootfsPath), where)).toBe(before);

    const source = objectOf(rootfsPath);
    const copy = objectOf(String(snap.rootfsPath));
    if (onBtrfs) {
      // Shared extents: the snapshot holds almost no data of its own.
      await must(["btrfs", "filesystem", "sync", where]);
      expect(await exclusiveBytes(copy)).toBeLessThanOrEqual(0.01 * (await diskBytes(source)));
    } else {
      expect(await diskBytes(copy)).toBeLessThanOrEqual(1.05 * (await diskBytes(source)));
      expect(await diskBytes(copy)).toBeGreaterThan(0.5 * (await diskBytes(source)));
    }
    if (label === "btrfs") await expect(fs.writeFile(path.join(copy, "x"), "x")).rejects.toMatchObject({ code: "EROFS" });
  });

  it("is listed by lxc-snapshot -L, and later writes to the rootfs do not reach it", async () => {
    const list = await must(["lxc-snapshot", "-P", where, "-n", name, "-L", "-C"]);
    expect(list).toContain(`pre-upgrade (${where}/${name}/snaps) `);
    expect(list).toContain("before the upgrade");
    await must(["timeout", "120", "lxc-execute", "-P", where, "-n", name, "--", "/bin/sh", "-c", "echo later > /etc/lxc-rootfs-marker"]);
    later = await digestOf(rootfsPath, where);
    expect(later).not.toBe(before);
    expect(await digestOf(String(snap.rootfsPath), where)).toBe(before);
    expect(await cliOk(["snapshot-inspect", ...opts(where, name), "--snapshot", "pre-upgrade"])).toMatchObject({
      rootfsPath: snap.rootfsPath,
      createdAt: snap.createdAt,
      comment: "before the upgrade",
    });
  });

  it("restores with lxc-snapshot -r and as the from of a new rootfs, and both boot", async () => {
    const restored = `${name}-r`;
    await must(["lxc-snapshot", "-P", where, "-n", name, "-r", "pre-upgrade", "-N", restored]);
    expect(await boot(where, restored)).toBe(`booted ${restored}\nseed data\n`);
    await must(["lxc-destroy", "-P", where, "-n", restored]);

    // Roll back: a rootfs made from the snapshot (an overlay's lower layer must be a tree, so dir).
    const back = `${name}-b`;
    await writeBootConfig(seed, where, back);
    const store = args.includes("overlay") ? ["--backing-store", "dir"] : args;
    await cliOk(["create", ...opts(where, back), ...store, "--from", String(snap.rootfsPath)]);
    expect(await boot(where, back)).toBe(`booted ${back}\nseed data\n`);
    await cliOk(["destroy", ...opts(where, back)]);
    await fs.rm(path.join(where, back), { recursive: true });
  });

  it("keeps the rootfs from being destroyed while it exists; destroyed, it leaves nothing", async () => {
    const refused = await cli(["destroy", ...opts(where, name)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("has snapshots pre-upgrade");
    expect(await digestOf(rootfsPath, where)).toBe(later);
    expect(await cliOk(["snapshot-destroy", ...opts(where, name), "--snapshot", "pre-upgrade"])).toEqual({ destroyed: true });
    expect(await fs.readdir(path.join(where, name))).not.toContain("snaps");
    expect(await must(["lxc-snapshot", "-P", where, "-n", name, "-L"])).toMatch(/No snapshots/);
    await expectNoLeaks(where);
  });
});

describe("a snapshot lxc-snapshot made", () => {
  it("is read and removed like one of ours", async () => {
    const name = "lx-made";
    await writeBootConfig(seed, lxcPath, name);
    await cliOk(["create", ...opts(lxcPath, name), "--backing-store", "dir", "--from", `dir:${seed}/rootfs`]);
    const comment = path.join(lxcPath, "comment.txt");
    await fs.writeFile(comment, "made by lxc-snapshot\n");
    await must(["lxc-snapshot", "-P", lxcPath, "-n", name, "-c", comment]);
    const out = await cliOk(["snapshot-inspect", ...opts(lxcPath, name), "--snapshot", "snap0"]);
    expect(out).toMatchObject({
      name: "snap0",
      rootfsPath: `dir:${lxcPath}/${name}/snaps/snap0/rootfs`,
      backingStore: "dir",
      comment: "made by lxc-snapshot",
      method: null,
    });
    expect(Math.abs(Date.parse(String((out as unknown as Record<string, unknown>).createdAt)) - Date.now())).toBeLessThan(120000);
    expect(await cliOk(["snapshot-destroy", ...opts(lxcPath, name), "--snapshot", "snap0"])).toEqual({ destroyed: true });
    expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", name, "-L"])).toMatch(/No snapshots/);
    await cliOk(["destroy", ...opts(lxcPath, name)]);
    await fs.rm(path.join(lxcPath, name), { recursive: true });
  });
});

describe("refusals that keep a snapshot's data where it is", () => {
  it("an overlay whose lower layer would be a snapshot's", async () => {
    const r = await cli([
      "create",
      ...opts(lxcPath, "over-snap"),
      "--backing-store",
      "overlay",
      "--from",
      `dir:${lxcPath}/web/snaps/pre/rootfs`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--from: invalid value .*a lower layer that is not a snapshot's/);
    await expect(fs.lstat(path.join(lxcPath, "over-snap"))).rejects.toThrow(/ENOENT/);
  });

  it("a snaps/ that is a symbolic link: nothing is deleted through it", async () => {
    const name = "snaps-link";
    await cliOk(["create", ...opts(lxcPath, name), "--backing-store", "dir"]);
    const outside = path.join(lxcPath, "outside");
    await fs.mkdir(path.join(outside, "pre", "rootfs"), { recursive: true });
    await fs.writeFile(path.join(outside, "pre", "config"), `lxc.rootfs.path = dir:${outside}/pre/rootfs\n`);
    await fs.writeFile(path.join(outside, "pre", "rootfs", "keep"), "keep\n");
    await fs.symlink(outside, path.join(lxcPath, name, "snaps"));
    const r = await cli(["snapshot-destroy", ...opts(lxcPath, name), "--snapshot", "pre"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/snaps: it is not a directory \(a symbolic link\?\)/);
    expect(await fs.readFile(path.join(outside, "pre", "rootfs", "keep"), "utf8")).toBe("keep\n");
    await fs.unlink(path.join(lxcPath, name, "snaps"));
    await cliOk(["destroy", ...opts(lxcPath, name)]);
    await fs.rm(outside, { recursive: true });
  });
});
