/**
 * Thin LVM on Debian's kernel: a thin pool in a volume group on /dev/vdc, driven through the real
 * `lxc-rootfs` CLI. Thin volumes take from the pool only what is written, so the pool's own accounting
 * (`lvs` data_percent) is what the assertions read.
 */
import { promises as fs } from "fs";
import path from "path";
import { blkidType, cli, cliOk, must, treeDigest } from "../helpers/env";
import { newFilesystemBytes } from "../../provider/src/model/filesystems";
import { DISKS, holdAt, lvsOf, noContainerDir, volumeGroup, volumeSuite, withDeviceMounted, withMounted } from "./helpers";

const M = 2 ** 20;
const VG = "thin";
const POOL = "pool";
let lxcPath: string;
let seedDigest: string;

const base = (name: string) => ["--lxcpath", lxcPath, "--name", name];
const thin = ["--backing-store", "lvm", "--vgname", VG, "--thinpool", POOL];
const digestOf = (dev: string) => withDeviceMounted(dev, lxcPath, treeDigest);

const suite = volumeSuite(
  "lvm-thin",
  async () => {
    await volumeGroup.create(VG, DISKS.thin);
    await must(["lvcreate", "--yes", "--type", "thin-pool", "-L", "256M", "-n", POOL, VG]);
    // A pool that fails writes at once when full, instead of queueing them for 60 s: what the fault below needs
    // quickly (lvcreate takes --errorwhenfull for thin pools only through lvchange).
    await must(["lvchange", "--errorwhenfull", "y", `${VG}/${POOL}`]);
  },
  () => volumeGroup.remove(VG),
);
beforeAll(() => ({ lxcPath, seedDigest } = suite));

