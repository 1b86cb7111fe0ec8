import { InvalidInput } from "../../provider/src/model/errors";
import { fstypeValues, storeValues } from "../../provider/src/model/schema";
import { parseSize } from "../../provider/src/model/sizes";
import { DRIVERS, parseRootfsString } from "../../provider/src/drivers";
import { validateSpec } from "../../provider/src/api/validate";
import { checkResource } from "../../provider/src/adapters/pulumi/resource";
import { checkSnapshot } from "../../provider/src/adapters/pulumi/snapshot";
import { MIN_FS_SIZE } from "../../provider/src/model/filesystems";

describe("sizes", () => {
  it.each([
    ["1073741824", 2 ** 30],
    [1073741824, 2 ** 30],
    ["1G", 2 ** 30],
    ["1GiB", 2 ** 30],
    ["1g", 2 ** 30],
    ["512M", 512 * 2 ** 20],
    ["4K", 4096],
    ["2T", 2 * 2 ** 40],
    [" 2G ", 2 * 2 ** 30],
  ])("%p is %p bytes", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each(["-1G", "0", 0, "1.5G", "1GB", "1Gi", "G", "", "1 PB", "100", 1.5, "9999999T", "1e9", "0x100", null, {}])(
    "%p is refused, naming size and the accepted forms",
    (input) => {
      expect(() => parseSize(input)).toThrow(InvalidInput);
      expect(() => parseSize(input)).toThrow(/^size: invalid value .*binary/);
    },
  );
});

describe("rootfs strings", () => {
  const parse = (s: string) => parseRootfsString(s, "from", "/c").loc;
  it("parses every store's form", () => {
    expect(parse("dir:/var/lib/lxc/a/rootfs")).toMatchObject({ store: "dir", path: "/var/lib/lxc/a/rootfs" });
    expect(parse("/var/lib/lxc/a/rootfs")).toMatchObject({ store: "dir", path: "/var/lib/lxc/a/rootfs" });
    expect(parse("loop:/x/rootdev").store).toBe("loop");
    expect(parse("loop:/c/rootdev")).toMatchObject({ path: "/c/rootdev", mountPoint: "/c/rootfs" });
    expect(parse("overlay:/lower:/c/overlay/delta")).toMatchObject({ store: "overlay", lower: "/lower", path: "/c/overlay/delta" });
    expect(parse("overlayfs:/lower:/up").store).toBe("overlay");
    expect(parse("lvm:/dev/lxc/web")).toMatchObject({ store: "lvm", path: "/dev/lxc/web" });
    expect(parse("zfs:tank/lxc/web")).toMatchObject({ store: "zfs", path: "tank/lxc/web" });
  });
  it("each driver writes back the string it parses", () => {
    for (const s of [
      "dir:/a/rootfs",
      "loop:/c/rootdev",
      "btrfs:/c/rootfs",
      "overlay:/lower:/c/overlay/delta",
      "lvm:/dev/lxc/web",
      "zfs:tank/lxc/web",
    ]) {
      expect(parse(s).rootfsPath).toBe(s);
    }
  });
  it.each(["nfs:/x", "dir:relative", "dir:/a/../b", "loop:", "overlay:/a", "lvm:/dev/vg", "zfs:/abs", "dir:/a\nb", ""])(
    "%p is refused, naming the property",
    (s) => expect(() => parseRootfsString(s, "from", "/c")).toThrow(/^from: invalid value/),
  );
});

describe("validation against schema.json", () => {
  const base = { container: "web", lxcPath: "/var/lib/lxc" };
  it("the stores of the code are exactly schema.json's enum, and so are the filesystems the planner knows", () => {
    expect(Object.keys(DRIVERS).sort()).toEqual([...storeValues].sort());
    expect(Object.keys(MIN_FS_SIZE).sort()).toEqual([...fstypeValues].sort());
  });
  it("applies schema.json's defaults", () => {
    expect(validateSpec({ container: "web" })).toEqual({ container: "web", lxcPath: "/var/lib/lxc", backingStore: "dir" });
  });
  it("normalizes size to bytes, so 1G and 1073741824 are one value", () => {
    expect(validateSpec({ ...base, backingStore: "loop", size: "1G" })).toEqual(
      validateSpec({ ...base, backingStore: "loop", size: 1073741824 }),
    );
  });
  it.each([
    [{ ...base, backingStore: "nfs" }, "backingStore", /one of dir, loop, btrfs, overlay, lvm, zfs/],
    [{ ...base, backingStore: "loop", fstype: "ntfs" }, "fstype", /one of ext2, ext3, ext4, xfs, btrfs/],
    [{ ...base, backingStore: "dir", fstype: "ext4" }, "fstype", /only block stores/],
    [{ ...base, backingStore: "dir", size: "1G" }, "size", /dir has no size/],
    [{ ...base, backingStore: "loop", size: "-1G" }, "size", /binary/],
    [{ ...base, backingStore: "loop", size: "0" }, "size", /binary/],
    [{ ...base, backingStore: "loop", size: "lots" }, "size", /binary/],
    [{ ...base, backingStore: "loop", size: "1M" }, "size", /at least 8388608 bytes .* for ext4/],
    [{ ...base, backingStore: "loop", fstype: "xfs", size: "100M" }, "size", /for xfs/],
    [{ ...base, backingStore: "loop", fstype: "btrfs", size: "200M" }, "size", /at least 268435456 bytes \(256M\) for btrfs/],
    [{ ...base, container: "a/b" }, "container", /letters, digits/],
    [{ ...base, container: ".." }, "container", /letters, digits/],
    [{ ...base, container: "-x" }, "container", /letters, digits/],
    [{ ...base, container: "has space" }, "container", /letters, digits/],
    [{ ...base, container: "$(reboot)" }, "container", /letters, digits/],
    [{ ...base, container: "a\nb" }, "container", /letters, digits/],
    [{ ...base, container: "café" }, "container", /letters, digits/],
    [{ ...base, container: "x".repeat(65) }, "container", /at most 64/],
    [{ ...base, lxcPath: "relative/path" }, "lxcPath", /absolute/],
    [{ ...base, lxcPath: "/a/../etc" }, "lxcPath", /absolute/],
    [{ ...base, backingStore: "overlay" }, "from", /lower layer/],
    [{ ...base, from: "nfs:/x" }, "from", /LXC rootfs string/],
    [{ ...base, vgName: "vg0" }, "vgName", /only for backingStore lvm/],
    [{ ...base, backingStore: "zfs", zfsRoot: "/abs" }, "zfsRoot", /valid ZFS name/],
    [{ ...base, colour: "blue" }, "colour", /not a property/],
    [{ lxcPath: "/x" }, "container", /required/],
    [{ ...base, size: true, backingStore: "loop" }, "size", /must be/],
  ])("%j is refused naming %s", (input, property, allowed) => {
    let err: unknown;
    try {
      validateSpec(input as Record<string, unknown>);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInput);
    expect((err as InvalidInput).property).toBe(property);
    expect((err as InvalidInput).message).toMatch(new RegExp(`^${property}: invalid value`));
    expect((err as InvalidInput).message).toMatch(allowed);
  });
});

describe("check names every bad input, not only the first", () => {
  it("a Rootfs with three bad inputs: all three, once each", () => {
    const { failures } = checkResource({ container: "a/b", backingStore: "loop", size: "2 gigs", fstype: "ntfs", lxcPath: "/var/lib/lxc" });
    expect(failures.map((f) => f.property).sort()).toEqual(["container", "fstype", "size"]);
  });

  it("a rule of the store is judged beside the shape of the others", () => {
    const { failures } = checkResource({ container: "web", backingStore: "dir", size: "1G", from: "nfs:/x" });
    expect(failures.map((f) => f.property).sort()).toEqual(["from", "size"]);
    expect(failures.find((f) => f.property === "size")?.reason).toMatch(/dir has no size/);
  });

  it("a bad store leaves the rules that depend on it unjudged: no failure is invented", () => {
    const { failures } = checkResource({ container: "web", backingStore: "nfs", size: "1G" });
    expect(failures.map((f) => f.property)).toEqual(["backingStore"]);
  });

  it("a RootfsSnapshot with a bad name, a bad comment and a bad connection: all three", async () => {
    const olds = { container: "web", lxcPath: "/var/lib/lxc", name: "s1" };
    const core = () => {
      throw new Error("asked");
    };
    const r = await checkSnapshot(olds, { container: "web", name: "../x", comment: "a\0b", connection: { host: "" } }, core);
    expect(r.failures.map((f) => f.property).sort()).toEqual(["comment", expect.stringMatching(/^connection/), "name"]);
  });
});
