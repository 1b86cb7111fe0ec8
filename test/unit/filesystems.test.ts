/**
 * A new filesystem's own writes, against what was measured on a thin pool with 64 KiB chunks in the guest
 * (Debian 12's kernel 6.1, e2fsprogs 1.47, xfsprogs 6.1): what mkfs wrote, then what the first mount wrote,
 * waited out until ext4lazyinit had zeroed the inode tables, as `lvs`'s data percentage counted it.
 */
import { newFilesystemBytes } from "../../provider/src/model/filesystems";
import { Fstype } from "../../provider/src/model/requests";
import { bytesWritten, grownMetadataBytes } from "../../provider/src/planner/plan";

const M = 2 ** 20;
const G = 2 ** 30;

const MEASURED: Array<{ fstype: Fstype; size: number; bytes: number }> = [
  { fstype: "ext4", size: G, bytes: 48 * M },
  { fstype: "ext4", size: 16 * G, bytes: 389 * M },
  { fstype: "ext4", size: 64 * G, bytes: 1542 * M },
  { fstype: "ext2", size: 16 * G, bytes: 269 * M },
  { fstype: "xfs", size: G, bytes: 64 * M },
  { fstype: "xfs", size: 16 * G, bytes: 65 * M },
  { fstype: "xfs", size: 64 * G, bytes: 65 * M },
  // On a sparse file: an xfs of 1 TiB writes its 512 MiB log.
  { fstype: "xfs", size: 2 ** 40, bytes: 512 * M },
];

describe("newFilesystemBytes", () => {
  it.each(MEASURED)("counts at least what $fstype of $size bytes wrote, and at most half again as much", ({ fstype, size, bytes }) => {
    const estimate = newFilesystemBytes(fstype, size);
    expect(estimate).toBeGreaterThanOrEqual(bytes);
    expect(estimate).toBeLessThanOrEqual(1.5 * bytes);
  });
  it("counts btrfs's few MiB (4 MiB measured, at any size) as 16 MiB, which its first chunks can take", () => {
    for (const size of [256 * M, 16 * G, 2 ** 40]) {
      expect(newFilesystemBytes("btrfs", size)).toBe(16 * M);
    }
  });
  it("grows with the size for ext4 and follows mke2fs's size types", () => {
    expect(newFilesystemBytes("ext4", 256 * M)).toBeLessThan(newFilesystemBytes("ext4", G));
    // ext3 and ext4 have a journal, ext2 has none.
    expect(newFilesystemBytes("ext3", 16 * G)).toBe(newFilesystemBytes("ext4", 16 * G));
    expect(newFilesystemBytes("ext2", 16 * G)).toBe(newFilesystemBytes("ext4", 16 * G) - 128 * M);
  });
});

describe("bytesWritten", () => {
  const target = { store: "lvm" as const, size: 16 * G, fstype: "ext4" as const };
  it("counts an empty block store's new filesystem, and nothing for an empty tree", () => {
    expect(bytesWritten({ strategy: "empty", target, bytesToMove: 0 })).toBe(newFilesystemBytes("ext4", 16 * G));
    expect(bytesWritten({ strategy: "empty", target: { store: "zfs", size: 16 * G }, bytesToMove: 0 })).toBe(0);
  });
  it("adds the new filesystem to a file copy's data, and a clone's data whatever it falls back to", () => {
    expect(bytesWritten({ strategy: "file-copy", target, bytesToMove: 100 * M })).toBe(100 * M + newFilesystemBytes("ext4", 16 * G));
    expect(bytesWritten({ strategy: "clone", target: { store: "btrfs" }, bytesToMove: 0, copyBytes: 70 * M })).toBe(70 * M);
  });
  it("adds to a block copy the metadata of the part it grows, in the layout it was made with, and none when it does not grow", () => {
    const grown = bytesWritten({ strategy: "block-copy", target, copySize: G, bytesToMove: 300 * M });
    // Made at 1 GiB: an inode per 16 KiB, its journal as it is.
    expect(grown).toBe(300 * M + (15 * G * 256) / 16384 + (15 * G) / 512);
    // A small one (1 KiB blocks, an inode per 4 KiB) grown to 20 GiB writes 4 × the inode tables of one made at 20 GiB.
    const small = grownMetadataBytes({ fstype: "ext4", fromSize: 500 * M, toSize: 20 * G });
    expect(small).toBeGreaterThan(((20 * G - 500 * M) / 4096) * 256);
    expect(bytesWritten({ strategy: "block-copy", target: { ...target, size: G }, copySize: G, bytesToMove: 300 * M })).toBe(300 * M);
  });
});
