/** The koffi layer against the real kernel: loop ioctls, BLKGETSIZE64, SEEK_DATA/SEEK_HOLE, FICLONE, btrfs snapshots. */
import { promises as fs } from "fs";
import path from "path";
import { copyAllocatedBlocks, dataExtents } from "../../provider/src/host/blockcopy";
import { readSuperblock } from "../../provider/src/host/superblock";
import { attachLoop, blockDeviceSize, loopsBackedBy, setLoopCapacity } from "../../provider/src/native/loop";
import { snapshotSubvolume, subvolumeIds } from "../../provider/src/native/btrfs";
import { CutShort, Unsafe } from "../../provider/src/model/errors";
import { btrfsDriver } from "../../provider/src/drivers/btrfs";
import { makeContext } from "../../provider/src/executor/context";
import { allocatedBytes, mountScratchBtrfs, must, tempDir } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";

const M = 2 ** 20;
let dir: string;

beforeAll(async () => {
  dir = await tempDir("native");
});
afterAll(() => expectNoLeaksAndRemove(dir));

async function sparseFile(name: string, size: number, chunks: Array<[number, string]>): Promise<string> {
  const p = path.join(dir, name);
  const h = await fs.open(p, "w");
  await h.truncate(size);
  for (const [off, text] of chunks) await h.write(text.repeat(4096 / text.length), off);
  await h.close();
  return p;
}

async function waitDetached(file: string): Promise<string[]> {
  for (let i = 0; i < 100 && (await loopsBackedBy(file)).length; i++) await new Promise((r) => setTimeout(r, 20));
  return loopsBackedBy(file);
}

describe("loop devices", () => {
  it("attaches with autoclear, reports the size with BLKGETSIZE64, and detaches on close", async () => {
    const img = await sparseFile("a.img", 64 * M, []);
    const dev = await attachLoop(img);
    expect(dev.path).toMatch(/^\/dev\/loop\d+$/);
    expect(await loopsBackedBy(img)).toEqual([dev.path]);
    expect(await blockDeviceSize(dev.path)).toBe(64 * M);
    const flags = (await fs.readFile(`/sys/block/${path.basename(dev.path)}/loop/autoclear`, "utf8")).trim();
    expect(flags).toBe("1");
    await dev.close();
    expect(await waitDetached(img)).toEqual([]);
  });

  it("sees a grown backing file after LOOP_SET_CAPACITY", async () => {
    const img = await sparseFile("grow.img", 32 * M, []);
    const dev = await attachLoop(img);
    try {
      await fs.truncate(img, 96 * M);
      expect(await blockDeviceSize(dev.path)).toBe(32 * M);
      await setLoopCapacity(dev);
      expect(await blockDeviceSize(dev.path)).toBe(96 * M);
    } finally {
      await dev.close();
    }
    expect(await waitDetached(img)).toEqual([]);
  });

  it("attaches read-only when asked", async () => {
    const img = await sparseFile("ro.img", 8 * M, []);
    const dev = await attachLoop(img, { readOnly: true });
    try {
      expect((await fs.readFile(`/sys/block/${path.basename(dev.path)}/ro`, "utf8")).trim()).toBe("1");
    } finally {
      await dev.close();
    }
    await waitDetached(img);
  });

  it("gives 24 concurrent attachments 24 distinct devices (free-device races are retried)", async () => {
    const imgs = await Promise.all(Array.from({ length: 24 }, (_, i) => sparseFile(`c${i}.img`, 4 * M, [])));
    const devs = await Promise.all(imgs.map((img) => attachLoop(img)));
    try {
      expect(new Set(devs.map((d) => d.path)).size).toBe(24);
      for (let i = 0; i < imgs.length; i++) expect(await loopsBackedBy(imgs[i])).toEqual([devs[i].path]);
    } finally {
      await Promise.all(devs.map((d) => d.close()));
    }
    for (const img of imgs) expect(await waitDetached(img)).toEqual([]);
  });
});

