/**
 * Thick LVM on Debian's kernel, with udevd running as on a host: a volume group on /dev/vdb, driven
 * through the real `lxc-rootfs` CLI. What is asserted is what `lvs`, `blkid`, dumpe2fs and the mounted
 * data say, and what LXC boots.
 */
import { promises as fs } from "fs";
import path from "path";
import { blkidType, cli, cliOk, must, treeDigest, withImageMounted } from "../helpers/env";
import { boot, writeBootConfig } from "../helpers/lxc";
import {
  busyboxSeed,
  DISKS,
  expectShiftedBack,
  expectShiftedInPlace,
  expectShiftKeptThroughMoves,
  lvmStore,
  lvsOf,
  noContainerDir,
  seedOciLayout,
  seedTarball,
  volumeGroup,
  volumeSuite,
  withDeviceMounted,
} from "./helpers";

const M = 2 ** 20;
const VG = "thick";
const THICK = lvmStore(VG);
let lxcPath: string;
let seedDigest: string;

const base = (name: string) => ["--lxcpath", lxcPath, "--name", name];
const lvm = (lv?: string) => ["--backing-store", "lvm", "--vgname", VG, ...(lv ? ["--lvname", lv] : [])];
const digestOf = (dev: string) => withDeviceMounted(dev, lxcPath, treeDigest);

/** The filesystem's own size, from its superblock: block count × block size. */
async function ext4Bytes(dev: string): Promise<number> {
  const out = await must(["dumpe2fs", "-h", dev]);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(out)![1]);
  return field("Block count") * field("Block size");
}

const suite = volumeSuite(
  "lvm-thick",
  () => volumeGroup.create(VG, DISKS.thick),
  () => volumeGroup.remove(VG),
);
beforeAll(() => ({ lxcPath, seedDigest } = suite));