describe("thin LVM", () => {
  it("creates a thin LV in the pool, of the size, holding the fstype", async () => {
    const out = await cliOk([
      "create",
      ...base("web"),
      ...thin,
      "--size",
      "256M",
      "--fstype",
      "ext4",
      "--from",
      `dir:${lxcPath}/seed/rootfs`,
    ]);
    expect(out).toMatchObject({ backingStore: "lvm", rootfsPath: `lvm:/dev/${VG}/web`, sizeBytes: 256 * M, fstype: "ext4" });
    const lv = (await lvsOf(VG)).get("web")!;
    expect(lv).toMatchObject({ size: 256 * M, pool: POOL });
    expect(lv.attr[0]).toBe("V"); // a thin volume
    expect(await blkidType(`/dev/${VG}/web`)).toBe("ext4");
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
    // Only what was written is allocated, and inspect says so.
    expect(out.allocatedBytes).toBeLessThan(out.sizeBytes! / 2);
    expect(out.allocatedBytes).toBe(Math.round((256 * M * lv.dataPercent!) / 100));
  });

  it("grows the thin LV and its filesystem in place", async () => {
    const out = await cliOk(["update", ...base("web"), "--size", "384M"]);
    expect(out.strategy).toBe("grow-in-place");
    expect((await lvsOf(VG)).get("web")).toMatchObject({ size: 384 * M, pool: POOL });
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("creates an LV larger than its pool (over-provisioning) and reports what it really takes", async () => {
    const out = await cliOk(["create", ...base("big"), ...thin, "--size", "2G"]);
    expect(out.sizeBytes).toBe(2048 * M);
    const lvs = await lvsOf(VG);
    expect(lvs.get("big")!.size).toBe(2048 * M);
    expect(lvs.get(POOL)!.size).toBe(256 * M);
    expect(out.allocatedBytes).toBeLessThan(lvs.get(POOL)!.size);
    expect(out.allocatedBytes).toBe(Math.round((2048 * M * lvs.get("big")!.dataPercent!) / 100));
    await cliOk(["destroy", ...base("big")]);
  });

  it("refuses, before anything is made, a copy the pool cannot hold", async () => {
    const src = path.join(lxcPath, "bulk", "rootfs");
    await fs.mkdir(src, { recursive: true });
    await must(["dd", "if=/dev/urandom", `of=${src}/data.bin`, "bs=1M", "count=300", "status=none"]);
    const r = await cli(["create", ...base("full"), ...thin, "--size", "1G", "--from", `dir:${src}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no space on thin pool thin\/pool/);
    expect((await lvsOf(VG)).has("full")).toBe(false);
    await fs.rm(path.join(lxcPath, "bulk"), { recursive: true });
  });

  it("a pool that runs full during a copy: a clear error, the source intact, nothing left", async () => {
    // The checks before the copy count the data and the new filesystem's metadata, so the pool has room
    // then; while the create is held after mkfs, another LV takes all but 50 MiB of it, as another
    // process could, and the 100 MiB copy runs the pool full.
    const src = path.join(lxcPath, "bulk", "rootfs");
    await fs.mkdir(src, { recursive: true });
    await must(["dd", "if=/dev/urandom", `of=${src}/data.bin`, "bs=1M", "count=100", "status=none"]);
    const srcDigest = await treeDigest(src);
    const hold = await holdAt("fill:formatted", lxcPath);
    const creating = cli(["create", ...base("full"), ...thin, "--size", "1G", "--from", `dir:${src}`], hold.env);
    await hold.reached();
    const pool = (await lvsOf(VG)).get(POOL)!;
    const free = Math.floor((pool.size * (100 - pool.dataPercent!)) / 100);
    const hogChunks = Math.floor((free - 50 * M) / (64 * 1024));
    await must(["lvcreate", "--yes", "--thin", "-V", "1G", "-n", "hog", `${VG}/${POOL}`]);
    await must(["dd", "if=/dev/urandom", `of=/dev/${VG}/hog`, "bs=64K", `count=${hogChunks}`, "oflag=direct", "status=none"]);
    await hold.release();
    const r = await creating;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the thin pool thin\/pool of 256 MiB \(268435456 bytes\) ran full while the new volume was filled/);
    expect([...(await lvsOf(VG)).keys()].sort()).toEqual(["hog", POOL, "web"]);
    await expect(fs.lstat(path.join(lxcPath, "full", "config"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await treeDigest(src)).toBe(srcDigest);
    await must(["lvremove", "--yes", `${VG}/hog`]);
    await fs.rm(path.join(lxcPath, "bulk"), { recursive: true });
    // The rootfs already in the pool kept its data.
    expect(await digestOf(`/dev/${VG}/web`)).toBe(seedDigest);
  });

  it("create-plan counts a new filesystem's metadata: 16 GiB of ext4 does not fit the 256 MiB pool, and nothing changes", async () => {
    const before = await lvsOf(VG);
    const r = await cli(["create-plan", ...base("planned"), ...thin, "--size", "16G", "--fstype", "ext4"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on thin pool thin\/pool: needs 424 MiB .* available\. Nothing was changed\./);
    expect(await lvsOf(VG)).toEqual(before);
    expect(await noContainerDir(lxcPath, "planned")).toBe(true);
  });

  it("a 1 GiB ext4 plans clean, and once made and mounted takes more than half of its estimate and no more than it", async () => {
    const plan = await cliOk(["create-plan", ...base("planned"), ...thin, "--size", "1G", "--fstype", "ext4"]);
    expect(plan).toMatchObject({ strategy: "empty" });
    expect(await noContainerDir(lxcPath, "planned")).toBe(true);
    const estimate = newFilesystemBytes("ext4", 1024 * M);
    await cliOk(["create", ...base("planned"), ...thin, "--size", "1G", "--fstype", "ext4"]);
    // The kernel zeroes the inode tables after the first mount (ext4lazyinit), and the pool allocates them.
    await withMounted(["-o", "init_itable=0", `/dev/${VG}/planned`], lxcPath, async () => {
      for (let i = 0; i < 600 && /ext4lazyinit/.test(await must(["ps", "-e", "-o", "comm="])); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    const taken = ((await lvsOf(VG)).get("planned")!.dataPercent! / 100) * 1024 * M;
    expect(taken).toBeGreaterThan(estimate / 2);
    expect(taken).toBeLessThanOrEqual(estimate);
    await cliOk(["destroy", ...base("planned")]);
  });

  it("destroys: only the pool is left", async () => {
    await cliOk(["destroy", ...base("web")]);
    expect([...(await lvsOf(VG)).keys()]).toEqual([POOL]);
  });
});
