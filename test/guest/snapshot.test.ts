/**
 * Snapshots of lvm (thick and thin) and zfs rootfs on Debian's kernel, through the real CLI: what lvs and
 * zfs get say of them, the content of the moment kept while the rootfs is written, lxc-snapshot -L listing
 * them, a rootfs made from one that LXC boots, and the changes that would break them refused or survived.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, must, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { boot, writeBootConfig } from "../helpers/lxc";
import { busyboxSeed, datasetsUnder, DISKS, lvsOf, volumeGroup, withDeviceMounted, zfsDigest, zfsPool } from "./helpers";

const VG = "snapvg";
const THIN_POOL = "pool";
const POOL = "snaptank";
const ROOT = `${POOL}/lxc`;
let lxcPath: string;
let seed: string;

beforeAll(async () => {
  await volumeGroup.create(VG, DISKS.snapshotLvm);
  await must(["lvcreate", "--yes", "--type", "thin-pool", "-L", "1G", "-n", THIN_POOL, VG]);
  await zfsPool.create(POOL, DISKS.snapshotZfs, ROOT);
  lxcPath = await tempDir("snapshot");
  await busyboxSeed(lxcPath, "seed");
  seed = path.join(lxcPath, "seed");
}, 300000);

afterEach(() => expectNoLeaks(lxcPath));

afterAll(async () => {
  await volumeGroup.remove(VG);
  await zfsPool.destroy(POOL);
  if (lxcPath) await fs.rm(lxcPath, { recursive: true, force: true });
});

const base = (name: string) => ["--lxcpath", lxcPath, "--name", name];

/** The digest of what a rootfs string holds, mounted read-only. */
function digestOf(rootfsPath: string): Promise<string> {
  const [, store, body] = /^(\w+):(.*)$/.exec(rootfsPath)!;
  return store === "zfs" ? zfsDigest(body, lxcPath) : withDeviceMounted(body, lxcPath, treeDigest);
}

async function lvOrigin(lv: string): Promise<string> {
  return (await must(["lvs", "--noheadings", "-o", "origin", `${VG}/${lv}`])).trim();
}

async function zfsGet(dataset: string, prop: string): Promise<string> {
  return (await must(["zfs", "get", "-Hp", "-o", "value", prop, dataset])).trim();
}

