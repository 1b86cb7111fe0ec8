/**
 * The fast check of LVM and ZFS, which needs no guest (this machine's kernel has no device-mapper and no
 * ZFS; test/guest drives both on Debian's kernel): the exact commands each lifecycle step issues, in order,
 * and for LVM that the real LVM tools parse every one of them (they then stop at the missing volume group
 * or device-mapper, after parsing).
 */
import { promises as fs } from "fs";
import { CutShort, ToolFailed } from "../../provider/src/model/errors";
import { run as realRun, Runner } from "../../provider/src/host/run";
import { createRootfs, destroyRootfs, inspectRootfs, updateRootfs } from "../../provider/src/api";
import { sh, tempDir } from "../helpers/env";

const VG = "lxcrootfs-test";
/** The container a spec names, as inspect, update and destroy take it. */
const ref = (spec: { container: string; lxcPath: string }) => ({ container: spec.container, lxcPath: spec.lxcPath });
const VG_DIR = `/dev/${VG}`;

/**
 * Records every command and plays a host with one volume group and a ZFS pool `tank/lxc`. Logical volumes
 * are sparse files at /dev/<vg>/<lv>, so mkfs, e2fsck, resize2fs and the superblock reader run for real
 * on them; only the LVM and ZFS commands themselves are simulated.
 */
function fakeHost() {
  const calls: string[][] = [];
  const datasets = new Map<string, number>();
  const fail = (argv: readonly string[], msg: string) => Promise.reject(new ToolFailed(argv, 5, msg));
  const ok = (stdout = "") => Promise.resolve({ code: 0, stdout, stderr: "" });
  const lvFile = (vgLv: string) => `/dev/${vgLv}`;
  const sizeOf = (b: string) => Number(b.replace(/b$/, ""));
  const run: Runner = async (argv, opts) => {
    calls.push([...argv]);
    const [cmd, ...args] = argv;
    const last = args[args.length - 1];
    switch (cmd) {
      case "vgs":
        if (last !== VG) return fail(argv, `Volume group "${last}" not found`);
        return args.includes("vg_free") ? ok(`  ${2 ** 40}\n`) : ok(`  ${VG}\n`);
      case "lvs": {
        if (last === `${VG}/pool`) return args.includes("lv_size,data_percent") ? ok(`  ${2 ** 40},1.00\n`) : ok("  twi-a-tz--\n");
        const st = await fs.stat(lvFile(last)).catch(() => null);
        if (!st) return fail(argv, `Failed to find logical volume "${last}"`);
        return args.includes("lv_size,data_percent") ? ok(`  ${st.size},\n`) : ok(`  ${last}\n`);
      }
      case "lvcreate": {
        const name = args[args.indexOf("-n") + 1];
        const size = sizeOf(args.includes("-L") ? args[args.indexOf("-L") + 1] : args[args.indexOf("-V") + 1]);
        await fs.mkdir(VG_DIR, { recursive: true });
        await fs.writeFile(`${VG_DIR}/${name}`, "");
        await fs.truncate(`${VG_DIR}/${name}`, size);
        return ok();
      }
      case "lvrename":
        await fs.rename(`/dev/${args[0]}/${args[1]}`, `/dev/${args[0]}/${args[2]}`);
        return ok();
      case "lvresize": {
        const size = sizeOf(args[args.indexOf("-L") + 1]);
        // As the real lvresize: exit 5 for the size the LV has.
        if ((await fs.stat(lvFile(last))).size === size) return fail(argv, `New size (${size / 2 ** 22} extents) matches existing size`);
        await fs.truncate(lvFile(last), size);
        return ok();
      }
      case "lvremove":
        await fs.unlink(lvFile(last));
        return ok();
      case "zfs":
        return zfs(argv, args);
      default:
        return realRun(argv, opts);
    }
  };
  function zfs(argv: readonly string[], args: string[]) {
    const [verb] = args;
    const ds = args[args.length - 1];
    if (verb === "list")
      return ds === "tank/lxc" || datasets.has(ds) ? ok(`${ds}\n`) : fail(argv, `cannot open '${ds}': dataset does not exist`);
    if (verb === "create") {
      const quota = args.find((a) => a.startsWith("refquota="));
      datasets.set(ds, quota ? Number(quota.split("=")[1]) : 0);
      return ok();
    }
    if (verb === "get" && args.includes("origin")) return ok("-\n");
    if (verb === "get" && args.includes("available")) return ok(`${2 ** 40}\n`);
    if (verb === "get") return ok(`refquota\t${datasets.get(ds)}\nused\t24576\nreferenced\t24576\n`);
    if (verb === "set" && args[1].startsWith("refquota=")) datasets.set(ds, Number(args[1].split("=")[1]));
    if (verb === "rename") {
      datasets.set(args[2], datasets.get(args[1])!);
      datasets.delete(args[1]);
    }
    if (verb === "destroy") datasets.delete(ds);
    return ok();
  }
  return { run, calls, datasets };
}

