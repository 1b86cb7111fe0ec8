/**
 * What the guest suites share: their disks, as scripts/test-guest.sh attaches them (each 4 GiB, sparse on
 * the host), the seed tree, how a test reads an LV, a dataset and LXC's boot, and the checks of owners
 * shifted into an unprivileged map that the LVM and ZFS suites both make.
 */
import { existsSync, promises as fs } from "fs";
import os from "os";
import path from "path";
import { cli, cliOk, makeSampleTree, must, sh, startCli, tempDir, treeDigest, waitForFile } from "../helpers/env";
import { imageFixtures, ociLayoutOfTree, shiftedManifest, treeManifest } from "../helpers/images";
import { expectNoLeaks } from "../helpers/leaks";
import { createRootfs, destroyRootfs, planRootfsUpdate, updateRootfs } from "../../provider/src/api";
import { DRIVERS } from "../../provider/src/drivers";
import { makeContext } from "../../provider/src/executor/context";
import { shiftStore } from "../../provider/src/executor/shift";
import { Idmap, IdmapEntry, idmapLines, idmapOf } from "../../provider/src/model/idmap";
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

/**
 * A container made by `lxc-create -t busybox` (as ../helpers/lxc.ts's busyboxSeed makes it, with the marker
 * "<name> data"), copied from one that template made once a boot: the template starts hundreds of
 * processes, about 30 s under TCG, and the guest's temporary directory is new each boot.
 */
export async function busyboxSeed(lxcPath: string, name: string): Promise<void> {
  const made = path.join(os.tmpdir(), "busybox-template");
  const template = path.join(made, "template");
  if (!existsSync(path.join(template, "config"))) {
    await fs.rm(made, { recursive: true, force: true });
    await fs.mkdir(made, { recursive: true });
    await must(["lxc-create", "-P", made, "-n", "template", "-t", "busybox"]);
  }
  const dir = path.join(lxcPath, name);
  await fs.mkdir(dir, { recursive: true });
  await must(["cp", "-a", path.join(template, "rootfs"), path.join(dir, "rootfs")]);
  const config = (await fs.readFile(path.join(template, "config"), "utf8"))
    .replace(/^lxc\.rootfs\.path = .*$/m, `lxc.rootfs.path = dir:${dir}/rootfs`)
    .replace(/^lxc\.uts\.name = .*$/m, `lxc.uts.name = "${name}"`);
  if (!config.includes(`lxc.rootfs.path = dir:${dir}/rootfs`)) throw new Error(`the busybox template's config names no rootfs:\n${config}`);
  await fs.writeFile(path.join(dir, "config"), config);
  await fs.writeFile(path.join(dir, "rootfs", "etc", "lxc-rootfs-marker"), `${name} data\n`);
}

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

/** Proxmox's `unprivileged: 1` map, container 0 on host 100000: as the API takes it, and as the shift does. */
const PROXMOX_ENTRIES: IdmapEntry[] = [{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }];
export const PROXMOX = idmapOf(PROXMOX_ENTRIES);

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

/** A busybox rootfs made privileged, then shifted in place into PROXMOX's map: where it is, and how to read it. */
interface ShiftedRootfs {
  lxcPath: string;
  ref: { container: string; lxcPath: string };
  /** The image's manifest, as scripts/setup-images.sh wrote it. */
  image: string;
  manifest(): Promise<string>;
  journal: string;
}

const exists = (p: string) =>
  fs.lstat(p).then(
    () => true,
    () => false,
  );

/**
 * A change of `idmap` on a rootfs that exists, in `store`, as test/kernel/shift-in-place.test.ts proves it
 * on dir, loop and btrfs: the busybox image (setuid, ACLs, a capability, device nodes, hard links)
 * unpacked privileged, then shifted in place into PROXMOX's map, the preview naming the shift and the
 * manifest after it the image's moved by the map. A block store's preview counts its filesystem's tally
 * of inodes in use ("about": the tree's and the filesystem's reserved ones); a dataset's names the files
 * uncounted, since a preview does not mount it. The rootfs is left in the map for one of the shifts back.
 */