describe.each([
  ["lvm-thick", ["--backing-store", "lvm", "--vgname", VG, "--size", "256M"]],
  ["lvm-thin", ["--backing-store", "lvm", "--vgname", VG, "--thinpool", THIN_POOL, "--size", "256M"]],
  ["zfs", ["--backing-store", "zfs", "--zfsroot", ROOT]],
] as Array<[string, string[]]>)("a snapshot of a %s rootfs", (name, args) => {
  const zfs = name === "zfs";
  const volume = zfs ? `${ROOT}/${name}.snap.pre` : `${name}.snap.pre`;
  const rootfsPath = zfs ? `zfs:${volume}` : `lvm:/dev/${VG}/${volume}`;
  let before: string;

  it("is the store's own snapshot, keeps the moment, is listed by lxc-snapshot, and a rootfs made from it boots", async () => {
    await writeBootConfig(seed, lxcPath, name);
    const made = await cliOk(["create", ...base(name), ...args, "--from", `dir:${seed}/rootfs`]);
    before = await digestOf(made.rootfsPath);
    expect(await cliOk(["snapshot-plan", ...base(name), "--snapshot", "pre"])).toMatchObject({ method: "snapshot", bytesToMove: 0 });
    const snap = await cliOk(["snapshot", ...base(name), "--snapshot", "pre"]);
    expect(snap).toMatchObject({ rootfsPath, method: "snapshot" });
    if (zfs) {
      expect(await zfsGet(volume, "origin")).toBe(`${ROOT}/${name}@pre`);
      expect(await zfsGet(volume, "mountpoint")).toBe(path.join(lxcPath, name, "snaps", "pre", "rootfs"));
      expect(Number(await zfsGet(volume, "used"))).toBeLessThan(2 ** 20);
    } else {
      expect(await lvOrigin(volume)).toBe(name);
      const lvs = await lvsOf(VG);
      // Thin: in the origin's pool. Thick: copy-on-write space of the origin's size, so it never runs full.
      if (args.includes("--thinpool")) expect(lvs.get(volume)!.pool).toBe(THIN_POOL);
      else expect(lvs.get(volume)!.size).toBe(lvs.get(name)!.size);
    }
    expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", name, "-L"])).toMatch(new RegExp(`^pre \\(${lxcPath}/${name}/snaps\\) `));

    await must(["timeout", "120", "lxc-execute", "-P", lxcPath, "-n", name, "--", "/bin/sh", "-c", "echo later > /etc/lxc-rootfs-marker"]);
    expect(await digestOf(made.rootfsPath)).not.toBe(before);
    expect(await digestOf(rootfsPath)).toBe(before);

    const back = `${name}-back`;
    await writeBootConfig(seed, lxcPath, back);
    await cliOk(["create", ...base(back), ...args, "--from", rootfsPath]);
    expect(await boot(lxcPath, back)).toBe(`booted ${back}\nseed data\n`);
    await cliOk(["destroy", ...base(back)]);
    await fs.rm(path.join(lxcPath, back), { recursive: true });
  });

  it("keeps its rootfs from being destroyed, and from a move that would break it", async () => {
    const refused = await cli(["destroy", ...base(name)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("has snapshots pre");
    const move = await cli(["update", ...base(name), "--backing-store", "dir"]);
    if (name === "lvm-thin") {
      // A thin snapshot is a volume of its own: the rootfs moves, and the snapshot stays whole.
      expect(move.code).toBe(0);
      expect(move.stderr).toMatch(/snapshots pre stay as they are/);
      expect(await lvOrigin(volume)).toBe("");
    } else {
      expect(move.code).toBe(1);
      expect(move.stderr).toMatch(
        zfs ? new RegExp(`${volume} is a clone of its snapshots`) : new RegExp(`${VG}/${volume} is a snapshot of it`),
      );
      expect(move.stderr).toMatch(/Nothing was changed/);
    }
    expect(await digestOf(rootfsPath)).toBe(before);
  });

  it("destroyed, takes its volume (and a zfs origin snapshot) with it; then the rootfs goes", async () => {
    expect(await cliOk(["snapshot-destroy", ...base(name), "--snapshot", "pre"])).toEqual({ destroyed: true });
    if (zfs) expect(await datasetsUnder(ROOT)).toEqual([`${ROOT}/${name}`]);
    else expect((await lvsOf(VG)).has(volume)).toBe(false);
    expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", name, "-L"])).toMatch(/No snapshots/);
    await cliOk(["destroy", ...base(name)]);
    if (zfs) expect(await datasetsUnder(ROOT)).toEqual([]);
    else expect([...(await lvsOf(VG)).keys()]).toEqual([THIN_POOL]);
    await fs.rm(path.join(lxcPath, name), { recursive: true });
  });
});

it("a config that names a volume which is no snapshot is never deleted through it", async () => {
  await must(["lvcreate", "--yes", "-n", "precious", "-L", "16M", VG]);
  const dir = path.join(lxcPath, "victim", "snaps", "planted");
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, "config"), `lxc.rootfs.path = lvm:/dev/${VG}/precious\n`);
  const r = await cli(["snapshot-destroy", ...base("victim"), "--snapshot", "planted"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/names a volume that is not a snapshot/);
  expect((await lvsOf(VG)).has("precious")).toBe(true);
  await must(["lvremove", "--yes", `${VG}/precious`]);
  await fs.rm(path.join(lxcPath, "victim"), { recursive: true });
});

it("a volume of the snapshot's name that is there already is refused, and kept", async () => {
  await cliOk(["create", ...base("taken"), "--backing-store", "lvm", "--vgname", VG, "--size", "64M"]);
  await must(["lvcreate", "--yes", "-n", "taken.snap.pre", "-L", "16M", VG]);
  const r = await cli(["snapshot", ...base("taken"), "--snapshot", "pre"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`lvm:/dev/${VG}/taken\\.snap\\.pre already exists`));
  expect((await lvsOf(VG)).has("taken.snap.pre")).toBe(true);
  await expect(fs.lstat(path.join(lxcPath, "taken", "snaps"))).rejects.toThrow(/ENOENT/);
  await must(["lvremove", "--yes", `${VG}/taken.snap.pre`]);
  await cliOk(["destroy", ...base("taken")]);
});
