import { CannotShrink, CutShort, InvalidInput, NoSpace } from "../../provider/src/model/errors";
import { StoreShape } from "../../provider/src/model/plans";
import { canBlockCopy, copySizeOf, describeCreate, planFill, planUpdate } from "../../provider/src/planner/plan";

const G = 2 ** 30;
const M = 2 ** 20;
const loop2g: StoreShape = {
  store: "loop",
  sizeBytes: 2 * G,
  fstype: "ext4",
  usedBytes: 300 * M,
  allocatedBytes: 280 * M,
  fsBytes: 2 * G,
  rootfsPath: "loop:/var/lib/lxc/web/rootdev",
};
const spec = (over: object) => ({ container: "web", lxcPath: "/var/lib/lxc", backingStore: "loop" as const, ...over });

describe("planUpdate", () => {
  it("does nothing when nothing changes, including an omitted size or fstype", () => {
    expect(planUpdate(loop2g, spec({ size: 2 * G, fstype: "ext4" })).strategy).toBe("none");
    expect(planUpdate(loop2g, spec({})).strategy).toBe("none");
  });
  it("grows in place, moving no data", () => {
    const p = planUpdate(loop2g, spec({ size: 4 * G }));
    expect(p).toEqual({ strategy: "grow-in-place", bytesToMove: 0, fstype: "ext4", fromSize: 2 * G, toSize: 4 * G, summary: p.summary });
    expect(p.summary).toMatch(/grow in place: loop ext4 2\.0 GiB → 4\.0 GiB/);
  });
  it("shrinks ext4 offline and btrfs online, when the data fits", () => {
    const p = planUpdate(loop2g, spec({ size: G }));
    expect(p).toEqual({ strategy: "shrink-in-place", bytesToMove: 0, fstype: "ext4", size: G, summary: p.summary });
    expect(p.summary).toMatch(/shrink in place \(offline\)/);
    expect(planUpdate({ ...loop2g, fstype: "btrfs" }, spec({ size: G })).summary).toMatch(/online/);
    expect(() => planUpdate(loop2g, spec({ size: 256 * M }))).toThrow(NoSpace);
  });
  it("refuses to shrink xfs, saying why", () => {
    expect(() => planUpdate({ ...loop2g, fstype: "xfs" }, spec({ size: G }))).toThrow(CannotShrink);
    expect(() => planUpdate({ ...loop2g, fstype: "xfs" }, spec({ size: G }))).toThrow(/xfs filesystems cannot be shrunk/);
  });
  it("block-copies between block stores of one fstype when the new size is at least the old", () => {
    const p = planUpdate(loop2g, spec({ backingStore: "lvm", size: 4 * G }));
    expect(p).toEqual({
      strategy: "block-copy",
      bytesToMove: 280 * M,
      copySize: 2 * G,
      target: { store: "lvm", size: 4 * G, fstype: "ext4" },
      summary: p.summary,
    });
    expect(p.summary).toMatch(/block copy of 280 MiB allocated .* then grow/);
    expect(planUpdate(loop2g, spec({ backingStore: "lvm" })).strategy).toBe("block-copy");
  });
  it("copies file by file for an fstype change, a smaller block target, or a tree store, reporting the MiB", () => {
    expect(planUpdate(loop2g, spec({ fstype: "xfs" })).strategy).toBe("file-copy");
    expect(planUpdate(loop2g, spec({ backingStore: "lvm", size: G })).strategy).toBe("file-copy");
    const toDir = planUpdate(loop2g, spec({ backingStore: "dir" }));
    expect(toDir).toMatchObject({ strategy: "file-copy", bytesToMove: 300 * M });
    expect(toDir.summary).toBe("copy 300 MiB file by file from loop ext4 2.0 GiB into a new dir");
  });
  it("compares block sizes in whole sectors: an image lxc-create made for 64M (64M + 1 bytes) is 64M", () => {
    const lxcMade: StoreShape = { ...loop2g, sizeBytes: 64 * M + 1, fsBytes: 64 * M, usedBytes: M, allocatedBytes: 4 * M };
    expect(planUpdate(lxcMade, spec({ size: 64 * M })).strategy).toBe("none");
    const grown = planUpdate(lxcMade, spec({ size: 128 * M }));
    expect(grown.summary).toMatch(/^grow in place: loop ext4 64(\.0)? MiB → 128 MiB/);
    // The device is restored to the size it had, should the filesystem fail to grow.
    expect(grown).toMatchObject({ strategy: "grow-in-place", fromSize: 64 * M + 1, toSize: 128 * M });
    // A block copy reads the filesystem, not the byte past it: it fits an LV of 64M, which is not grown.
    const moved = planUpdate(lxcMade, spec({ backingStore: "lvm", size: 64 * M }));
    expect(moved).toMatchObject({ strategy: "block-copy", copySize: 64 * M, target: { store: "lvm", size: 64 * M } });
    expect(moved.summary).not.toMatch(/grow/);
  });
  it("block-copies the filesystem, not the device: an image longer than its filesystem fits a target of the filesystem's size", () => {
    // An image extended by hand and never resized: the 1 GiB filesystem is what is copied.
    const longer: StoreShape = { ...loop2g, fsBytes: G };
    expect(planUpdate(longer, spec({ backingStore: "lvm", size: G }))).toMatchObject({ strategy: "block-copy", copySize: G });
    const grown = planUpdate(longer, spec({ backingStore: "lvm", size: 3 * G }));
    expect(grown).toMatchObject({ strategy: "block-copy", copySize: G, target: { size: 3 * G } });
    expect(grown.summary).toMatch(/then grow to 3\.0 GiB/);
    // Below the filesystem, the files are copied, if they fit.
    expect(planUpdate(longer, spec({ backingStore: "lvm", size: 512 * M })).strategy).toBe("file-copy");
    expect(() => planUpdate(longer, spec({ backingStore: "lvm", size: 256 * M }))).toThrow(NoSpace);
  });
  it("refuses a block store cut short under its filesystem for any change, naming it and both sizes", () => {
    const cut: StoreShape = { ...loop2g, sizeBytes: 32 * M, fsBytes: 64 * M, usedBytes: M, allocatedBytes: 8 * M };
    const message =
      /^\/var\/lib\/lxc\/web\/rootdev is 32\.0 MiB \(33554432 bytes\), shorter than the 64\.0 MiB \(67108864 bytes\) filesystem it holds: .*Nothing was changed/;
    for (const change of [
      { backingStore: "lvm", size: 64 * M }, // a block copy
      { backingStore: "lvm", size: 512 * M }, // a block copy that grows
      { backingStore: "dir" }, // a file copy
      { size: 128 * M }, // a grow in place
      { size: 16 * M }, // a shrink, refused first for the damage, not the room
      { fstype: "xfs" }, // a file copy into another filesystem
    ]) {
      expect(() => planUpdate(cut, spec(change))).toThrow(CutShort);
      expect(() => planUpdate(cut, spec(change))).toThrow(message);
    }
    // Nothing asked, nothing refused: it can still be read and refreshed.
    expect(planUpdate(cut, spec({})).strategy).toBe("none");
    // An LV reduced under its filesystem is named by its device.
    const lv: StoreShape = { ...cut, store: "lvm", rootfsPath: "lvm:/dev/vg0/web" };
    expect(() => planUpdate(lv, spec({ backingStore: "loop", size: 64 * M }))).toThrow(/^\/dev\/vg0\/web is 32\.0 MiB/);
  });
  it("says a tree-to-tree copy is reflinked where the host allows, and an overlay's merged view copied", () => {
    const dir: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 10 * M, allocatedBytes: 10 * M, fsBytes: null };
    expect(planUpdate(dir, spec({ backingStore: "btrfs" })).summary).toBe(
      "copy 10 MiB file by file (reflinked where both share one btrfs or xfs) from dir into a new btrfs",
    );
    expect(planUpdate({ ...dir, store: "overlay" }, spec({ backingStore: "dir" })).summary).toMatch(
      /^copy 10 MiB file by file from overlay/,
    );
    expect(planUpdate(dir, spec({ backingStore: "loop" })).summary).toMatch(
      /^copy 10 MiB file by file from dir into a new loop ext4 1\.0 GiB$/,
    );
  });
  it("gives a tree store moving to a block store the default 1 GiB and ext4", () => {
    const dir: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 10 * M, allocatedBytes: 10 * M, fsBytes: null };
    expect(planUpdate(dir, spec({}))).toEqual(
      expect.objectContaining({ strategy: "file-copy", target: { store: "loop", size: G, fstype: "ext4" } }),
    );
  });
  it("refuses data that cannot fit the new store", () => {
    const dir: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 3 * G, allocatedBytes: 3 * G, fsBytes: null };
    expect(() => planUpdate(dir, spec({ size: G }))).toThrow(/no space on the new loop rootfs: needs 3\.0 GiB/);
  });
  it("sets a btrfs limit in place", () => {
    const b: StoreShape = { store: "btrfs", sizeBytes: null, fstype: "btrfs", usedBytes: M, allocatedBytes: M, fsBytes: null };
    expect(planUpdate(b, spec({ backingStore: "btrfs", size: G }))).toMatchObject({ strategy: "set-limit", limit: G });
  });
  it("refuses to turn an existing rootfs into an overlay", () => {
    expect(() => planUpdate(loop2g, spec({ backingStore: "overlay", from: "dir:/x" }))).toThrow(InvalidInput);
  });
});

