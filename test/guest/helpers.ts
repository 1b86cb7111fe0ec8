/**
 * What the guest suites share: their disks, as scripts/test-guest.sh attaches them (each 4 GiB, sparse on
 * the host), the seed tree, how a test reads an LV, a dataset and LXC's boot, and the check of owners
 * shifted into an unprivileged map that the LVM and ZFS suites both make.
 */
import { promises as fs } from "fs";
import path from "path";
import { cliOk, makeSampleTree, must, sh, tempDir, treeDigest, waitForFile } from "../helpers/env";
import { ociLayoutOfTree } from "../helpers/images";
import { expectNoLeaks } from "../helpers/leaks";
import { DRIVERS } from "../../provider/src/drivers";
import { makeContext } from "../../provider/src/executor/context";
import { shiftStore } from "../../provider/src/executor/shift";
import { Idmap, idmapOf } from "../../provider/src/model/idmap";
import { Fstype, RootfsSpec } from "../../provider/src/model/requests";

/** One disk per suite, so a suite that fails cannot leave another a disk in use. */
export const DISKS = {
  thick: "/dev/vdb",
  thin: "/dev/vdc",
  zfs: "/dev/vdd",
  faultsLvm: "/dev/vde",
  faultsZfs: "/dev/vdf",
  snapshotLvm: "/dev/vdg",
  snapshotZfs: "/dev/vdh",
} as const;

/** Runs `fn` on what `mount ARGS… <dir>` mounts, under `scratchParent`, for the call only. */
export async function withMounted<T>(mountArgs: string[], scratchParent: string, fn: (root: string) => Promise<T>): Promise<T> {
  const mp = await fs.mkdtemp(path.join(scratchParent, ".look-"));
  await must(["mount", ...mountArgs, mp]);
  try {
    return await fn(mp);
  } finally {
    await must(["umount", mp]);
    await fs.rmdir(mp);
  }
}

/** Runs `fn` on a block device's filesystem, mounted read-only. */
export function withDeviceMounted<T>(device: string, scratchParent: string, fn: (root: string) => Promise<T>): Promise<T> {
  return withMounted(["-o", "ro", device], scratchParent, fn);
}

/** `lvs` for the volume group: LV name → size in bytes, and each LV's attributes and pool. */
export async function lvsOf(vg: string): Promise<Map<string, { size: number; attr: string; pool: string; dataPercent: number | null }>> {
  const out = await must([
    "lvs",
    "--noheadings",
    "--units",
    "b",
    "--nosuffix",
    "--separator",
    ",",
    "-o",
    "lv_name,lv_size,lv_attr,pool_lv,data_percent",
    vg,
  ]);
  const lvs = new Map();
  for (const line of out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const [name, size, attr, pool, percent] = line.split(",");
    lvs.set(name, { size: Number(size), attr, pool, dataPercent: percent ? Number(percent) : null });
  }
  return lvs;
}

/** A suite's volume group on its disk: made with its physical volume, removed with whatever LVs a failed test left. */
export const volumeGroup = {
  async create(vg: string, disk: string): Promise<void> {
    await must(["pvcreate", "--yes", disk]);
    await must(["vgcreate", "--yes", vg, disk]);
  },
  remove: (vg: string) => sh(["vgremove", "--yes", "--force", vg]),
};

/** A suite's pool on its disk and its dataset `root` (the zfsRoot), neither mounted; destroyed with whatever a failed test left. */
export const zfsPool = {
  async create(pool: string, disk: string, root: string): Promise<void> {
    await must(["zpool", "create", "-f", "-m", "none", pool, disk]);
    await must(["zfs", "create", "-o", "mountpoint=none", root]);
  },
  destroy: (pool: string) => sh(["zpool", "destroy", "-f", pool]),
};

/** The sample tree at `<lxcPath>/seed/rootfs`, the `from` of the suites' rootfs; returns its digest. */
export async function sampleSeed(lxcPath: string): Promise<string> {
  const seed = path.join(lxcPath, "seed", "rootfs");
  await fs.mkdir(seed, { recursive: true });
  await makeSampleTree(seed);
  return treeDigest(seed);
}

