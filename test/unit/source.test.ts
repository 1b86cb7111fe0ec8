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
import { findStreamImage, imageAliasOf } from "../../provider/src/model/streams";

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
      "source.sha256: invalid value \"xyz\": 64 hexadecimal digits, the tarball's sha256 (an OCI image's: its manifest's)",
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
  it("never shows a credential of the url, whatever the message", () => {
    const url = "https://user:pw-SECRET@mirror.example/x.tar.xz?sig=tok-SECRET";
    const all = [
      ...inputFailures({ ...base, backingStore: "dir", from: "dir:/x", source: { url } }),
      ...inputFailures({ ...base, backingStore: "overlay", from: "dir:/x", source: { url } }),
      ...inputFailures({ ...base, source: url }),
      ...inputFailures({ ...base, source: { url: "/a.tar", server: url } }),
      ...inputFailures({ ...base, source: { url: "images:debian/12", server: "ftp://user:pw-SECRET@x/" } }),
      ...inputFailures({ ...base, source: { url: "https://user:pw-SECRET@exa mple.com/x?sig=tok-SECRET" } }),
      ...inputFailures({ ...base, source: { url: `${url}\n` } }),
    ].map((e) => e.message);
    expect(all).toHaveLength(7);
    for (const m of all) expect(m).not.toMatch(/SECRET|user:/);
    expect(all[0]).toContain('source: invalid value "https://mirror.example/x.tar.xz": either source or from');
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

describe("an image server's index", () => {
  const item = (sha: string) => ({ items: { "root.tar.xz": { path: `images/x/${sha[0]}/rootfs.tar.xz`, sha256: sha, size: 7 } } });
  const products = {
    products: {
      "debian:bookworm:amd64:default": {
        arch: "amd64",
        aliases: "debian/bookworm/default,debian/bookworm,debian/12",
        versions: { "20260101_00:00": item(A), "20260102_00:00": item(B) },
      },
      "debian:bookworm:arm64:default": { arch: "arm64", aliases: "debian/bookworm,debian/12", versions: { "20260101_00:00": item(A) } },
      "alpine:3.20:amd64:cloud": { arch: "amd64", versions: { "20260101_00:00": { items: { "root.tar.xz": { path: "p" } } } } },
    },
  };
  it("finds the newest root.tar.xz of the alias for the architecture, by key or by one of its aliases", () => {
    expect(findStreamImage(products, imageAliasOf("images:debian/bookworm")!, "amd64")).toEqual({
      version: "20260102_00:00",
      path: "images/x/b/rootfs.tar.xz",
      sha256: B,
      size: 7,
    });
    expect(findStreamImage(products, imageAliasOf("images:debian/12")!, "arm64").sha256).toBe(A);
  });
  it("refuses an alias it does not list, and a product without a sha256, naming what there is", () => {
    expect(() => findStreamImage(products, imageAliasOf("images:ubuntu/noble")!, "amd64")).toThrow(
      /images:ubuntu\/noble\/default.*it lists debian:bookworm:amd64:default, alpine:3\.20:amd64:cloud/,
    );
    expect(() => findStreamImage(products, imageAliasOf("images:alpine/3.20/cloud")!, "amd64")).toThrow(/without one/);
    expect(() => imageAliasOf("images:debian")).toThrow(/images:<dist>\/<release>/);
    expect(imageAliasOf("/srv/x.tar")).toBeNull();
  });
});
