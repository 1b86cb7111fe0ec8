/**
 * The storage lifecycle through the real `lxc-rootfs` CLI on the real kernel: bytes and holes on disk,
 * blkid, data surviving every update strategy, and nothing left attached or mounted.
 */
import { promises as fs } from "fs";
import path from "path";
import { attachLoop } from "../../provider/src/native/loop";
import {
  allocatedBytes,
  blkidType,
  cli,
  cliOk,
  CliJson,
  makeSampleTree,
  mountScratchBtrfs,
  must,
  tempDir,
  treeDigest,
  imageDigest,
  withImageMounted,
} from "../helpers/env";
import { expectNoLeaks, loopsDetached } from "../helpers/leaks";

const M = 2 ** 20;
let lxcPath: string;
let seed: string;
let seedDigest: string;

beforeAll(async () => {
  lxcPath = await tempDir("lifecycle");
  seed = path.join(lxcPath, "seed", "rootfs");
  await fs.mkdir(seed, { recursive: true });
  await makeSampleTree(seed);
  seedDigest = await treeDigest(seed);
});

afterEach(() => expectNoLeaks(lxcPath));

afterAll(async () => {
  await fs.rm(lxcPath, { recursive: true, force: true });
});

const base = (name: string) => ["--lxcpath", lxcPath, "--name", name];

describe("loop create", () => {
  it.each(["ext2", "ext3", "ext4", "xfs", "btrfs"])("makes an image of exactly the size, sparse, holding %s", async (fstype) => {
    const name = `mk-${fstype}`;
    const out = await cliOk(["create", ...base(name), "--backing-store", "loop", "--size", "320M", "--fstype", fstype]);
    const image = path.join(lxcPath, name, "rootdev");
    expect(out).toMatchObject({
      container: name,
      lxcPath,
      backingStore: "loop",
      rootfsPath: `loop:${image}`,
      sizeBytes: 320 * M,
      fstype,
      managed: true,
    });
    const st = await fs.stat(image);
    expect(st.size).toBe(320 * M); // LXC's would be 320M + 1
    expect(out.allocatedBytes).toBe(st.blocks * 512);
    expect(st.blocks * 512).toBeLessThan(st.size / 4);
    expect(await blkidType(image)).toBe(fstype);
    expect((await fs.stat(path.join(lxcPath, name, "rootfs"))).isDirectory()).toBe(true);
    expect(await fs.readFile(path.join(lxcPath, name, "config"), "utf8")).toMatch(`lxc.rootfs.path = loop:${image}\n`);
    const { method, ...observed } = out;
    expect(method).toBe("none");
    expect(await cliOk(["inspect", ...base(name)])).toEqual(observed);
    await cliOk(["destroy", ...base(name)]);
    await expect(fs.lstat(path.join(lxcPath, name))).rejects.toThrow(/ENOENT/);
  });

  it("defaults to 1 GiB ext4", async () => {
    const out = await cliOk(["create", ...base("defaults"), "--backing-store", "loop"]);
    expect(out).toMatchObject({ sizeBytes: 2 ** 30, fstype: "ext4" });
    await cliOk(["destroy", ...base("defaults")]);
  });

  it("copies `from` in, keeping hard links, symlinks, owners, modes and sparse files", async () => {
    const out = await cliOk(["create", ...base("cl"), "--backing-store", "loop", "--size", "256M", "--from", `dir:${seed}`]);
    expect(out.method).toBe("cp");
    expect(await imageDigest(path.join(lxcPath, "cl", "rootdev"), lxcPath)).toBe(seedDigest);
    await cliOk(["destroy", ...base("cl")]);
  });

  it("keeps POSIX ACLs and xattrs through a file copy into an image and back out (LXC's rsync -aHXS drops ACLs)", async () => {
    // The ACL (user 1234 rw) in the kernel's xattr form, set and read with Python's os.*xattr.
    const attrs = (file: string, set: boolean) =>
      must([
        "python3",
        "-c",
        `import os, struct, sys
f = sys.argv[1]
if sys.argv[2] == "set":
    e = lambda tag, perm, id=0xffffffff: struct.pack("<HHI", tag, perm, id)
    os.setxattr(f, "system.posix_acl_access", struct.pack("<I", 2) + e(1, 6) + e(2, 6, 1234) + e(4, 4) + e(0x10, 6) + e(0x20, 4))
    os.setxattr(f, "user.origin", b"kept")
print(os.getxattr(f, "system.posix_acl_access").hex(), os.getxattr(f, "user.origin").decode())`,
        file,
        set ? "set" : "get",
      ]);
    const src = path.join(lxcPath, "acl-src");
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, "shared"), "acl\n");
    const before = await attrs(path.join(src, "shared"), true);
    expect(before).toMatch(/02000600d2040000.* kept\n$/); // user (2) 1234 (0x4d2) rw (6) is in the ACL
    const made = await cliOk(["create", ...base("acl"), "--backing-store", "loop", "--size", "64M", "--from", `dir:${src}`]);
    expect(made.method).toBe("cp");
    const back = await cliOk(["update", ...base("acl"), "--backing-store", "dir"]);
    expect(back).toMatchObject({ strategy: "file-copy", method: "cp" });
    expect(await attrs(path.join(lxcPath, "acl", "rootfs", "shared"), false)).toBe(before);
    await cliOk(["destroy", ...base("acl")]);
    await fs.rm(src, { recursive: true });
  });

  it("refuses to create over an existing rootfs, and leaves it untouched", async () => {
    await cliOk(["create", ...base("twice"), "--backing-store", "loop", "--size", "64M", "--from", `dir:${seed}`]);
    const before = await fs.stat(path.join(lxcPath, "twice", "rootdev"));
    const r = await cli(["create", ...base("twice"), "--backing-store", "dir"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already exists; refusing to overwrite/);
    const after = await fs.stat(path.join(lxcPath, "twice", "rootdev"));
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await imageDigest(path.join(lxcPath, "twice", "rootdev"), lxcPath)).toBe(seedDigest);
    await cliOk(["destroy", ...base("twice")]);
  });

  it("clones a loop rootfs by block copy: sparse, same bytes, grown to the larger size", async () => {
    await cliOk(["create", ...base("bsrc"), "--backing-store", "loop", "--size", "128M", "--from", `dir:${seed}`]);
    const src = path.join(lxcPath, "bsrc", "rootdev");
    const out = await cliOk(["create", ...base("bdst"), "--backing-store", "loop", "--size", "512M", "--from", `loop:${src}`]);
    const dst = path.join(lxcPath, "bdst", "rootdev");
    expect(out.method).toBe("sparse-copy"); // /tmp is ext4 here: no reflink
    expect(out.sizeBytes).toBe(512 * M);
    expect((await fs.stat(dst)).size).toBe(512 * M);
    expect(await allocatedBytes(dst)).toBeLessThanOrEqual((await allocatedBytes(src)) * 1.05 + 4 * M);
    expect(await imageDigest(dst, lxcPath)).toBe(seedDigest);
    await must(["e2fsck", "-fn", dst]);
    await cliOk(["destroy", ...base("bsrc")]);
    await cliOk(["destroy", ...base("bdst")]);
  });
});