/** Every dataset and snapshot below `root`, `root` itself left out. */
export async function datasetsUnder(root: string): Promise<string[]> {
  const out = await must(["zfs", "list", "-H", "-o", "name", "-t", "filesystem,snapshot", "-r", root]);
  return out.split("\n").filter((l) => l && l !== root);
}

/** A dataset's files, mounted read-only as LXC mounts them (zfsutil), by digest. */
export function zfsDigest(dataset: string, scratchParent: string): Promise<string> {
  return withMounted(["-t", "zfs", "-o", "ro,zfsutil", dataset], scratchParent, treeDigest);
}

/**
 * The hooks a volume suite shares: `setUp` makes its volume group or pool on its disk, then a fresh lxcPath
 * gets the sample seed; nothing may be held after each test; at the end `tearDown` removes the
 * volumes and the lxcPath goes. The suite's fields are set once its first hook has run.
 */
export function volumeSuite(
  label: string,
  setUp: () => Promise<void>,
  tearDown: () => Promise<unknown>,
): { lxcPath: string; seedDigest: string } {
  const suite = { lxcPath: "", seedDigest: "" };
  beforeAll(async () => {
    await setUp();
    suite.lxcPath = await tempDir(label);
    suite.seedDigest = await sampleSeed(suite.lxcPath);
  });
  afterEach(() => expectNoLeaks(suite.lxcPath));
  afterAll(async () => {
    await tearDown();
    if (suite.lxcPath) await fs.rm(suite.lxcPath, { recursive: true, force: true });
  });
  return suite;
}

/**
 * A create held at a holdpoint (LXC_ROOTFS_HOLDPOINT): `env` for the CLI, `reached` once the operation
 * waits there, `release` lets it go on.
 */
export async function holdAt(
  step: string,
  scratchParent: string,
): Promise<{ env: NodeJS.ProcessEnv; reached: () => Promise<void>; release: () => Promise<void> }> {
  const file = path.join(await fs.mkdtemp(path.join(scratchParent, ".hold-")), "held");
  return {
    env: { LXC_ROOTFS_HOLDPOINT: step, LXC_ROOTFS_HOLD_FILE: file },
    // TCG is slow: the operation may take minutes to reach the step.
    reached: () => waitForFile(file, 5 * 60_000),
    release: () => fs.rm(path.dirname(file), { recursive: true }),
  };
}

/** Whether nothing of a planned create is on the host: no container directory. */
export async function noContainerDir(lxcPath: string, name: string): Promise<boolean> {
  return fs.lstat(path.join(lxcPath, name)).then(
    () => false,
    () => true,
  );
}

/**
 * The seed as an OCI image (`source`): a layout in the lxcPath of one layer, the seed's tree, made with
 * umoci as scripts/setup-images/oci-image.sh makes the host's fixture; its reference.
 */
export async function seedOciLayout(lxcPath: string): Promise<{ layout: string; url: string }> {
  const layer = path.join(lxcPath, "seed-layer.tar");
  const layout = path.join(lxcPath, "seed-oci");
  const url = await ociLayoutOfTree(path.join(lxcPath, "seed", "rootfs"), layer, layout);
  await fs.rm(layer);
  return { layout, url };
}

/** The seed as an OS image (`source`): a rootfs tarball in the lxcPath, with its sha256. */
export async function seedTarball(lxcPath: string): Promise<{ tarball: string; sha256: string }> {
  const tarball = path.join(lxcPath, "seed.tar.gz");
  const seed = path.join(lxcPath, "seed", "rootfs");
  await must(["tar", "--create", "--gzip", "--file", tarball, "--numeric-owner", "--acls", "--xattrs", "--sparse", "-C", seed, "."]);
  return { tarball, sha256: (await must(["sha256sum", tarball])).split(" ")[0] };
}

/** Proxmox's `unprivileged: 1` map: container 0 on host 100000. */
export const PROXMOX = idmapOf([{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }]);

/** Shifts the owners of a container's store as a create into a map does: the executor's shift, in its mount helper. */
export async function shiftRootfs(
  lxcPath: string,
  name: string,
  spec: Pick<RootfsSpec, "backingStore" | "vgName" | "zfsRoot">,
  fstype: Fstype | null,
  from: Idmap | null,
  to: Idmap | null,
): Promise<void> {
  const driver = DRIVERS[spec.backingStore];
  const dir = path.join(lxcPath, name);
  await shiftStore(makeContext(dir, {}), { driver, loc: driver.locate({ container: name, lxcPath, ...spec }, dir), fstype }, from, to);
}