let lxcPath: string;
beforeAll(async () => {
  await fs.rm(VG_DIR, { recursive: true, force: true });
  lxcPath = await tempDir("commands");
});
afterAll(async () => {
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(VG_DIR, { recursive: true, force: true });
});

describe("lvm", () => {
  it("create, grow, destroy: thick volume, exact commands", async () => {
    const host = fakeHost();
    const spec = { container: "web", lxcPath, backingStore: "lvm", vgName: VG, size: "2G", fstype: "xfs" };
    const out = await createRootfs(spec, { run: host.run });
    expect(out).toMatchObject({ backingStore: "lvm", rootfsPath: `lvm:/dev/${VG}/web`, sizeBytes: 2 ** 31, fstype: "xfs" });
    expect(host.calls).toEqual([
      ["vgs", "--noheadings", "-o", "vg_name", VG],
      ["lvs", "--noheadings", "-o", "lv_name", `${VG}/web`],
      ["vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", VG],
      ["lvcreate", "--yes", "--wipesignatures", "y", "-n", "web_lxcrootfs_new", "-L", "2147483648b", VG],
      ["mkfs.xfs", "-f", "-q", `/dev/${VG}/web_lxcrootfs_new`],
      ["lvrename", VG, "web_lxcrootfs_new", "web"],
      ["lvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", ",", "-o", "lv_size,data_percent", `${VG}/web`],
    ]);
    expect(await fs.readFile(`${lxcPath}/web/config`, "utf8")).toContain(`lxc.rootfs.path = lvm:/dev/${VG}/web\n`);

    host.calls.length = 0;
    // xfs grows mounted; the stand-in LV is a file, which mount(2) refuses: the LV goes back to its size.
    await expect(updateRootfs(ref(spec), { size: "3G" }, { run: host.run })).rejects.toThrow(/ENOTBLK/);
    expect(host.calls.filter((c) => c[0] === "lvresize")).toEqual([
      ["lvresize", "--yes", "--force", "-L", "3221225472b", `${VG}/web`],
      ["lvresize", "--yes", "--force", "-L", "2147483648b", `${VG}/web`],
    ]);
    expect((await fs.stat(`${VG_DIR}/web`)).size).toBe(2 ** 31);

    host.calls.length = 0;
    expect(await destroyRootfs(ref(spec), { run: host.run })).toEqual({ destroyed: true });
    expect(host.calls).toContainEqual(["lvremove", "--yes", "--force", `${VG}/web`]);
    expect(await fs.readdir(VG_DIR)).toEqual([]);
  });

  it("ext4 grows offline: lvresize, e2fsck, resize2fs on the LV", async () => {
    const host = fakeHost();
    const spec = { container: "db", lxcPath, backingStore: "lvm", vgName: VG, size: "1G" };
    await createRootfs(spec, { run: host.run });
    host.calls.length = 0;
    const out = await updateRootfs(ref(spec), { size: "4G" }, { run: host.run });
    expect(out.strategy).toBe("grow-in-place");
    expect(host.calls.filter((c) => !c[0].startsWith("lvs") && !["vgs", "du", "lxc-info"].includes(c[0]))).toEqual([
      ["lvresize", "--yes", "--force", "-L", "4294967296b", `${VG}/db`],
      ["e2fsck", "-f", "-y", `/dev/${VG}/db`],
      ["resize2fs", `/dev/${VG}/db`],
    ]);
    expect(out.sizeBytes).toBe(4 * 2 ** 30);
    expect((await realRun(["dumpe2fs", "-h", `/dev/${VG}/db`])).stdout).toMatch(/Block count:\s+1048576\n/);
    await destroyRootfs(ref(spec), { run: host.run });
  });

  it("block-copies the filesystem of an image lxc-create made into LVs made at their final size, growing only the filesystem", async () => {
    const host = fakeHost();
    const M = 2 ** 20;
    const spec = { container: "odd", lxcPath, backingStore: "loop", size: "64M" };
    await createRootfs(spec, { run: host.run });
    await fs.truncate(`${lxcPath}/odd/rootdev`, 64 * M + 1); // lxc-create's: one byte over the filesystem
    const resizes = () => host.calls.filter((c) => ["lvcreate", "lvresize", "e2fsck", "resize2fs"].includes(c[0]));
    host.calls.length = 0;
    // The filesystem fits the LV of its size: the byte past it is not copied.
    expect(await updateRootfs(ref(spec), { backingStore: "lvm", vgName: VG }, { run: host.run })).toMatchObject({
      strategy: "block-copy",
      sizeBytes: 64 * M,
    });
    expect(resizes()).toEqual([["lvcreate", "--yes", "--wipesignatures", "y", "-n", "odd_lxcrootfs_new", "-L", `${64 * M}b`, VG]]);
    expect((await fs.stat(`${VG_DIR}/odd`)).size).toBe(64 * M);
    host.calls.length = 0;
    // Into a larger LV: made at 128M, then only the filesystem grown (a second lvresize to 128M fails).
    expect(await updateRootfs(ref(spec), { lvName: "odd2", size: "128M" }, { run: host.run })).toMatchObject({
      strategy: "block-copy",
      sizeBytes: 128 * M,
    });
    expect(resizes()).toEqual([
      ["lvcreate", "--yes", "--wipesignatures", "y", "-n", "odd2_lxcrootfs_new", "-L", `${128 * M}b`, VG],
      ["e2fsck", "-f", "-y", `/dev/${VG}/odd2_lxcrootfs_new`],
      ["resize2fs", `/dev/${VG}/odd2_lxcrootfs_new`],
    ]);
    const sb = (await realRun(["dumpe2fs", "-h", `/dev/${VG}/odd2`])).stdout;
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(sb)![1]);
    expect(field("Block count") * field("Block size")).toBe(128 * M);
    await destroyRootfs(ref(spec), { run: host.run });
  });

  it("refuses an image cut short under its filesystem before an LV is made", async () => {
    const host = fakeHost();
    const spec = { container: "short", lxcPath, backingStore: "loop", size: "64M" };
    await createRootfs(spec, { run: host.run });
    await fs.truncate(`${lxcPath}/short/rootdev`, 48 * 2 ** 20);
    host.calls.length = 0;
    const refused = updateRootfs(ref(spec), { backingStore: "lvm", vgName: VG }, { run: host.run });
    await expect(refused).rejects.toThrow(CutShort);
    await expect(refused).rejects.toThrow(`${lxcPath}/short/rootdev is 48.0 MiB (50331648 bytes), shorter than the 64.0 MiB`);
    expect(host.calls.filter((c) => c[0] === "lvcreate")).toEqual([]);
    expect((await fs.stat(`${lxcPath}/short/rootdev`)).size).toBe(48 * 2 ** 20);
    await destroyRootfs(ref(spec), { run: host.run });
  });

  it("thin volumes go into the named pool, with a custom volume group check", async () => {
    const host = fakeHost();
    await createRootfs(
      { container: "thin", lxcPath, backingStore: "lvm", vgName: VG, thinPool: "pool", lvName: "thin0" },
      { run: host.run },
    );
    expect(host.calls).toContainEqual(["lvs", "--noheadings", "-o", "lv_attr", `${VG}/pool`]);
    expect(host.calls).toContainEqual([
      "lvcreate",
      "--yes",
      "--wipesignatures",
      "y",
      "--thin",
      "-n",
      "thin0_lxcrootfs_new",
      "-V",
      "1073741824b",
      `${VG}/pool`,
    ]);
    const bad = await createRootfs({ container: "x", lxcPath, backingStore: "lvm", vgName: "nosuch" }, { run: host.run }).catch((e) => e);
    expect(bad.message).toMatch(/^vgName: invalid value "nosuch": an existing LVM volume group/);
    await destroyRootfs({ container: "thin", lxcPath }, { run: host.run });
  });

  it("the real LVM tools parse every command issued", async () => {
    const host = fakeHost();
    const spec = { container: "p", lxcPath, backingStore: "lvm", vgName: VG, size: "1G" };
    await createRootfs(spec, { run: host.run });
    await updateRootfs(ref(spec), { size: "2G" }, { run: host.run });
    await createRootfs({ container: "t", lxcPath, backingStore: "lvm", vgName: VG, thinPool: "pool" }, { run: host.run });
    await destroyRootfs(ref(spec), { run: host.run });
    const lvmCalls = host.calls.filter((c) => /^(lv|vg)/.test(c[0]));
    expect(new Set(lvmCalls.map((c) => c[0]))).toEqual(new Set(["vgs", "lvs", "lvcreate", "lvrename", "lvresize", "lvremove"]));
    for (const argv of lvmCalls) {
      const r = await sh(argv, { env: { LVM_SUPPRESS_FD_WARNINGS: "1" } });
      expect({ argv, stderr: r.stderr }).not.toEqual(
        expect.objectContaining({
          stderr: expect.stringMatching(/unrecognized option|Invalid argument|Error during parsing|Too many arguments|Please specify/),
        }),
      );
      expect(r.stderr).toMatch(new RegExp(`Volume group "${VG}" not found|device-mapper|Failed to find`));
    }
    await destroyRootfs({ container: "t", lxcPath }, { run: host.run });
  });
});

