/**
 * Issue 4's faults on LVM and ZFS, on Debian's kernel: SIGKILL at each step of an lvm → loop and a
 * zfs → dir move (the old data intact, the config never on a half-made store, a re-run converges), and
 * LVM and ZFS tools that fail (a clear error, nothing changed).
 */
import { spawn } from "child_process";
import { promises as fs } from "fs";
import path from "path";
import { CLI, cli, cliOk, must, sh, tempDir, treeDigest, withImageMounted } from "../helpers/env";
import { datasetsUnder, DISKS, lvsOf, volumeGroup, volumeSuite, withDeviceMounted, zfsDigest, zfsPool } from "./helpers";

const VG = "faults";
const POOL = "ftank";
const ROOT = `${POOL}/lxc`;
let lxcPath: string;
let seedDigest: string;
let bin: string;

const base = (name: string) => ["--lxcpath", lxcPath, "--name", name];
const lvm = ["--backing-store", "lvm", "--vgname", VG, "--size", "128M"];
const zfs = ["--backing-store", "zfs", "--zfsroot", ROOT];

/** Runs the CLI until the failpoint kills it. */
async function killedAt(point: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LXC_ROOTFS_FAILPOINT: point }, stdio: "ignore" });
  const signal = await new Promise((resolve) => child.on("close", (_code, sig) => resolve(sig)));
  expect(signal).toBe("SIGKILL");
}

const datasets = () => datasetsUnder(ROOT);

/** The data of a store: an LV or image mounted, a dataset mounted, a directory read. */
async function digestAt(store: string, where: string): Promise<string> {
  if (store === "loop") return withImageMounted(where, lxcPath, treeDigest);
  if (store === "lvm") return withDeviceMounted(where, lxcPath, treeDigest);
  if (store === "zfs") return zfsDigest(where, lxcPath);
  return treeDigest(where);
}

async function storeExists(store: string, where: string): Promise<boolean> {
  if (store === "zfs") return (await sh(["zfs", "list", "-H", "-o", "name", where])).code === 0;
  return fs.lstat(where).then(
    () => true,
    () => false,
  );
}

/** The data of whatever the container's config points at (what LXC would boot); null when it is not there. */
async function configuredDigest(name: string): Promise<{ store: string; digest: string | null }> {
  const config = await fs.readFile(path.join(lxcPath, name, "config"), "utf8");
  const [, store, where] = /^lxc\.rootfs\.path = (\w+):(.*)$/m.exec(config)!;
  return { store, digest: (await storeExists(store, where)) ? await digestAt(store, where) : null };
}

/**
 * Killed between parking the old store and committing the new one, the config still names the old store,
 * which is under its parked name until the next run puts it back: the data must be whole there.
 */
async function expectOldDataWhole(name: string, from: "lvm" | "zfs"): Promise<void> {
  const configured = await configuredDigest(name);
  if (configured.digest !== null) {
    expect(configured.digest).toBe(seedDigest);
    return;
  }
  expect(configured.store).toBe(from);
  const parked = from === "lvm" ? `/dev/${VG}/${name}_lxcrootfs_old` : `${ROOT}/${name}-lxcrootfs-old`;
  expect(await digestAt(from, parked)).toBe(seedDigest);
}

const suite = volumeSuite(
  "guest-faults",
  async () => {
    await volumeGroup.create(VG, DISKS.faultsLvm);
    await zfsPool.create(POOL, DISKS.faultsZfs, ROOT);
  },
  async () => {
    await volumeGroup.remove(VG);
    await zfsPool.destroy(POOL);
  },
);
beforeAll(async () => {
  ({ lxcPath, seedDigest } = suite);
  bin = await tempDir("guest-faults-bin");
});
afterAll(() => fs.rm(bin, { recursive: true, force: true }));

const POINTS = ["swap:built", "swap:parked", "swap:moved", "swap:committed"];