describe("canBlockCopy", () => {
  it("holds between block stores of one filesystem, into a target at least the source's size", () => {
    expect(canBlockCopy(loop2g, { store: "lvm", size: 2 * G, fstype: "ext4" })).toBe(true);
    expect(canBlockCopy(loop2g, { store: "lvm", size: G, fstype: "ext4" })).toBe(false);
    expect(canBlockCopy(loop2g, { store: "lvm", size: 2 * G, fstype: "xfs" })).toBe(false);
    expect(canBlockCopy(loop2g, { store: "zfs", size: 2 * G })).toBe(false);
    expect(canBlockCopy({ ...loop2g, fstype: null }, { store: "loop", size: 2 * G })).toBe(false);
    expect(canBlockCopy({ ...loop2g, store: "dir", sizeBytes: null }, { store: "loop", size: 2 * G, fstype: "ext4" })).toBe(false);
    // The filesystem's size is what must fit, not the image's; an unknown one is never block-copied.
    expect(canBlockCopy({ ...loop2g, fsBytes: G }, { store: "lvm", size: G, fstype: "ext4" })).toBe(true);
    expect(canBlockCopy({ ...loop2g, fsBytes: null }, { store: "lvm", size: 2 * G, fstype: "ext4" })).toBe(false);
  });
  it("copies the filesystem in whole sectors", () => {
    expect(copySizeOf({ ...loop2g, fsBytes: 64 * M })).toBe(64 * M);
    expect(copySizeOf({ ...loop2g, fsBytes: 64 * M + 100 })).toBe(64 * M + 512);
    expect(copySizeOf({ ...loop2g, store: "btrfs", fsBytes: null })).toBeNull();
  });
});

