/**
 * Bad input is refused before anything is touched; failed operations leave the host as it was; destroy
 * never follows a symlink out of the container; concurrent operations succeed.
 */
import { promises as fs } from "fs";
import path from "path";
import { createRootfs, destroyRootfs } from "../../provider/src/api";
import { cli, cliOk, makeSampleTree, must, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";

let lxcPath: string;
let outside: string;
let seed: string;

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true })) out.push(String(e));
  return out.sort();
}

/** A directory with a failing stand-in for `tool`, to put first on PATH. */
async function failingTool(tool: string): Promise<string> {
  const dir = await tempDir(`fail-${tool}`);
  await fs.writeFile(path.join(dir, tool), `#!/bin/sh\necho "${tool}: injected failure" >&2\nexit 1\n`, { mode: 0o755 });
  return dir;
}

beforeAll(async () => {
  lxcPath = await tempDir("failures");
  outside = await tempDir("outside");
  await fs.writeFile(path.join(outside, "precious"), "must survive");
  seed = path.join(outside, "seed");
  await fs.mkdir(seed);
  await makeSampleTree(seed, 1);
});
afterEach(async () => {
  await expectNoLeaks(lxcPath);
  expect(await fs.readFile(path.join(outside, "precious"), "utf8")).toBe("must survive");
});
afterAll(async () => {
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

describe("bad input: refused before anything is touched, naming the option", () => {
  it.each([
    [["--backing-store", "nfs"], "--backing-store", /one of dir, loop, btrfs, overlay, lvm, zfs/],
    [["--backing-store", "loop", "--fstype", "ntfs"], "--fstype", /one of ext2, ext3, ext4, xfs, btrfs/],
    [["--backing-store", "loop", "--size", "-1G"], "--size", /binary/],
    [["--backing-store", "loop", "--size", "0"], "--size", /binary/],
    [["--backing-store", "loop", "--size", "huge"], "--size", /binary/],
    [["--backing-store", "loop", "--size", "99999T"], "--size", /at most 1 PiB/],
    [["--backing-store", "loop", "--fstype", "xfs", "--size", "64M"], "--size", /for xfs/],
    [["--backing-store", "dir", "--fstype", "ext4"], "--fstype", /only block stores/],
    [["--backing-store", "dir", "--size", "1G"], "--size", /dir has no size/],
    [["--backing-store", "loop", "--from", "dir:/nonexistent/rootfs"], "--from", /an existing rootfs; nothing is there/],
    [["--backing-store", "overlay"], "--from", /lower layer/],
    [["--backing-store", "dir", "--idmap", "x 0 100000 65536"], "--idmap", /"u\|g\|b <containerId> <hostId> <size>" \(b: both\)/],
    [["--backing-store", "dir", "--idmap", "b 1 100001 65535"], "--idmap", /a map that maps container root/],
    [["--backing-store", "dir", "--idmap", "u 0 100000 65536"], "--idmap\\[0\\]", /a map with gid ranges too/],
    [["--backing-store", "dir", "--idmap", "b 0 100000 0"], "--idmap\\[0\\]\\.size", /a whole number from 1/],
  ])("%j", async (args, option, allowed) => {
    const before = await listTree(lxcPath);
    const r = await cli(["create", "--lxcpath", lxcPath, "--name", "bad", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^lxc-rootfs: ${option}: invalid value `));
    expect(r.stderr).toMatch(allowed);
    expect(await listTree(lxcPath)).toEqual(before);
  });

  it.each([["a/b"], [".."], ["-rf"], ["with space"], ["$(touch /tmp/pwned)"], ["new\nline"], ["ünïcödé"]])(
    "container name %j",
    async (name) => {
      const r = await cli(["create", "--lxcpath", lxcPath, "--name", name, "--backing-store", "dir"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^lxc-rootfs: --name: invalid value .*letters, digits/);
      await expect(fs.lstat("/tmp/pwned")).rejects.toThrow(/ENOENT/);
    },
  );

  it("a relative lxcPath", async () => {
    const r = await cli(["create", "--lxcpath", "relative/lxc", "--name", "x", "--backing-store", "dir"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lxc-rootfs: --lxcpath: invalid value "relative\/lxc": an absolute directory path/);
  });
});

describe("failed operations leave the host as it was", () => {
  it("mkfs failing: no image, no container directory, a clear error", async () => {
    const bin = await failingTool("mkfs.ext4");
    const r = await cli(["create", "--lxcpath", lxcPath, "--name", "nomkfs", "--backing-store", "loop", "--size", "64M"], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mkfs\.ext4 -F -q .*rootdev\.lxc-rootfs-new failed \(exit 1\): mkfs\.ext4: injected failure/);
    await expect(fs.lstat(path.join(lxcPath, "nomkfs"))).rejects.toThrow(/ENOENT/);
  });

  it("cp failing during a move to dir: the loop rootfs stays, with its data and its config", async () => {
    await cliOk(["create", "--lxcpath", lxcPath, "--name", "keep", "--backing-store", "loop", "--size", "64M", "--from", `dir:${seed}`]);
    const dir = path.join(lxcPath, "keep");
    const image = await fs.readFile(path.join(dir, "rootdev"));
    const config = await fs.readFile(path.join(dir, "config"), "utf8");
    const bin = await failingTool("cp");
    const r = await cli(["update", "--lxcpath", lxcPath, "--name", "keep", "--backing-store", "dir"], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cp -aT --sparse=always -- .* failed \(exit 1\): cp: injected failure/);
    expect((await fs.readdir(dir)).sort()).toEqual(["config", "rootdev", "rootfs"]);
    expect((await fs.readFile(path.join(dir, "rootdev"))).equals(image)).toBe(true);
    expect(await fs.readFile(path.join(dir, "config"), "utf8")).toBe(config);
    // Re-running without the fault completes the update.
    const ok = await cliOk(["update", "--lxcpath", lxcPath, "--name", "keep", "--backing-store", "dir"]);
    expect(ok.backingStore).toBe("dir");
    expect(await treeDigest(path.join(dir, "rootfs"))).toBe(await treeDigest(seed));
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "keep"]);
  });

  it("the copy is flushed to disk before the swap: when that flush fails, the old rootfs stays in place", async () => {
    await cliOk(["create", "--lxcpath", lxcPath, "--name", "flush", "--backing-store", "loop", "--size", "64M", "--from", `dir:${seed}`]);
    const dir = path.join(lxcPath, "flush");
    const image = await fs.readFile(path.join(dir, "rootdev"));
    const config = await fs.readFile(path.join(dir, "config"), "utf8");
    const bin = await failingTool("sync");
    const r = await cli(["update", "--lxcpath", lxcPath, "--name", "flush", "--backing-store", "dir"], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sync -f .*rootfs\.lxc-rootfs-new failed \(exit 1\): sync: injected failure/);
    expect((await fs.readFile(path.join(dir, "rootdev"))).equals(image)).toBe(true);
    expect(await fs.readFile(path.join(dir, "config"), "utf8")).toBe(config);
    expect((await fs.readdir(dir)).sort()).toEqual(["config", "rootdev", "rootfs"]);
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "flush"]);
  });

  it("a copy that does not fit: no space, with the sizes, and nothing left", async () => {
    const big = path.join(outside, "bigseed");
    await fs.mkdir(big);
    await fs.writeFile(path.join(big, "blob"), Buffer.alloc(40 * 2 ** 20, 1));
    const r = await cli([
      "create",
      "--lxcpath",
      lxcPath,
      "--name",
      "full",
      "--backing-store",
      "loop",
      "--size",
      "16M",
      "--from",
      `dir:${big}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on the new loop rootfs: needs 40\.\d MiB \(\d+ bytes\), 16\.0 MiB \(16777216 bytes\) available/);
    await expect(fs.lstat(path.join(lxcPath, "full"))).rejects.toThrow(/ENOENT/);
  });
});

describe("destroy never follows a symlink out of the container", () => {
  it("refuses a rootfs that is a symlink", async () => {
    const dir = path.join(lxcPath, "sym");
    await fs.mkdir(dir);
    await fs.symlink(outside, path.join(dir, "rootfs"));
    await fs.writeFile(path.join(dir, "config"), `lxc.rootfs.path = dir:${dir}/rootfs\n`);
    const r = await cli(["destroy", "--lxcpath", lxcPath, "--name", "sym"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to change .*sym\/rootfs: .*sym\/rootfs is a symbolic link/);
    expect(await fs.readlink(path.join(dir, "rootfs"))).toBe(outside);
    await fs.rm(dir, { recursive: true });
  });

  it("refuses a rootfs string that points outside the container", async () => {
    const dir = path.join(lxcPath, "escape");
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, "config"), `lxc.rootfs.path = dir:${seed}\n`);
    const digest = await treeDigest(seed);
    const r = await cli(["destroy", "--lxcpath", lxcPath, "--name", "escape"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`refusing to touch ${seed}: it is outside ${dir}`));
    expect(await treeDigest(seed)).toBe(digest);
    await fs.rm(dir, { recursive: true });
  });

  it("refuses a container directory that is a symlink", async () => {
    await fs.symlink(outside, path.join(lxcPath, "linked"));
    const r = await cli(["destroy", "--lxcpath", lxcPath, "--name", "linked"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to use .*linked: it is not a directory/);
    await fs.unlink(path.join(lxcPath, "linked"));
  });

  it("does not cross into a filesystem mounted inside the rootfs", async () => {
    await cliOk(["create", "--lxcpath", lxcPath, "--name", "mnt", "--backing-store", "dir"]);
    const inner = path.join(lxcPath, "mnt", "rootfs", "bound");
    await fs.mkdir(inner);
    await must(["mount", "--bind", outside, inner]);
    try {
      const r = await cli(["destroy", "--lxcpath", lxcPath, "--name", "mnt"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is in use \(mounted at .*bound\)/);
    } finally {
      await must(["umount", inner]);
    }
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "mnt"]);
  });

  it("leaves storage marked lxc.rootfs.managed = 0 in place", async () => {
    await cliOk(["create", "--lxcpath", lxcPath, "--name", "adopted", "--backing-store", "dir"]);
    await fs.appendFile(path.join(lxcPath, "adopted", "config"), "lxc.rootfs.managed = 0\n");
    const out = await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "adopted"]);
    expect(out).toEqual({ destroyed: false, reason: expect.stringMatching(/lxc\.rootfs\.managed = 0/) });
    expect((await fs.stat(path.join(lxcPath, "adopted", "rootfs"))).isDirectory()).toBe(true);
    await fs.rm(path.join(lxcPath, "adopted"), { recursive: true });
  });
});

