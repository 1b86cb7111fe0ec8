/**
 * ZFS on Debian's kernel with the module zfs-dkms built for it: a pool on /dev/vdd and LXC's layout under
 * `zfsRoot`, driven through the real `lxc-rootfs` CLI. What is asserted is what `zfs get` and `zfs list`
 * say, the data as mounted, and what LXC boots.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, must, treeDigest } from "../helpers/env";
import { boot, writeBootConfig } from "../helpers/lxc";
import {
  busyboxSeed,
  datasetsUnder,
  DISKS,
  expectKilledShiftBackFinished,
  expectShiftedInPlace,
  expectShiftKeptThroughMoves,
  noContainerDir,
  seedOciLayout,
  seedTarball,
  volumeSuite,
  zfsDigest,
  zfsPool,
  zfsStore,
} from "./helpers";

const M = 2 ** 20;
const POOL = "tank";
const ROOT = `${POOL}/lxc`;
let lxcPath: string;
let seedDigest: string;

const base = (name: string) => ["--lxcpath", lxcPath, "--name", name];
const zfs = ["--backing-store", "zfs", "--zfsroot", ROOT];
const DATASET = zfsStore(ROOT);
/** `zfs get -Hp` of one property, as a string. */
async function prop(dataset: string, name: string): Promise<string> {
  return (await must(["zfs", "get", "-Hp", "-o", "value", name, dataset])).trim();
}

const datasets = () => datasetsUnder(ROOT);
const digestOf = (dataset: string) => zfsDigest(dataset, lxcPath);

const suite = volumeSuite(
  "zfs",
  async () => {
    await zfsPool.create(POOL, DISKS.zfs, ROOT);
  },
  () => zfsPool.destroy(POOL),
);
beforeAll(() => ({ lxcPath, seedDigest } = suite));

