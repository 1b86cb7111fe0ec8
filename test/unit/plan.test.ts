import { CannotShrink, InvalidInput, NoSpace } from "../../provider/src/model/errors";
import { StoreShape } from "../../provider/src/model/plans";
import { canBlockCopy, planFill, planUpdate } from "../../provider/src/planner/plan";

const G = 2 ** 30;
const M = 2 ** 20;
const loop2g: StoreShape = { store: "loop", sizeBytes: 2 * G, fstype: "ext4", usedBytes: 300 * M, allocatedBytes: 280 * M };
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
      sourceSize: 2 * G,
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
    const lxcMade: StoreShape = { ...loop2g, sizeBytes: 64 * M + 1, usedBytes: M, allocatedBytes: 4 * M };
    expect(planUpdate(lxcMade, spec({ size: 64 * M })).strategy).toBe("none");
    const grown = planUpdate(lxcMade, spec({ size: 128 * M }));
    expect(grown.summary).toMatch(/^grow in place: loop ext4 64(\.0)? MiB → 128 MiB/);
    // The device is restored to the size it had, should the filesystem fail to grow.
    expect(grown).toMatchObject({ strategy: "grow-in-place", fromSize: 64 * M + 1, toSize: 128 * M });
    // A block copy reads the whole device as found.
    expect(planUpdate(lxcMade, spec({ backingStore: "lvm", size: 64 * M }))).toMatchObject({
      strategy: "block-copy",
      sourceSize: 64 * M + 1,
    });
  });
  it("says a tree-to-tree copy is reflinked where the host allows, and an overlay's merged view copied", () => {
    const dir: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 10 * M, allocatedBytes: 10 * M };
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
    const dir: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 10 * M, allocatedBytes: 10 * M };
    expect(planUpdate(dir, spec({}))).toEqual(
      expect.objectContaining({ strategy: "file-copy", target: { store: "loop", size: G, fstype: "ext4" } }),
    );
  });
  it("refuses data that cannot fit the new store", () => {
    const dir: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 3 * G, allocatedBytes: 3 * G };
    expect(() => planUpdate(dir, spec({ size: G }))).toThrow(/no space on the new loop rootfs: needs 3\.0 GiB/);
  });
  it("sets a btrfs limit in place", () => {
    const b: StoreShape = { store: "btrfs", sizeBytes: null, fstype: "btrfs", usedBytes: M, allocatedBytes: M };
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
  });
});

describe("planFill", () => {
  it("block-copies a block source of the same fstype into an equal or larger block store", () => {
    expect(planFill(loop2g, { store: "loop", size: 4 * G, fstype: "ext4" })).toEqual({
      strategy: "block-copy",
      target: { store: "loop", size: 4 * G, fstype: "ext4" },
      sourceSize: 2 * G,
      bytesToMove: 280 * M,
    });
    expect(planFill(loop2g, { store: "loop", size: 4 * G, fstype: "xfs" }).strategy).toBe("file-copy");
  });
  it("snapshots btrfs into btrfs", () => {
    const b: StoreShape = { store: "btrfs", sizeBytes: null, fstype: "btrfs", usedBytes: M, allocatedBytes: M };
    // A clone the host refuses (another filesystem) is a file copy: its bytes are counted beforehand.
    expect(planFill(b, { store: "btrfs" })).toEqual({ strategy: "clone", target: { store: "btrfs" }, bytesToMove: 0, copyBytes: M });
  });
  it("makes an empty store without a source", () => {
    expect(planFill(undefined, { store: "dir" })).toEqual({ strategy: "empty", target: { store: "dir" }, bytesToMove: 0 });
  });
});