describe("concurrency", () => {
  it("16 loop creates and then 16 destroys at once, through the library", async () => {
    const names = Array.from({ length: 16 }, (_, i) => `par${i}`);
    const created = await Promise.all(names.map((container) => createRootfs({ container, lxcPath, backingStore: "loop", size: "32M" })));
    expect(new Set(created.map((c) => c.rootfsPath)).size).toBe(16);
    for (const c of created) expect((await fs.stat(c.rootfsPath.slice(5))).size).toBe(32 * 2 ** 20);
    const destroyed = await Promise.all(names.map((container) => destroyRootfs({ container, lxcPath })));
    expect(destroyed.every((d) => d.destroyed)).toBe(true);
    expect(await fs.readdir(lxcPath)).toEqual([]);
  });

  it("two processes creating the same container: one wins, the other is refused, nothing is corrupted", async () => {
    const args = ["create", "--lxcpath", lxcPath, "--name", "race", "--backing-store", "loop", "--size", "64M", "--from", `dir:${seed}`];
    const [a, b] = await Promise.all([cli(args), cli(args)]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect((a.code ? a : b).stderr).toMatch(/already exists; refusing to overwrite/);
    expect((await fs.readdir(path.join(lxcPath, "race"))).sort()).toEqual(["config", "rootdev", "rootfs"]);
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "race"]);
  });

  it("two processes updating the same container are serialized", async () => {
    const b = ["--lxcpath", lxcPath, "--name", "serial"];
    await cliOk(["create", ...b, "--backing-store", "loop", "--size", "64M", "--from", `dir:${seed}`]);
    // Unserialized, two resize2fs runs on one image would fail or corrupt it.
    const [x, y] = await Promise.all([cliOk(["update", ...b, "--size", "96M"]), cliOk(["update", ...b, "--size", "160M"])]);
    expect([x.strategy, y.strategy]).toContain("grow-in-place");
    const final = await cliOk(["inspect", ...b]);
    expect([96 * 2 ** 20, 160 * 2 ** 20]).toContain(final.sizeBytes);
    const image = path.join(lxcPath, "serial", "rootdev");
    expect((await fs.stat(image)).size).toBe(final.sizeBytes);
    await must(["e2fsck", "-fn", image]);
    const moved = await cliOk(["update", ...b, "--backing-store", "dir"]);
    expect(await treeDigest(path.join(lxcPath, "serial", "rootfs"))).toBe(await treeDigest(seed));
    expect(moved.backingStore).toBe("dir");
    await cliOk(["destroy", ...b]);
  });
});