describe("sparse block copy", () => {
  it("finds the data extents with SEEK_DATA/SEEK_HOLE", async () => {
    const src = await sparseFile("ext.img", 16 * M, [
      [0, "a"],
      [8 * M, "b"],
    ]);
    const h = await fs.open(src, "r");
    try {
      const extents = await dataExtents(h.fd, 16 * M);
      expect(extents.length).toBe(2);
      expect(extents[0][0]).toBe(0);
      expect(extents[1][0]).toBeLessThanOrEqual(8 * M);
      expect(extents[1][1]).toBeGreaterThan(8 * M);
    } finally {
      await h.close();
    }
  });

  it("copies the bytes and keeps the holes on a filesystem without reflink", async () => {
    const src = await sparseFile("src.img", 256 * M, [
      [0, "x"],
      [100 * M, "y"],
      [256 * M - 4096, "z"],
    ]);
    const dst = path.join(dir, "dst.img");
    await fs.writeFile(dst, "");
    const r = await copyAllocatedBlocks(src, dst, 256 * M);
    expect(r.method).toBe("sparse-copy");
    expect(r.bytesCopied).toBeLessThan(1 * M);
    expect((await fs.stat(dst)).size).toBe(256 * M);
    expect(await allocatedBytes(dst)).toBeLessThan(1 * M);
    expect(await must(["cmp", src, dst])).toBe("");
  });

  it("keeps a target file made at its final length, and refuses a source shorter than the copy", async () => {
    const src = await sparseFile("fs.img", 16 * M + 1, [
      [0, "a"],
      [16 * M - 4096, "b"],
      [16 * M, "!"], // past the filesystem: not copied
    ]);
    const dst = path.join(dir, "final.img");
    await must(["truncate", "-s", String(32 * M), dst]);
    await copyAllocatedBlocks(src, dst, 16 * M);
    expect((await fs.stat(dst)).size).toBe(32 * M);
    expect(await must(["cmp", "-n", String(16 * M), src, dst])).toBe("");
    expect(await must(["cmp", "-i", String(16 * M), "-n", String(16 * M), dst, "/dev/zero"])).toBe("");
    const short = path.join(dir, "short-dst.img");
    await fs.writeFile(short, "");
    await expect(copyAllocatedBlocks(src, short, 32 * M)).rejects.toThrow(CutShort);
    expect((await fs.stat(short)).size).toBe(0);
  });

  it("copies into a block device, zeroing what the source leaves as holes", async () => {
    const src = await sparseFile("tobdev.img", 16 * M, [[4 * M, "q"]]);
    const target = await sparseFile("bdev.img", 16 * M, [
      [0, "G"],
      [12 * M, "G"],
    ]);
    const dev = await attachLoop(target);
    try {
      await copyAllocatedBlocks(src, dev.path, 16 * M);
    } finally {
      await dev.close();
    }
    await waitDetached(target);
    expect(await must(["cmp", src, target])).toBe("");
  });

  it("reflinks on btrfs (FICLONE): no data is copied and the clone shares extents", async () => {
    const btrfs = await mountScratchBtrfs("reflink");
    try {
      const src = path.join(btrfs.dir, "src.img");
      const h = await fs.open(src, "w");
      await h.truncate(64 * M);
      await h.write(Buffer.alloc(8 * M, 7), 0);
      await h.close();
      const dst = path.join(btrfs.dir, "dst.img");
      await fs.writeFile(dst, "");
      const r = await copyAllocatedBlocks(src, dst, 64 * M);
      expect(r).toEqual({ method: "reflink", bytesCopied: 0 });
      expect(await must(["cmp", src, dst])).toBe("");
      const shared = await must(["btrfs", "filesystem", "du", "--raw", dst]);
      expect(Number(shared.trim().split("\n")[1].trim().split(/\s+/)[2])).toBeGreaterThanOrEqual(8 * M);
    } finally {
      await btrfs.release();
    }
  });
});