describe("thick LVM", () => {
  it("creates an LV of exactly the size holding the fstype, filled from a dir rootfs", async () => {
    const out = await cliOk([
      "create",
      ...base("web"),
      ...lvm(),
      "--size",
      "256M",
      "--fstype",
      "ext4",
      "--from",
      `dir:${lxcPath}/seed/rootfs`,
    ]);
    expect(out).toMatchObject({ backingStore: "lvm", rootfsPath: `lvm:/dev/${VG}/web`, sizeBytes: 256 * M, fstype: "ext4" });
    expect((await lvsOf(VG)).get("web")).toMatchObject({ size: 256 * M });
    expect(await blkidType(`/dev/${VG}/web`)).toBe("ext4");
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
    const config = await fs.readFile(path.join(lxcPath, "web", "config"), "utf8");
    expect(config).toContain(`lxc.rootfs.path = lvm:/dev/${VG}/web`);
  });

  it("refuses, before anything is made, an LV larger than the volume group's free space", async () => {
    const r = await cli(["create", ...base("huge"), ...lvm(), "--size", "8G"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on volume group thick: needs 8\.0 GiB .* available\. Nothing was changed\./);
    expect([...(await lvsOf(VG)).keys()]).toEqual(["web"]);
    await expect(fs.lstat(path.join(lxcPath, "huge"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("create-plan: the create's own checks, read-only, with its plan line", async () => {
    const before = await lvsOf(VG);
    const plan = (args: string[]) => cli(["create-plan", ...base("planned"), ...args]);
    const unchanged = async () => {
      expect(await lvsOf(VG)).toEqual(before);
      expect(await noContainerDir(lxcPath, "planned")).toBe(true);
    };
    const tooBig = await plan([...lvm(), "--size", "8G"]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toMatch(/no space on volume group thick: needs 8\.0 GiB .* available\. Nothing was changed\./);
    await unchanged();
    const noVg = await plan(["--backing-store", "lvm", "--vgname", "nosuch", "--size", "64M"]);
    expect(noVg.code).toBe(2);
    expect(noVg.stderr).toMatch(/--vgname: invalid value "nosuch": an existing LVM volume group/);
    await unchanged();
    const fits = await plan([...lvm(), "--size", "256M", "--fstype", "ext4", "--from", `dir:${lxcPath}/seed/rootfs`]);
    expect(fits.code).toBe(0);
    expect(fits.json).toMatchObject({ strategy: "file-copy" });
    expect((fits.json as { summary: string }).summary).toMatch(
      /^create lvm ext4 256 MiB at lvm:\/dev\/thick\/planned, a copy of \d+ MiB file by file from `from` \(dir\)$/,
    );
    await unchanged();
    // An LV of that name that no config names is someone's: the plan refuses it as the create would.
    await must(["lvcreate", "--yes", "-L", "8M", "-n", "planned", VG]);
    const taken = await plan([...lvm(), "--size", "64M"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/lvm:\/dev\/thick\/planned already exists; refusing to overwrite it/);
    await must(["lvremove", "--yes", `${VG}/planned`]);
    await unchanged();
  });

  it("unpacks a rootfs tarball (`source`) into a new LV, exactly", async () => {
    const { tarball, sha256 } = await seedTarball(lxcPath);
    const out = await cliOk(["create", ...base("image"), ...lvm(), "--size", "128M", "--source", tarball, "--sha256", sha256]);
    expect(out).toMatchObject({ method: "unpack", sourceDigest: `sha256:${sha256}`, rootfsPath: `lvm:/dev/${VG}/image` });
    expect(await digestOf(`/dev/${VG}/image`)).toBe(seedDigest);
    await cliOk(["destroy", ...base("image")]);
    await fs.rm(tarball);
  });

  it("unpacks an OCI image (`source`) into a new LV, exactly", async () => {
    const { layout, url } = await seedOciLayout(lxcPath);
    const out = await cliOk(["create", ...base("oci"), ...lvm(), "--size", "128M", "--source", url]);
    expect(out).toMatchObject({
      method: "unpack",
      sourceDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      rootfsPath: `lvm:/dev/${VG}/oci`,
    });
    expect(await digestOf(`/dev/${VG}/oci`)).toBe(seedDigest);
    await cliOk(["destroy", ...base("oci")]);
    await fs.rm(layout, { recursive: true });
  });

  it("an unprivileged rootfs: shifted by 100000 on an LV, its owners kept through a move to dir and back", () =>
    expectShiftKeptThroughMoves(lxcPath, THICK));

  it("a change of idmap shifts busybox's owners on an LV in place, to 100000 and back, the preview counting the files", async () =>
    expectShiftedBack(await expectShiftedInPlace(lxcPath, THICK, "inplace")));

  it("reports the LV as lvs does", async () => {
    const out = await cliOk(["inspect", ...base("web")]);
    expect(out).toMatchObject({ backingStore: "lvm", sizeBytes: 256 * M, fstype: "ext4", allocatedBytes: 256 * M });
  });

  it("grows in place: the LV and the filesystem, the data kept", async () => {
    const out = await cliOk(["update", ...base("web"), "--size", "512M"]);
    expect(out.strategy).toBe("grow-in-place");
    expect((await lvsOf(VG)).get("web")!.size).toBe(512 * M);
    expect(await ext4Bytes(`/dev/${VG}/web`)).toBe(512 * M);
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("shrinks ext4 when the data fits: the filesystem first, then the LV", async () => {
    const out = await cliOk(["update", ...base("web"), "--size", "300M"]);
    expect(out.sizeBytes).toBe(300 * M);
    expect((await lvsOf(VG)).get("web")!.size).toBe(300 * M);
    expect(await ext4Bytes(`/dev/${VG}/web`)).toBeLessThanOrEqual(300 * M);
    await must(["e2fsck", "-fn", `/dev/${VG}/web`]);
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("refuses a shrink below the data, and changes nothing", async () => {
    const r = await cli(["update", ...base("web"), "--size", "8M"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on the shrunk ext4 filesystem: needs .* available\. Nothing was changed\./);
    expect((await lvsOf(VG)).get("web")!.size).toBe(300 * M);
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("moves lvm → loop keeping the data, and removes the LV", async () => {
    const out = await cliOk(["update", ...base("web"), "--backing-store", "loop"]);
    expect(out).toMatchObject({ backingStore: "loop", rootfsPath: `loop:${lxcPath}/web/rootdev` });
    expect((await lvsOf(VG)).has("web")).toBe(false);
    expect(await withImageMounted(`${lxcPath}/web/rootdev`, lxcPath, treeDigest)).toBe(seedDigest);
  });

  it("moves loop → lvm keeping the data, and removes the image", async () => {
    const out = await cliOk(["update", ...base("web"), ...lvm(), "--size", "256M"]);
    expect(out).toMatchObject({ backingStore: "lvm", rootfsPath: `lvm:/dev/${VG}/web`, sizeBytes: 256 * M });
    await expect(fs.lstat(`${lxcPath}/web/rootdev`)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("fills a new LV from another LV", async () => {
    const out = await cliOk(["create", ...base("copy"), ...lvm(), "--from", `lvm:/dev/${VG}/web`]);
    expect(out.rootfsPath).toBe(`lvm:/dev/${VG}/copy`);
    expect(await digestOf(`/dev/${VG}/copy`)).toBe(seedDigest);
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("renames the LV when lvName changes, keeping the data", async () => {
    const out = await cliOk(["update", ...base("copy"), ...lvm("copy2")]);
    expect(out.rootfsPath).toBe(`lvm:/dev/${VG}/copy2`);
    const lvs = await lvsOf(VG);
    expect(lvs.has("copy")).toBe(false);
    expect(lvs.has("copy2")).toBe(true);
    expect(await fs.readFile(path.join(lxcPath, "copy", "config"), "utf8")).toContain(`lxc.rootfs.path = lvm:/dev/${VG}/copy2`);
    expect(await digestOf(`/dev/${VG}/copy2`)).toBe(seedDigest);
  });

  it("moves an image lxc-create made (64 MiB + 1 byte) into an LV of 64M: the filesystem is copied, not the file", async () => {
    await cliOk(["create", ...base("odd"), "--backing-store", "loop", "--size", "64M", "--from", `dir:${lxcPath}/seed/rootfs`]);
    const image = `${lxcPath}/odd/rootdev`;
    await must(["truncate", "-s", String(64 * M + 1), image]);
    const out = await cliOk(["update", ...base("odd"), ...lvm(), "--size", "64M"]);
    expect(out).toMatchObject({ strategy: "block-copy", rootfsPath: `lvm:/dev/${VG}/odd`, sizeBytes: 64 * M });
    expect((await lvsOf(VG)).get("odd")!.size).toBe(64 * M);
    expect(await blkidType(`/dev/${VG}/odd`)).toBe("ext4");
    expect(await ext4Bytes(`/dev/${VG}/odd`)).toBe(64 * M);
    expect(await digestOf(`/dev/${VG}/odd`)).toBe(seedDigest);
    await expect(fs.lstat(image)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("block-copies into a larger LV made at its final size, then grows only the filesystem", async () => {
    const out = await cliOk(["update", ...base("odd"), ...lvm("odd2"), "--size", "128M"]);
    expect(out).toMatchObject({ strategy: "block-copy", rootfsPath: `lvm:/dev/${VG}/odd2`, sizeBytes: 128 * M });
    const lvs = await lvsOf(VG);
    expect(lvs.has("odd")).toBe(false);
    expect(lvs.get("odd2")!.size).toBe(128 * M);
    expect(await ext4Bytes(`/dev/${VG}/odd2`)).toBe(128 * M);
    await must(["e2fsck", "-fn", `/dev/${VG}/odd2`]);
    expect(await digestOf(`/dev/${VG}/odd2`)).toBe(seedDigest);
    await cliOk(["destroy", ...base("odd")]);
  });

  it("refuses an image cut short under its filesystem, before an LV is made, and leaves it as it was", async () => {
    await cliOk(["create", ...base("short"), "--backing-store", "loop", "--size", "64M"]);
    const image = `${lxcPath}/short/rootdev`;
    await must(["truncate", "-s", "48M", image]);
    const [sum, config] = [await must(["sha256sum", image]), await fs.readFile(path.join(lxcPath, "short", "config"), "utf8")];
    // At the image's size: the LV is not grown after, so nothing but the check stands in the copy's way.
    const r = await cli(["update", ...base("short"), ...lvm()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${image} is 48.0 MiB (50331648 bytes), shorter than the 64.0 MiB (67108864 bytes) filesystem it holds`);
    expect((await lvsOf(VG)).has("short")).toBe(false);
    expect(await must(["sha256sum", image])).toBe(sum);
    expect(await fs.readFile(path.join(lxcPath, "short", "config"), "utf8")).toBe(config);
    await cliOk(["destroy", ...base("short")]);
  });

  it("destroys: lvs shows nothing left", async () => {
    for (const name of ["web", "copy"]) expect(await cliOk(["destroy", ...base(name)])).toMatchObject({ destroyed: true });
    expect([...(await lvsOf(VG)).keys()]).toEqual([]);
    await expect(fs.lstat(`/dev/${VG}/web`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("LXC boots busybox from an LV", async () => {
    await busyboxSeed(lxcPath, "bb");
    await writeBootConfig(path.join(lxcPath, "bb"), lxcPath, "lvboot");
    await cliOk(["create", ...base("lvboot"), ...lvm(), "--size", "128M", "--from", `dir:${lxcPath}/bb/rootfs`]);
    expect(await boot(lxcPath, "lvboot")).toBe("booted lvboot\nbb data\n");
    await cliOk(["destroy", ...base("lvboot")]);
    await must(["lxc-destroy", "-P", lxcPath, "-n", "bb"]);
    expect((await lvsOf(VG)).has("lvboot")).toBe(false);
  });
});