describe("planFill", () => {
  it("block-copies a block source of the same fstype into an equal or larger block store", () => {
    expect(planFill(loop2g, { store: "loop", size: 4 * G, fstype: "ext4" })).toEqual({
      strategy: "block-copy",
      target: { store: "loop", size: 4 * G, fstype: "ext4" },
      copySize: 2 * G,
      bytesToMove: 280 * M,
    });
    expect(planFill(loop2g, { store: "loop", size: 4 * G, fstype: "xfs" }).strategy).toBe("file-copy");
    // An image lxc-create made: its filesystem, not the byte past it.
    expect(planFill({ ...loop2g, sizeBytes: 64 * M + 1, fsBytes: 64 * M }, { store: "lvm", size: 64 * M, fstype: "ext4" })).toMatchObject({
      strategy: "block-copy",
      copySize: 64 * M,
    });
  });
  it("refuses a source cut short under its filesystem, whatever the fill", () => {
    const cut: StoreShape = { ...loop2g, sizeBytes: G, fsBytes: 2 * G };
    expect(() => planFill(cut, { store: "lvm", size: 2 * G, fstype: "ext4" })).toThrow(CutShort);
    expect(() => planFill(cut, { store: "dir" })).toThrow(/rootdev is 1\.0 GiB .*, shorter than the 2\.0 GiB .* filesystem it holds/);
  });
  it("snapshots btrfs into btrfs", () => {
    const b: StoreShape = { store: "btrfs", sizeBytes: null, fstype: "btrfs", usedBytes: M, allocatedBytes: M, fsBytes: null };
    // A clone the host refuses (another filesystem) is a file copy: its bytes are counted beforehand.
    expect(planFill(b, { store: "btrfs" })).toEqual({ strategy: "clone", target: { store: "btrfs" }, bytesToMove: 0, copyBytes: M });
  });
  it("makes an empty store without a source", () => {
    expect(planFill(undefined, { store: "dir" })).toEqual({ strategy: "empty", target: { store: "dir" }, bytesToMove: 0 });
  });
});

describe("describeCreate: a create's plan line never spells `from` (it may be a secret)", () => {
  const source = {
    store: "dir" as const,
    sizeBytes: null,
    fstype: null,
    usedBytes: 3 * 2 ** 20,
    allocatedBytes: 3 * 2 ** 20,
    fsBytes: null,
    rootfsPath: "dir:/secret/seed/rootfs",
  };
  it("a copy names the bytes and the source's store", () => {
    const target = { store: "loop" as const, size: 2 ** 30, fstype: "ext4" as const };
    const line = describeCreate(target, "loop:/var/lib/lxc/web/rootdev", planFill(source, target), source);
    expect(line).toBe("create loop ext4 1.0 GiB at loop:/var/lib/lxc/web/rootdev, a copy of 3 MiB file by file from `from` (dir)");
    expect(line).not.toContain("/secret/");
  });
  it("an overlay is named by its own layer", () => {
    const line = describeCreate(
      { store: "overlay" },
      "/var/lib/lxc/web/overlay/delta",
      planFill(undefined, { store: "overlay" }),
      undefined,
      true,
    );
    expect(line).toBe("create overlay at /var/lib/lxc/web/overlay/delta, over `from` as its lower layer, which it leaves as it is");
  });
});