export async function expectShiftedInPlace(lxcPath: string, store: GuestStore, name: string): Promise<ShiftedRootfs> {
  const image = imageFixtures().busybox;
  const ref = { container: name, lxcPath };
  await createRootfs({ ...ref, ...store.spec, source: { url: image.tarball } }, {});
  const there = await planRootfsUpdate(ref, { idmap: PROXMOX_ENTRIES }, {});
  if (DRIVERS[store.spec.backingStore].kind === "block") {
    expect(there?.summary).toMatch(/^shift the owners of about [\d,]+ files in place from none \(privileged\) to u\/g 0:100000:65536$/);
    const inodes = await store.within(
      lxcPath,
      name,
      async (root) => new Set((await must(["find", root, "-xdev", "-printf", "%i\\n"])).trim().split("\n")).size,
    );
    const tally = Number(/about ([\d,]+) files/.exec(there!.summary)![1].replace(/,/g, ""));
    expect(tally).toBeGreaterThanOrEqual(inodes);
    expect(tally).toBeLessThanOrEqual(inodes + 16);
  } else {
    expect(there?.summary).toBe("shift the owners of its files in place from none (privileged) to u/g 0:100000:65536");
  }
  expect(await updateRootfs(ref, { idmap: PROXMOX_ENTRIES }, {})).toMatchObject({ strategy: "none", idmap: PROXMOX_ENTRIES });
  const r = {
    lxcPath,
    ref,
    image: await fs.readFile(image.manifest, "utf8"),
    manifest: () => store.within(lxcPath, name, treeManifest),
    journal: path.join(lxcPath, name, ".lxc-rootfs", "shift.json"),
  };
  expect(await r.manifest()).toBe(shiftedManifest(r.image));
  // The way back, as its record says where it is.
  expect((await planRootfsUpdate({ ...ref, recordedIdmap: PROXMOX_ENTRIES }, { idmap: [] }, {}))?.summary).toMatch(
    /^shift the owners of .* in place from u\/g 0:100000:65536 to none \(privileged\)$/,
  );
  return r;
}

/** Shifted back by `[]` through the API, the rootfs is the image exactly; then it is destroyed. */
export async function expectShiftedBack(r: ShiftedRootfs): Promise<void> {
  expect(await updateRootfs({ ...r.ref, recordedIdmap: PROXMOX_ENTRIES }, { idmap: [] }, {})).toMatchObject({ idmap: [] });
  expect(await r.manifest()).toBe(r.image);
  expect(await exists(r.journal)).toBe(false);
  await destroyRootfs(r.ref, {});
}

/**
 * Shifted back by the CLI (`--idmap none`), which keeps no record: the container's config says the map, as
 * an unprivileged container's does. Killed in the middle of its walk (SIGKILL at the 40th inode), the
 * journal is left, the tree partly in each map, and a preview waits for the recovery; the next update
 * finishes it from the journal, every id moved once, to the image exactly. Then it is destroyed.
 */
export async function expectKilledShiftBackFinished(r: ShiftedRootfs): Promise<void> {
  const lines = idmapLines(PROXMOX).map((l) => `lxc.idmap = ${l}\n`);
  await fs.appendFile(path.join(r.lxcPath, r.ref.container, "config"), lines.join(""));
  const args = ["update", "--lxcpath", r.lxcPath, "--name", r.ref.container, "--idmap", "none"];
  const run = startCli(args, { LXC_ROOTFS_FAILPOINT: "shift-midway", LXC_ROOTFS_FAILPOINT_AFTER: "40" });
  expect(await run.done).toMatchObject({ signal: "SIGKILL" });
  expect(await exists(r.journal)).toBe(true);
  expect([r.image, shiftedManifest(r.image)]).not.toContain(await r.manifest());
  expect(await planRootfsUpdate(r.ref, { idmap: [] }, {})).toBeNull();

  const again = await cli(args);
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/finishing the shift of .*'s owners to none \(privileged\), from pass 1 of 1/);
  expect(await r.manifest()).toBe(r.image);
  expect(await exists(r.journal)).toBe(false);
  await destroyRootfs(r.ref, {});
}