describe("loop update", () => {
  const strategies: Array<[string, string[], string, (o: CliJson) => void]> = [
    ["grows ext4 in place", ["--size", "192M"], "grow-in-place", (o) => expect(o).toMatchObject({ sizeBytes: 192 * M, fstype: "ext4" })],
    ["shrinks ext4 offline", ["--size", "96M"], "shrink-in-place", (o) => expect(o.sizeBytes).toBe(96 * M)],
    ["changes the fstype by a file copy", ["--fstype", "btrfs", "--size", "300M"], "file-copy", (o) => expect(o.fstype).toBe("btrfs")],
    ["shrinks btrfs online", ["--size", "272M"], "shrink-in-place", (o) => expect(o.sizeBytes).toBe(272 * M)],
    ["grows btrfs in place", ["--size", "310M"], "grow-in-place", (o) => expect(o.sizeBytes).toBe(310 * M)],
    ["moves to xfs by a file copy", ["--fstype", "xfs", "--size", "320M"], "file-copy", (o) => expect(o.fstype).toBe("xfs")],
    ["grows xfs in place", ["--size", "400M"], "grow-in-place", (o) => expect(o.sizeBytes).toBe(400 * M)],
  ];

  beforeAll(async () => {
    await cliOk(["create", ...base("up"), "--backing-store", "loop", "--size", "128M", "--from", `dir:${seed}`]);
  });
  afterAll(async () => {
    await cliOk(["destroy", ...base("up")]);
  });

  it.each(strategies)("%s, keeping the data", async (_label, args, strategy, check) => {
    const out = await cliOk(["update", ...base("up"), ...args]);
    expect(out.strategy).toBe(strategy);
    check(out);
    const image = path.join(lxcPath, "up", "rootdev");
    expect((await fs.stat(image)).size).toBe(out.sizeBytes);
    expect(await blkidType(image)).toBe(out.fstype);
    expect(await imageDigest(image, lxcPath)).toBe(seedDigest);
    const entries = (await fs.readdir(path.join(lxcPath, "up"))).sort();
    expect(entries).toEqual(["config", "rootdev", "rootfs"]);
  });

  it("refuses to shrink xfs, with nothing changed", async () => {
    const image = path.join(lxcPath, "up", "rootdev");
    const before = await fs.readFile(image);
    const r = await cli(["update", ...base("up"), "--size", "320M"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot shrink xfs: xfs filesystems cannot be shrunk.*Nothing was changed/);
    expect((await fs.readFile(image)).equals(before)).toBe(true);
  });

  it("refuses a shrink the data does not fit, with nothing changed", async () => {
    await cliOk(["update", ...base("up"), "--fstype", "ext4", "--size", "128M"]);
    const image = path.join(lxcPath, "up", "rootdev");
    const before = await fs.readFile(image);
    const r = await cli(["update", ...base("up"), "--size", "16M"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on the shrunk ext4 filesystem: needs .* available/);
    expect((await fs.readFile(image)).equals(before)).toBe(true);
  });

  it("refuses to touch a rootfs whose image is attached, with nothing changed", async () => {
    const image = path.join(lxcPath, "up", "rootdev");
    const dev = await attachLoop(image, { readOnly: true });
    try {
      const r = await cli(["update", ...base("up"), "--size", "256M"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is in use \(attached to \/dev\/loop\d+\)/);
      expect((await fs.stat(image)).size).toBe(128 * M);
    } finally {
      await dev.close();
    }
    await loopsDetached(image);
  });
});

describe("moves between stores keep the data", () => {
  let btrfs: { dir: string; release(): Promise<void> };
  let bpath: string;
  beforeAll(async () => {
    btrfs = await mountScratchBtrfs("stores", "2G");
    bpath = path.join(btrfs.dir, "lxc");
    await fs.mkdir(bpath);
  });
  afterAll(async () => {
    await btrfs.release();
  });

  it("loop → dir → btrfs → loop → dir on a btrfs lxcPath", async () => {
    const b = (n: string) => ["--lxcpath", bpath, "--name", n];
    await cliOk(["create", ...b("mv"), "--backing-store", "loop", "--size", "160M", "--from", `dir:${seed}`]);
    const toDir = await cliOk(["update", ...b("mv"), "--backing-store", "dir"]);
    expect(toDir).toMatchObject({ backingStore: "dir", strategy: "file-copy", rootfsPath: `dir:${bpath}/mv/rootfs` });
    expect(await treeDigest(path.join(bpath, "mv", "rootfs"))).toBe(seedDigest);
    await expect(fs.lstat(path.join(bpath, "mv", "rootdev"))).rejects.toThrow(/ENOENT/);

    const toBtrfs = await cliOk(["update", ...b("mv"), "--backing-store", "btrfs", "--size", "300M"]);
    expect(toBtrfs).toMatchObject({ backingStore: "btrfs", sizeBytes: 300 * M, fstype: "btrfs" });
    const sub = path.join(bpath, "mv", "rootfs");
    expect((await fs.stat(sub)).ino).toBe(256);
    expect(await must(["btrfs", "subvolume", "show", sub])).toMatch(/Name:\s+rootfs/);
    expect(await treeDigest(sub)).toBe(seedDigest);

    const toLoop = await cliOk(["update", ...b("mv"), "--backing-store", "loop", "--fstype", "xfs", "--size", "320M"]);
    expect(toLoop).toMatchObject({ backingStore: "loop", fstype: "xfs", sizeBytes: 320 * M });
    await expect(must(["btrfs", "subvolume", "show", sub])).rejects.toThrow();
    expect(await imageDigest(path.join(bpath, "mv", "rootdev"), lxcPath)).toBe(seedDigest);

    const back = await cliOk(["update", ...b("mv"), "--backing-store", "dir"]);
    expect(back.backingStore).toBe("dir");
    expect(await treeDigest(path.join(bpath, "mv", "rootfs"))).toBe(seedDigest);
    expect((await fs.readdir(path.join(bpath, "mv"))).sort()).toEqual(["config", "rootfs"]);
    await cliOk(["destroy", ...b("mv")]);
    expect(await fs.readdir(bpath)).toEqual([]);
  });

  it("btrfs: a real subvolume, a qgroup limit for size, and a snapshot for a btrfs source", async () => {
    const b = (n: string) => ["--lxcpath", bpath, "--name", n];
    const a = await cliOk(["create", ...b("s1"), "--backing-store", "btrfs", "--size", "200M", "--from", `dir:${seed}`]);
    expect(a).toMatchObject({ backingStore: "btrfs", sizeBytes: 200 * M, method: "cp" });
    const lim = await cliOk(["update", ...b("s1"), "--size", "250M"]);
    expect(lim).toMatchObject({ strategy: "set-limit", sizeBytes: 250 * M });
    const snap = await cliOk(["create", ...b("s2"), "--backing-store", "btrfs", "--from", `btrfs:${bpath}/s1/rootfs`]);
    expect(snap.method).toBe("snapshot");
    expect(await must(["btrfs", "subvolume", "show", `${bpath}/s2/rootfs`])).toMatch(/Parent UUID:\s+[0-9a-f-]{36}/);
    expect(await treeDigest(`${bpath}/s2/rootfs`)).toBe(seedDigest);
    const reflinked = await cliOk(["create", ...b("s3"), "--backing-store", "loop", "--size", "128M", "--from", `dir:${seed}`]);
    const clone = await cliOk(["create", ...b("s4"), "--backing-store", "loop", "--size", "256M", "--from", reflinked.rootfsPath]);
    expect(clone.method).toBe("reflink");
    expect(await imageDigest(`${bpath}/s4/rootdev`, lxcPath)).toBe(seedDigest);
    // dir → btrfs on one btrfs: the files are reflinked, not rewritten. A reflinked file keeps its
    // physical extents, which filefrag shows: the same addresses before and after the move.
    const extents = async (f: string) =>
      (await must(["sync", "-f", f]), await must(["filefrag", "-v", f]))
        .split("\n")
        .filter((l) => /^\s*\d+:/.test(l))
        .map((l) => l.split(":")[2].trim());
    const d = await cliOk(["create", ...b("s5"), "--backing-store", "dir", "--from", `dir:${seed}`]);
    expect(d.method).toBe("cp"); // the seed is on /tmp, another filesystem
    const before = await extents(`${bpath}/s5/rootfs/big.bin`);
    expect(before.length).toBeGreaterThan(0);
    const moved = await cliOk(["update", ...b("s5"), "--backing-store", "btrfs"]);
    expect(moved).toMatchObject({ backingStore: "btrfs", strategy: "file-copy", method: "reflink" });
    expect(moved.summary).toMatch(/^copy \d+ MiB file by file \(reflinked where both share one btrfs or xfs\) from dir into a new btrfs$/);
    expect(await must(["btrfs", "subvolume", "show", `${bpath}/s5/rootfs`])).toMatch(/Name:\s+rootfs/);
    expect(await extents(`${bpath}/s5/rootfs/big.bin`)).toEqual(before);
    expect(await treeDigest(`${bpath}/s5/rootfs`)).toBe(seedDigest);
    const back = await cliOk(["update", ...b("s5"), "--backing-store", "dir"]);
    expect(back.method).toBe("reflink");
    expect(await extents(`${bpath}/s5/rootfs/big.bin`)).toEqual(before);
    expect(await treeDigest(`${bpath}/s5/rootfs`)).toBe(seedDigest);
    for (const n of ["s1", "s2", "s3", "s4", "s5"]) await cliOk(["destroy", ...b(n)]);
    expect(await fs.readdir(bpath)).toEqual([]);
  });

  it("overlay: a snapshot over a dir lower; writes land in the upper layer only", async () => {
    const out = await cliOk(["create", ...base("ov"), "--backing-store", "overlay", "--from", `dir:${seed}`]);
    expect(out.rootfsPath).toBe(`overlay:${seed}:${lxcPath}/ov/overlay/delta`);
    expect(await fs.readdir(path.join(lxcPath, "ov", "overlay"))).toEqual(expect.arrayContaining(["delta", "work"]));
    // Moving an overlay to a block store copies the merged view.
    await fs.writeFile(path.join(lxcPath, "ov", "overlay", "delta", "upper-only"), "u");
    const moved = await cliOk(["update", ...base("ov"), "--backing-store", "loop", "--size", "128M"]);
    expect(moved.strategy).toBe("file-copy");
    await withImageMounted(path.join(lxcPath, "ov", "rootdev"), lxcPath, async (root) => {
      expect(await fs.readFile(path.join(root, "upper-only"), "utf8")).toBe("u");
      expect(await fs.readFile(path.join(root, "etc", "marker"), "utf8")).toBe("the data survives\n");
    });
    expect(await treeDigest(seed)).toBe(seedDigest);
    await cliOk(["destroy", ...base("ov")]);
  });
});
