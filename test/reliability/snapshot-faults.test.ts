/**
 * Snapshots under faults on the real kernel: killed half-way (after the storage is made, and in the
 * middle of the copy), out of space before and during the copy, and beside an update of the same rootfs.
 * A half snapshot is never listed by lxc-snapshot, the next operation removes it, and the source is intact.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, imageDigest, makeSampleTree, must, startCli, tempDir, treeDigest, waitForFile } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";

let base: string;
let lxcPath: string;
let seed: string;
let seedDigest: string;
let bin: string;

beforeAll(async () => {
  base = await tempDir("snapfaults");
  lxcPath = path.join(base, "lxc");
  await fs.mkdir(lxcPath);
  seed = path.join(base, "seed");
  await makeSampleTree(seed, 48);
  seedDigest = await treeDigest(seed);
  // Stand-ins that announce they run, then run slowly: something to kill in the middle of, or to wait on.
  bin = path.join(base, "bin");
  await fs.mkdir(bin);
  await fs.writeFile(
    path.join(bin, "cp"),
    `#!/bin/sh\ntouch "$READY"\neval "src=\\\${$(($# - 1))} dst=\\\${$#}"\nexec /usr/bin/rsync -aHAXS --numeric-ids --bwlimit=10000 "$src/" "$dst/"\n`,
    { mode: 0o755 },
  );
  await fs.writeFile(path.join(bin, "mkfs.ext4"), `#!/bin/sh\n/sbin/mkfs.ext4 "$@" || exit 1\ntouch "$READY"\nsleep 3\n`, { mode: 0o755 });
});

/** The fixture's own small filesystem is mounted on purpose; nothing else may be. */
const FIXTURE = /\/small(\.img)?$/;
afterEach(() => expectNoLeaks(base, { except: FIXTURE, settle: true }));

afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

const b = (where: string, name: string) => ["--lxcpath", where, "--name", name];

/** What lxc-snapshot lists for a container, and what is under its snaps/. */
async function snapshotsSeen(where: string, name: string): Promise<{ listed: string; entries: string[] }> {
  const listed = await must(["lxc-snapshot", "-P", where, "-n", name, "-L"]);
  const entries = await fs.readdir(path.join(where, name, "snaps")).catch(() => []);
  return { listed: listed.trim(), entries: entries.map(String) };
}

describe.each([
  ["dir", ["--backing-store", "dir"]],
  ["loop", ["--backing-store", "loop", "--size", "256M"]],
] as Array<[string, string[]]>)("a snapshot of a %s rootfs, killed", (store, args) => {
  // A tree is copied by cp, which can be killed in the middle; an image by this process, in one go.
  it.each(store === "dir" ? ["snapshot:built", "copy"] : ["snapshot:built"])(
    "at %s: nothing listed, the source intact, the next operation clears it, a re-run completes",
    async (point) => {
      const name = `kill-${store}-${point.replace(":", "-")}`;
      await cliOk(["create", ...b(lxcPath, name), ...args, "--from", `dir:${seed}`]);
      const digest = () =>
        store === "loop" ? imageDigest(path.join(lxcPath, name, "rootdev"), base) : treeDigest(path.join(lxcPath, name, "rootfs"));
      const before = await digest();
      const snap = ["snapshot", ...b(lxcPath, name), "--snapshot", "pre"];
      if (point === "copy") {
        const ready = path.join(base, `.ready-${name}`);
        const run = startCli(snap, { PATH: `${bin}:${process.env.PATH}`, READY: ready });
        await waitForFile(ready);
        await new Promise((r) => setTimeout(r, 1500));
        run.child.kill("SIGKILL");
        expect((await run.done).signal).toBe("SIGKILL");
      } else {
        expect((await startCli(snap, { LXC_ROOTFS_FAILPOINT: point }).done).signal).toBe("SIGKILL");
      }
      // Killed with its storage made: still not a snapshot, to LXC or to us.
      const seen = await snapshotsSeen(lxcPath, name);
      expect(seen.listed).toBe("No snapshots");
      expect(seen.entries).toEqual(["pre"]);
      expect((await cli(["snapshot-inspect", ...b(lxcPath, name), "--snapshot", "pre"])).stderr).toMatch(/no snapshot pre of/);
      expect(await digest()).toBe(before);

      // A preview meanwhile plans it as free; the next change removes it first.
      expect((await cli(["snapshot-plan", ...b(lxcPath, name), "--snapshot", "pre"])).code).toBe(0);
      const rerun = await cli(snap);
      expect(rerun.code).toBe(0);
      expect(rerun.stderr).toMatch(/removed the half-made snapshot pre an interrupted run left/);
      const out = rerun.json as unknown as { rootfsPath: string };
      const [, kind, where] = /^(\w+):(.*)$/.exec(out.rootfsPath)!;
      expect(kind === "loop" ? await imageDigest(where, base) : await treeDigest(where)).toBe(before);
      expect((await snapshotsSeen(lxcPath, name)).listed).toMatch(/^pre \(/);

      await cliOk(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "pre"]);
      await cliOk(["destroy", ...b(lxcPath, name)]);
      await expect(fs.lstat(path.join(lxcPath, name))).rejects.toThrow(/ENOENT/);
    },
  );

  it("killed, then the rootfs destroyed: the half snapshot does not hold it back", async () => {
    const name = `kill-destroy-${store}`;
    await cliOk(["create", ...b(lxcPath, name), ...args, "--from", `dir:${seed}`]);
    expect(
      (await startCli(["snapshot", ...b(lxcPath, name), "--snapshot", "pre"], { LXC_ROOTFS_FAILPOINT: "snapshot:built" }).done).signal,
    ).toBe("SIGKILL");
    await cliOk(["destroy", ...b(lxcPath, name)]);
    await expect(fs.lstat(path.join(lxcPath, name))).rejects.toThrow(/ENOENT/);
  });
});