describe("SIGKILL during lvm → loop", () => {
  it.each(POINTS)("at %s: the data whole wherever the config points, a re-run converges, no LV left", async (point) => {
    const name = `lv-${point.replace(":", "-")}`;
    await cliOk(["create", ...base(name), ...lvm, "--from", `dir:${lxcPath}/seed/rootfs`]);
    await killedAt(point, ["update", ...base(name), "--backing-store", "loop"]);
    await expectOldDataWhole(name, "lvm");
    const rerun = await cliOk(["update", ...base(name), "--backing-store", "loop"]);
    expect(rerun.backingStore).toBe("loop");
    expect(await configuredDigest(name)).toEqual({ store: "loop", digest: seedDigest });
    expect([...(await lvsOf(VG)).keys()].filter((lv) => lv.startsWith(name))).toEqual([]);
    await cliOk(["destroy", ...base(name)]);
  });
});

describe("SIGKILL during zfs → dir", () => {
  it.each(POINTS)("at %s: the data whole wherever the config points, a re-run converges, no dataset left", async (point) => {
    const name = `z-${point.replace(":", "-")}`;
    await cliOk(["create", ...base(name), ...zfs, "--from", `dir:${lxcPath}/seed/rootfs`]);
    await killedAt(point, ["update", ...base(name), "--backing-store", "dir"]);
    await expectOldDataWhole(name, "zfs");
    const rerun = await cliOk(["update", ...base(name), "--backing-store", "dir"]);
    expect(rerun.backingStore).toBe("dir");
    expect(await configuredDigest(name)).toEqual({ store: "dir", digest: seedDigest });
    expect((await datasets()).filter((d) => d.includes(`/${name}`))).toEqual([]);
    await cliOk(["destroy", ...base(name)]);
  });
});

describe("LVM and ZFS tools that fail change nothing", () => {
  /** A stand-in for `tool` that fails its `verb` (or every call) and runs the real one otherwise. */
  async function failing(tool: string, verb: string | null): Promise<NodeJS.ProcessEnv> {
    const dir = path.join(bin, `${tool}-${verb ?? "all"}`);
    await fs.mkdir(dir, { recursive: true });
    const real = (await must(["sh", "-c", `command -v ${tool}`])).trim();
    const test = verb ? `[ "$1" = ${verb} ]` : "true";
    await fs.writeFile(
      path.join(dir, tool),
      `#!/bin/sh\nif ${test}; then echo "${tool}: injected failure" >&2; exit 5; fi\nexec ${real} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    return { PATH: `${dir}:${process.env.PATH}` };
  }

  it("lvcreate failing at create: the error names it, no LV, no container", async () => {
    const r = await cli(["create", ...base("nolv"), ...lvm], await failing("lvcreate", null));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lvcreate .* failed \(exit 5\): lvcreate: injected failure/);
    expect([...(await lvsOf(VG)).keys()]).toEqual([]);
    await expect(fs.lstat(path.join(lxcPath, "nolv"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("lvrename failing during loop → lvm: the loop rootfs and its config as they were, no LV left", async () => {
    await cliOk(["create", ...base("keep"), "--backing-store", "loop", "--size", "128M", "--from", `dir:${lxcPath}/seed/rootfs`]);
    const config = await fs.readFile(path.join(lxcPath, "keep", "config"), "utf8");
    const r = await cli(["update", ...base("keep"), ...lvm], await failing("lvrename", null));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lvrename .* failed \(exit 5\): lvrename: injected failure/);
    expect(await fs.readFile(path.join(lxcPath, "keep", "config"), "utf8")).toBe(config);
    expect(await configuredDigest("keep")).toEqual({ store: "loop", digest: seedDigest });
    expect([...(await lvsOf(VG)).keys()]).toEqual([]);
    await cliOk(["destroy", ...base("keep")]);
  });

  it("zfs rename failing during dir → zfs: the dir rootfs and its config as they were, no dataset left", async () => {
    await cliOk(["create", ...base("zkeep"), "--backing-store", "dir", "--from", `dir:${lxcPath}/seed/rootfs`]);
    const config = await fs.readFile(path.join(lxcPath, "zkeep", "config"), "utf8");
    const r = await cli(["update", ...base("zkeep"), ...zfs], await failing("zfs", "rename"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/zfs rename .* failed \(exit 5\): zfs: injected failure/);
    expect(await fs.readFile(path.join(lxcPath, "zkeep", "config"), "utf8")).toBe(config);
    expect(await configuredDigest("zkeep")).toEqual({ store: "dir", digest: seedDigest });
    expect(await datasets()).toEqual([]);
    await cliOk(["destroy", ...base("zkeep")]);
  });
});