describe("zfs", () => {
  it("an unprivileged rootfs: shifted by 100000 in a dataset, its owners kept through a move to dir and back", () =>
    expectShiftKeptThroughMoves(lxcPath, DATASET));

  // busybox's image holds POSIX ACLs, which its manifest checks: the datasets under ROOT inherit ZFS's
  // default acltype=off, and keep them only because the driver makes each with acltype=posixacl.
  it("a change of idmap shifts busybox's owners (and its ACLs) in a dataset in place, to 100000, and back killed midway and finished by the next update", async () =>
    expectKilledShiftBackFinished(await expectShiftedInPlace(lxcPath, DATASET, "inplace")));

  it("creates a dataset under zfsRoot whose refquota is the size, filled from a dir rootfs", async () => {
    const out = await cliOk(["create", ...base("web"), ...zfs, "--size", "256M", "--from", `dir:${lxcPath}/seed/rootfs`]);
    expect(out).toMatchObject({ backingStore: "zfs", rootfsPath: `zfs:${ROOT}/web`, sizeBytes: 256 * M });
    expect(await prop(`${ROOT}/web`, "refquota")).toBe(String(256 * M));
    expect(await prop(`${ROOT}/web`, "mountpoint")).toBe(path.join(lxcPath, "web", "rootfs"));
    expect(await prop(`${ROOT}/web`, "canmount")).toBe("noauto");
    // Its own, not ROOT's (off): the acltype that keeps an image's POSIX ACLs.
    expect(await prop(ROOT, "acltype")).toBe("off");
    expect(await prop(`${ROOT}/web`, "acltype")).toMatch(/^posix(acl)?$/);
    expect(await prop(`${ROOT}/web`, "xattr")).toBe("sa");
    expect(await fs.readdir(path.join(lxcPath, "web", "rootfs"))).toEqual([]); // LXC's empty mount point
    expect(await digestOf(`${ROOT}/web`)).toBe(seedDigest);
    expect(await fs.readFile(path.join(lxcPath, "web", "config"), "utf8")).toContain(`lxc.rootfs.path = zfs:${ROOT}/web`);
  });

  it("grows and shrinks the quota, the data kept", async () => {
    await cliOk(["update", ...base("web"), "--size", "512M"]);
    expect(await prop(`${ROOT}/web`, "refquota")).toBe(String(512 * M));
    await cliOk(["update", ...base("web"), "--size", "128M"]);
    expect(await prop(`${ROOT}/web`, "refquota")).toBe(String(128 * M));
    expect(await digestOf(`${ROOT}/web`)).toBe(seedDigest);
  });

  it("refuses a quota below the space used, and changes nothing", async () => {
    const used = Number(await prop(`${ROOT}/web`, "referenced"));
    const r = await cli(["update", ...base("web"), "--size", String(Math.floor(used / 2 / 4096) * 4096)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on the zfs limit: needs .* available\. Nothing was changed\./);
    expect(await prop(`${ROOT}/web`, "refquota")).toBe(String(128 * M));
  });

  it("fills from another zfs rootfs with a snapshot and a clone: no data moves", async () => {
    const out = await cliOk(["create", ...base("copy"), ...zfs, "--from", `zfs:${ROOT}/web`]);
    expect(out).toMatchObject({ rootfsPath: `zfs:${ROOT}/copy`, method: "snapshot" });
    expect(await prop(`${ROOT}/copy`, "origin")).toBe(`${ROOT}/web@copy`);
    // A clone takes its parent's properties, not its origin's: it is given acltype too.
    expect(await prop(`${ROOT}/copy`, "acltype")).toMatch(/^posix(acl)?$/);
    expect(Number(await prop(`${ROOT}/copy`, "used"))).toBeLessThan(M);
    expect(await prop(`${ROOT}/copy`, "mountpoint")).toBe(path.join(lxcPath, "copy", "rootfs"));
    expect(await digestOf(`${ROOT}/copy`)).toBe(seedDigest);
  });

  it("refuses to move a rootfs that a clone depends on, before anything is changed", async () => {
    const config = await fs.readFile(path.join(lxcPath, "web", "config"), "utf8");
    const before = await datasets();
    const r = await cli(["update", ...base("web"), "--backing-store", "dir"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/zfs:tank\/lxc\/web cannot be moved: tank\/lxc\/copy is a clone of its snapshots.*Nothing was changed\./);
    expect(await fs.readFile(path.join(lxcPath, "web", "config"), "utf8")).toBe(config);
    expect(await datasets()).toEqual(before);
  });

  it("refuses, before anything is made, data its parent dataset has no room for", async () => {
    await must(["zfs", "create", "-o", "mountpoint=none", "-o", "quota=2M", `${POOL}/small`]);
    const r = await cli([
      "create",
      ...base("nofit"),
      "--backing-store",
      "zfs",
      "--zfsroot",
      `${POOL}/small`,
      "--from",
      `dir:${lxcPath}/seed/rootfs`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on zfs dataset tank\/small: needs .* available\. Nothing was changed\./);
    expect(await datasetsUnder(`${POOL}/small`)).toEqual([]);
    await must(["zfs", "destroy", `${POOL}/small`]);
  });

  it("create-plan: the create's own checks, read-only, with its plan line", async () => {
    const before = await datasets();
    const plan = (args: string[]) => cli(["create-plan", ...base("planned"), "--backing-store", "zfs", ...args]);
    const unchanged = async () => {
      expect(await datasets()).toEqual(before);
      expect(await noContainerDir(lxcPath, "planned")).toBe(true);
    };
    const noRoot = await plan(["--zfsroot", `${POOL}/nosuch`]);
    expect(noRoot.code).toBe(2);
    expect(noRoot.stderr).toMatch(/--zfsroot: invalid value "tank\/nosuch": an existing ZFS dataset/);
    await unchanged();
    await must(["zfs", "create", "-o", "mountpoint=none", "-o", "quota=2M", `${POOL}/small`]);
    const noRoom = await plan(["--zfsroot", `${POOL}/small`, "--from", `dir:${lxcPath}/seed/rootfs`]);
    expect(noRoom.code).toBe(1);
    expect(noRoom.stderr).toMatch(/no space on zfs dataset tank\/small: needs .* available\. Nothing was changed\./);
    expect(await datasetsUnder(`${POOL}/small`)).toEqual([]);
    await must(["zfs", "destroy", `${POOL}/small`]);
    await unchanged();
    const fits = await plan(["--zfsroot", ROOT, "--size", "256M", "--from", `dir:${lxcPath}/seed/rootfs`]);
    expect(fits.code).toBe(0);
    expect((fits.json as { summary: string }).summary).toMatch(
      /^create zfs 256 MiB at zfs:tank\/lxc\/planned, a copy of \d+ MiB file by file from `from` \(dir\)$/,
    );
    await unchanged();
    // A dataset of that name that no config names is someone's: the plan refuses it as the create would.
    await must(["zfs", "create", "-o", "mountpoint=none", `${ROOT}/planned`]);
    const taken = await plan(["--zfsroot", ROOT]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/zfs:tank\/lxc\/planned already exists; refusing to overwrite it/);
    await must(["zfs", "destroy", `${ROOT}/planned`]);
    await unchanged();
  });

  it("unpacks a rootfs tarball (`source`) into a new dataset, exactly", async () => {
    const { tarball, sha256 } = await seedTarball(lxcPath);
    const out = await cliOk(["create", ...base("image"), ...zfs, "--size", "256M", "--source", tarball, "--sha256", sha256]);
    expect(out).toMatchObject({ method: "unpack", sourceDigest: `sha256:${sha256}`, rootfsPath: `zfs:${ROOT}/image` });
    expect(await digestOf(`${ROOT}/image`)).toBe(seedDigest);
    await cliOk(["destroy", ...base("image")]);
    await fs.rm(tarball);
  });

  it("unpacks an OCI image (`source`) into a new dataset, exactly", async () => {
    const { layout, url } = await seedOciLayout(lxcPath);
    const out = await cliOk(["create", ...base("oci"), ...zfs, "--size", "256M", "--source", url]);
    expect(out).toMatchObject({
      method: "unpack",
      sourceDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      rootfsPath: `zfs:${ROOT}/oci`,
    });
    expect(await digestOf(`${ROOT}/oci`)).toBe(seedDigest);
    await cliOk(["destroy", ...base("oci")]);
    await fs.rm(layout, { recursive: true });
  });

  it("refuses to destroy a rootfs that a clone depends on, and keeps it", async () => {
    const r = await cli(["destroy", ...base("web")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/clone/);
    expect(await datasets()).toEqual(expect.arrayContaining([`${ROOT}/web`, `${ROOT}/web@copy`, `${ROOT}/copy`]));
    expect(await digestOf(`${ROOT}/web`)).toBe(seedDigest);
  });

  it("destroys a clone with its snapshot, then the source", async () => {
    expect(await cliOk(["destroy", ...base("copy")])).toMatchObject({ destroyed: true });
    expect(await datasets()).toEqual([`${ROOT}/web`]);
  });

  it("never touches a snapshot of the clone's name that it did not make: the fill is refused, the snapshot kept", async () => {
    await must(["zfs", "snapshot", `${ROOT}/web@mine`]);
    const r = await cli(["create", ...base("mine"), ...zfs, "--from", `zfs:${ROOT}/web`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/snapshot tank\/lxc\/web@mine in the way \(it was not made by pulumi-lxc\)/);
    expect(await datasets()).toEqual([`${ROOT}/web`, `${ROOT}/web@mine`]);
    await must(["zfs", "destroy", `${ROOT}/web@mine`]);
  });

  it("moves zfs → dir and dir → zfs keeping the data", async () => {
    const toDir = await cliOk(["update", ...base("web"), "--backing-store", "dir"]);
    expect(toDir).toMatchObject({ backingStore: "dir", rootfsPath: `dir:${lxcPath}/web/rootfs` });
    expect(await datasets()).toEqual([]);
    expect(await treeDigest(path.join(lxcPath, "web", "rootfs"))).toBe(seedDigest);
    const toZfs = await cliOk(["update", ...base("web"), ...zfs, "--size", "256M"]);
    expect(toZfs).toMatchObject({ backingStore: "zfs", rootfsPath: `zfs:${ROOT}/web`, sizeBytes: 256 * M });
    expect(await datasets()).toEqual([`${ROOT}/web`]);
    expect(await digestOf(`${ROOT}/web`)).toBe(seedDigest);
    expect(await fs.readdir(path.join(lxcPath, "web", "rootfs"))).toEqual([]);
  });

  it("refuses to move an image cut short under its filesystem, before a dataset is made, and leaves it as it was", async () => {
    await cliOk(["create", ...base("short"), "--backing-store", "loop", "--size", "64M"]);
    const image = path.join(lxcPath, "short", "rootdev");
    await must(["truncate", "-s", "48M", image]);
    const [sum, before] = [await must(["sha256sum", image]), await datasets()];
    const r = await cli(["update", ...base("short"), ...zfs, "--size", "256M"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${image} is 48.0 MiB (50331648 bytes), shorter than the 64.0 MiB (67108864 bytes) filesystem it holds`);
    expect(await datasets()).toEqual(before);
    expect(await must(["sha256sum", image])).toBe(sum);
    await cliOk(["destroy", ...base("short")]);
  });

  it("destroys: zfs list shows nothing left", async () => {
    expect(await cliOk(["destroy", ...base("web")])).toMatchObject({ destroyed: true });
    expect(await datasets()).toEqual([]);
  });

  it("LXC boots busybox from a dataset", async () => {
    await busyboxSeed(lxcPath, "bb");
    await writeBootConfig(path.join(lxcPath, "bb"), lxcPath, "zboot");
    await cliOk(["create", ...base("zboot"), ...zfs, "--size", "128M", "--from", `dir:${lxcPath}/bb/rootfs`]);
    expect(await boot(lxcPath, "zboot")).toBe("booted zboot\nbb data\n");
    await cliOk(["destroy", ...base("zboot")]);
    await must(["lxc-destroy", "-P", lxcPath, "-n", "bb"]);
    expect(await datasets()).toEqual([]);
  });
});