it("killed while it is removed: no longer listed, and the next operation finishes the removal", async () => {
  const name = "kill-remove";
  await cliOk(["create", ...b(lxcPath, name), "--backing-store", "dir", "--from", `dir:${seed}`]);
  await cliOk(["snapshot", ...b(lxcPath, name), "--snapshot", "pre"]);
  const run = startCli(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "pre"], { LXC_ROOTFS_FAILPOINT: "snapshot:unlisted" });
  expect((await run.done).signal).toBe("SIGKILL");
  // Its config went first: LXC lists nothing over the data still there.
  expect(await snapshotsSeen(lxcPath, name)).toEqual({ listed: "No snapshots", entries: ["pre"] });
  expect(await treeDigest(path.join(lxcPath, name, "snaps", "pre", "rootfs"))).toBe(seedDigest);
  const again = await cli(["snapshot", ...b(lxcPath, name), "--snapshot", "pre"]);
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/removed the half-made snapshot pre an interrupted run left/);
  await cliOk(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "pre"]);
  await cliOk(["destroy", ...b(lxcPath, name)]);
  await expect(fs.lstat(path.join(lxcPath, name))).rejects.toThrow(/ENOENT/);
});

describe("out of space: lxcPath on a 64 MB ext4 with 256 inodes", () => {
  let small: string;
  beforeAll(async () => {
    const img = path.join(base, "small.img");
    small = path.join(base, "small");
    await fs.mkdir(small);
    await must(["truncate", "-s", "64M", img]);
    await must(["mkfs.ext4", "-q", "-F", "-N", "256", img]);
    await must(["mount", "-o", "loop", img, small]);
  });
  afterAll(async () => {
    await must(["umount", small]);
  });

  it.each([
    ["before the copy: the bytes do not fit", 40, 0],
    ["during the copy: the files do not (no inodes left)", 1, 150],
  ])("%s: a clear error, the source intact, nothing left", async (_what, randomMiB, files) => {
    const name = `full-${files}`;
    const tree = path.join(base, `tree-${files}`);
    await makeSampleTree(tree, 1);
    // Random bytes: a small ext4 has 1 KiB blocks, and cp would make holes of the zeros in a sample file.
    await must(["dd", "if=/dev/urandom", `of=${path.join(tree, "random.bin")}`, "bs=1M", `count=${randomMiB}`, "status=none"]);
    for (let i = 0; i < files; i++) await fs.writeFile(path.join(tree, "etc", `f${i}`), `${i}\n`);
    await cliOk(["create", ...b(small, name), "--backing-store", "dir", "--from", `dir:${tree}`]);
    const before = await treeDigest(path.join(small, name, "rootfs"));
    const r = await cli(["snapshot", ...b(small, name), "--snapshot", "pre"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      files ? /no space on the new rootfs \(no free inodes left on its filesystem\)/ : /no space on the new rootfs: needs 4\d\.\d MiB/,
    );
    expect(await treeDigest(path.join(small, name, "rootfs"))).toBe(before);
    expect(await snapshotsSeen(small, name)).toEqual({ listed: "No snapshots", entries: [] });
    expect((await fs.readdir(path.join(small, name))).sort()).toEqual(["config", "rootfs"]);
    await cliOk(["destroy", ...b(small, name)]);
    await fs.rm(tree, { recursive: true });
  });
});

it("waits for an update of the same rootfs, and takes the rootfs as the update left it", async () => {
  const name = "beside-update";
  await cliOk(["create", ...b(lxcPath, name), "--backing-store", "dir", "--from", `dir:${seed}`]);
  const ready = path.join(base, ".ready-update");
  const update = startCli(["update", ...b(lxcPath, name), "--backing-store", "loop", "--size", "256M"], {
    PATH: `${bin}:${process.env.PATH}`,
    READY: ready,
  });
  await waitForFile(ready);
  // The update holds the container's lock, asleep in its slow mkfs: the snapshot must wait for it.
  const snapshot = startCli(["snapshot", ...b(lxcPath, name), "--snapshot", "after"]);
  const order: string[] = [];
  const [updated, snapped] = await Promise.all([
    update.done.finally(() => order.push("update")),
    snapshot.done.finally(() => order.push("snapshot")),
  ]);
  expect([updated.code, snapped.code]).toEqual([0, 0]);
  expect(order).toEqual(["update", "snapshot"]);
  const out = await cliOk(["snapshot-inspect", ...b(lxcPath, name), "--snapshot", "after"]);
  expect(out.rootfsPath).toBe(`loop:${lxcPath}/${name}/snaps/after/rootdev`);
  expect(await imageDigest(path.join(lxcPath, name, "snaps", "after", "rootdev"), base)).toBe(seedDigest);
  await cliOk(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "after"]);
  await cliOk(["destroy", ...b(lxcPath, name)]);
});