describe("zfs", () => {
  it("create, set the quota, move to loop keeps the dataset until the swap, destroy", async () => {
    const host = fakeHost();
    const spec = { container: "z", lxcPath, backingStore: "zfs", zfsRoot: "tank/lxc", size: "5G" };
    const out = await createRootfs(spec, { run: host.run });
    expect(out).toMatchObject({ backingStore: "zfs", rootfsPath: "zfs:tank/lxc/z", sizeBytes: 5 * 2 ** 30 });
    expect(host.calls).toEqual([
      ["zfs", "list", "-H", "-o", "name", "tank/lxc"],
      ["zfs", "list", "-H", "-o", "name", "tank/lxc/z"],
      [
        "zfs",
        "create",
        "-o",
        `mountpoint=${lxcPath}/z/rootfs`,
        "-o",
        "canmount=noauto",
        "-o",
        "acltype=posixacl",
        "-o",
        "xattr=sa",
        "-o",
        "refquota=5368709120",
        "tank/lxc/z-lxcrootfs-new",
      ],
      ["zfs", "rename", "tank/lxc/z-lxcrootfs-new", "tank/lxc/z"],
      ["zfs", "set", `mountpoint=${lxcPath}/z/rootfs`, "tank/lxc/z"],
      ["zfs", "get", "-Hp", "-o", "property,value", "refquota,used,referenced", "tank/lxc/z"],
    ]);
    host.calls.length = 0;
    const grown = await updateRootfs(ref(spec), { size: "8G" }, { run: host.run });
    expect(grown.strategy).toBe("set-limit");
    expect(host.calls).toContainEqual(["zfs", "set", "refquota=8589934592", "tank/lxc/z"]);
    host.calls.length = 0;
    expect(await inspectRootfs({ container: "z", lxcPath }, { run: host.run })).toMatchObject({ sizeBytes: 8 * 2 ** 30 });
    await destroyRootfs(ref(spec), { run: host.run });
    expect(host.calls).toContainEqual(["zfs", "get", "-H", "-o", "value", "origin", "tank/lxc/z"]);
    expect(host.calls).toContainEqual(["zfs", "destroy", "-r", "tank/lxc/z"]);
    expect(host.datasets.has("tank/lxc/z")).toBe(false);
  });
});