/** Each path's owner, group and mode below `root` (lost+found left out): what a shift moves and a move keeps. */
export function ownersOf(root: string): Promise<string> {
  return must(["sh", "-c", `find "$0" -xdev -path "$0/lost+found" -prune -o -printf '%P %U:%G %m\\n' | sort`, root]);
}

/** `ownersOf`'s lines with every owner and group moved by 100000, as PROXMOX's shift moves them. */
export const ownersShifted = (owners: string) =>
  owners.replace(/ (\d+):(\d+) /g, (_, u: string, g: string) => ` ${Number(u) + 100000}:${Number(g) + 100000} `);

/** A dataset's files as `fn` reads them, mounted as LXC mounts it (zfsutil). */
export function withDatasetMounted<T>(dataset: string, scratchParent: string, fn: (root: string) => Promise<T>): Promise<T> {
  return withMounted(["-t", "zfs", "-o", "zfsutil", dataset], scratchParent, fn);
}

/** A store as a guest suite makes a rootfs in it (128 MiB), and reads that rootfs's files. */
export interface GuestStore {
  spec: Pick<RootfsSpec, "backingStore" | "vgName" | "zfsRoot" | "size" | "fstype">;
  /** Runs `fn` on the files of container `name`'s rootfs, mounted for the call under `lxcPath`. */
  within<T>(lxcPath: string, name: string, fn: (root: string) => Promise<T>): Promise<T>;
}

const GUEST_SIZE = 128 * 2 ** 20;

/** A thick LV (ext4) of the volume group, named after the container. */
export const lvmStore = (vgName: string): GuestStore => ({
  spec: { backingStore: "lvm", vgName, size: GUEST_SIZE, fstype: "ext4" },
  within: (lxcPath, name, fn) => withDeviceMounted(`/dev/${vgName}/${name}`, lxcPath, fn),
});

/** A dataset under `zfsRoot`, named after the container. */
export const zfsStore = (zfsRoot: string): GuestStore => ({
  spec: { backingStore: "zfs", zfsRoot, size: GUEST_SIZE },
  within: (lxcPath, name, fn) => withDatasetMounted(`${zfsRoot}/${name}`, lxcPath, fn),
});

/** The `lxc-rootfs` options that make a rootfs as `spec` says. */
function storeArgs(spec: GuestStore["spec"]): string[] {
  const flags: [string, string | number | undefined][] = [
    ["--backing-store", spec.backingStore],
    ["--vgname", spec.vgName],
    ["--zfsroot", spec.zfsRoot],
    ["--size", spec.size],
    ["--fstype", spec.fstype],
  ];
  return flags.flatMap(([flag, v]) => (v === undefined ? [] : [flag, String(v)]));
}

/**
 * The seed in `store`, shifted by 100000 (PROXMOX) as a create into the map shifts it: every owner moved,
 * and kept so through a move to dir and back into the store (whose copies must carry the ids as they are).
 */
export async function expectShiftKeptThroughMoves(lxcPath: string, store: GuestStore, name = "shifted"): Promise<void> {
  const base = ["--lxcpath", lxcPath, "--name", name];
  await cliOk(["create", ...base, ...storeArgs(store.spec), "--from", `dir:${lxcPath}/seed/rootfs`]);
  await shiftRootfs(lxcPath, name, store.spec, store.spec.fstype ?? null, null, PROXMOX);
  const expected = ownersShifted(await ownersOf(path.join(lxcPath, "seed", "rootfs")));
  expect(expected).toContain(" 101234:105678 ");
  expect(await store.within(lxcPath, name, ownersOf)).toBe(expected);
  await cliOk(["update", ...base, "--backing-store", "dir"]);
  expect(await ownersOf(path.join(lxcPath, name, "rootfs"))).toBe(expected);
  await cliOk(["update", ...base, ...storeArgs(store.spec)]);
  expect(await store.within(lxcPath, name, ownersOf)).toBe(expected);
  await cliOk(["destroy", ...base]);
}