describe("btrfs ioctls", () => {
  it("snapshots a subvolume read-only, refuses a taken name and a plain directory, and reads the ids the tools read", async () => {
    const btrfs = await mountScratchBtrfs("ioctl");
    try {
      const sub = path.join(btrfs.dir, "sub");
      await must(["btrfs", "subvolume", "create", sub]);
      await fs.writeFile(path.join(sub, "f"), "kept");
      const ids = await subvolumeIds(sub);
      expect(await must(["btrfs", "filesystem", "show", btrfs.dir])).toContain(`uuid: ${ids.fsid}`);

      const snap = path.join(btrfs.dir, "snap");
      await snapshotSubvolume(sub, snap, true);
      expect(await must(["btrfs", "subvolume", "show", snap])).toMatch(/Flags:\s+readonly/);
      // Three trees, three ids (5 is the top level's): the one asked about is read, not a constant.
      for (const dir of [btrfs.dir, sub, snap]) {
        expect(String((await subvolumeIds(dir)).treeId)).toBe((await must(["btrfs", "inspect-internal", "rootid", dir])).trim());
      }
      expect(await fs.readFile(path.join(snap, "f"), "utf8")).toBe("kept");
      await expect(snapshotSubvolume(sub, snap, true)).rejects.toMatchObject({ code: "EEXIST" });

      // A plain directory inside the subvolume: the kernel would snapshot the whole subvolume.
      const plain = path.join(sub, "plain");
      await fs.mkdir(plain);
      await expect(snapshotSubvolume(plain, path.join(btrfs.dir, "wrong"), false)).rejects.toBeInstanceOf(Unsafe);
      expect((await fs.readdir(btrfs.dir)).sort()).toEqual(["snap", "sub"]);
      for (const v of [snap, sub]) await must(["btrfs", "subvolume", "delete", v]);
    } finally {
      await btrfs.release();
    }
  });

  it("reads a subvolume's qgroup limit from sysfs as btrfs qgroup show has it: none, set, none again", async () => {
    const btrfs = await mountScratchBtrfs("qgroup");
    try {
      const sub = path.join(btrfs.dir, "sub");
      await must(["btrfs", "subvolume", "create", sub]);
      const ctx = makeContext(btrfs.dir, {});
      const limit = async () =>
        (await btrfsDriver.inspect(ctx, { store: "btrfs", path: sub, rootfsPath: `btrfs:${sub}`, localRoot: sub })).sizeBytes;
      const shown = async () =>
        (await must(["btrfs", "qgroup", "show", "-re", "--raw", sub])).trim().split("\n").pop()!.trim().split(/\s+/)[3];
      expect(await limit()).toBeNull(); // quotas off
      await must(["btrfs", "quota", "enable", btrfs.dir]);
      expect(await limit()).toBeNull();
      await must(["btrfs", "qgroup", "limit", "100M", sub]);
      expect(await shown()).toBe(String(100 * M));
      expect(await limit()).toBe(100 * M);
      await must(["btrfs", "qgroup", "limit", "none", sub]);
      expect(await shown()).toBe("none");
      expect(await limit()).toBeNull();
      await must(["btrfs", "subvolume", "delete", sub]);
    } finally {
      await btrfs.release();
    }
  });
});

describe("superblock detection without mounting", () => {
  it.each(["ext2", "ext3", "ext4", "xfs", "btrfs"] as const)("reads %s from the image, agreeing with blkid", async (fstype) => {
    const img = await sparseFile(`sb-${fstype}.img`, 320 * M, []);
    await must([`mkfs.${fstype}`, ...(fstype.startsWith("ext") ? ["-F", "-q"] : ["-f", "-q"]), img]);
    const sb = await readSuperblock(img);
    expect(sb?.fstype).toBe(fstype);
    expect((await must(["blkid", "-o", "value", "-s", "TYPE", img])).trim()).toBe(fstype);
    expect(sb!.fsBytes).toBeGreaterThan(300 * M);
    expect(sb!.fsBytes).toBeLessThanOrEqual(320 * M);
    expect(sb!.usedBytes).toBeGreaterThan(0);
    await fs.unlink(img);
  });
  it("returns null for an unformatted image", async () => {
    expect(await readSuperblock(await sparseFile("blank.img", 2 * M, []))).toBeNull();
  });
});
