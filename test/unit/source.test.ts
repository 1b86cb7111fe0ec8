/**
 * `source` without a host: its shape and rules at the API's edge, how the planner counts an unpack, the
 * plan line, and what a change of image does in the diff (a new digest replaces in place; a new url with
 * the same digest only records it).
 */
import { inputFailures, validateSpec } from "../../provider/src/api/validate";
import { diffRecorded } from "../../provider/src/adapters/pulumi/resource";
import { NoSpace } from "../../provider/src/model/errors";
import { imageSourceOf } from "../../provider/src/model/images";
import { describeCreate, planUnpack } from "../../provider/src/planner/plan";

const M = 2 ** 20;
const A = "a".repeat(64);
const B = "b".repeat(64);
const base = { container: "web", lxcPath: "/var/lib/lxc", backingStore: "loop" };

describe("source at the API's edge", () => {
  it("takes a url and a sha256, lowercased", () => {
    expect(validateSpec({ ...base, source: { url: "/images/a.tar.xz", sha256: A.toUpperCase() } }).source).toEqual({
      url: "/images/a.tar.xz",
      sha256: A,
    });
  });
  it("names the property of the object that fails, with its value", () => {
    const messages = (raw: Record<string, unknown>) => inputFailures(raw).map((e) => e.message);
    expect(messages({ ...base, source: { url: "/a.tar", sha256: "xyz" } })).toEqual([
      'source.sha256: invalid value "xyz": 64 hexadecimal digits, the tarball\'s sha256',
    ]);
    expect(messages({ ...base, source: { sha256: A } })).toEqual(["source.url: invalid value undefined: required"]);
    expect(messages({ ...base, source: { url: "/a.tar", tag: "x" } })[0]).toMatch(/^source\.tag: .*not a property of source/);
    expect(messages({ ...base, source: { url: "/a.tar\n-o /etc/x" } })[0]).toMatch(/source\.url: .*without control characters/);
  });
  it("is not taken with from, nor for overlay, whose from is its lower layer", () => {
    expect(() => validateSpec({ ...base, backingStore: "dir", from: "dir:/x", source: { url: "/a.tar" } })).toThrow(
      /source: .*either source or from/,
    );
    expect(() => validateSpec({ ...base, backingStore: "overlay", source: { url: "/a.tar" } })).toThrow(/source: .*none for overlay/);
  });
  it("imageSourceOf keeps no sha256 that was not given", () => {
    expect(imageSourceOf({ url: "/a.tar" })).toEqual({ url: "/a.tar" });
  });
});

describe("the plan of an unpack", () => {
  const image = { name: "debian.tar.xz", digest: `sha256:${A}`, streamBytes: 320 * M };
  it("counts the tree as the stream and 1/32 more, which must fit the store", () => {
    const plan = planUnpack(image, { store: "loop", size: 1024 * M, fstype: "ext4" });
    expect(plan).toMatchObject({ strategy: "unpack", bytesToMove: 330 * M });
    expect(() => planUnpack(image, { store: "loop", size: 320 * M, fstype: "ext4" })).toThrow(NoSpace);
  });
  it("names the image by its file name and digest in the plan line, never its url", () => {
    const target = { store: "loop" as const, size: 1024 * M, fstype: "ext4" as const };
    expect(describeCreate(target, "loop:/var/lib/lxc/web/rootdev", planUnpack(image, target))).toBe(
      `create loop ext4 1.0 GiB at loop:/var/lib/lxc/web/rootdev, unpacked from the image debian.tar.xz (sha256:${A}, a tar stream of 320 MiB)`,
    );
  });
});

describe("a change of source in the diff", () => {
  const olds = {
    ...base,
    source: { url: "/images/a.tar", sha256: A },
    sourceDigest: `sha256:${A}`,
    rootfsPath: "loop:/var/lib/lxc/web/rootdev",
    sizeBytes: 1024 * M,
    fstype: "ext4",
    usedBytes: 10 * M,
    allocatedBytes: 10 * M,
    managed: true,
  };
  it("a new sha256 replaces the rootfs in place, deleting it first", () => {
    const d = diffRecorded(olds, { ...base, source: { url: "/images/b.tar", sha256: B } });
    expect(d).toMatchObject({ changes: true, replaces: ["source"], deleteBeforeReplace: true });
    expect(d.summary).toContain(`replace: source sha256:${A} → sha256:${B}`);
  });
  it("a new url with the same sha256, or without one, changes nothing on the host", () => {
    expect(diffRecorded(olds, { ...base, source: { url: "/mirror/a.tar", sha256: A.toUpperCase() } })).toMatchObject({
      changes: false,
      replaces: [],
    });
    expect(diffRecorded(olds, { ...base, source: { url: "/mirror/a.tar" } })).toMatchObject({ changes: false, replaces: [] });
  });
});
