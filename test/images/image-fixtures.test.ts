/**
 * The OS-image fixtures (scripts/setup-images.sh) are what the tests of `source` will take them for: each
 * archive unpacks to what its manifest or expectation says, and the manifest really holds every case.
 */
import { createHash } from "crypto";
import { createReadStream, promises as fs } from "fs";
import path from "path";
import { must, tempDir } from "../helpers/env";
import { imageFixtures, ImageFixtures, treeManifest, unpackExact } from "../helpers/images";

let f: ImageFixtures;
let dir: string;

beforeAll(async () => {
  f = imageFixtures();
  dir = await tempDir("image-fixtures");
});

afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** A fresh directory under this file's temporary one. */
async function scratch(name: string): Promise<string> {
  const d = path.join(dir, name);
  await fs.mkdir(d);
  return d;
}

/** The manifest's line for one path. */
function lineOf(manifest: string, p: string): string | undefined {
  return manifest.split("\n").find((l) => l.startsWith(`${p} `));
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (d) => hash.update(d))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

describe("busybox.tar.gz", () => {
  it("unpacks with GNU tar's exact flags to busybox.manifest, which holds every case", async () => {
    const root = await scratch("busybox");
    await unpackExact(f.busybox.tarball, root);
    const manifest = await fs.readFile(f.busybox.manifest, "utf8");
    expect(await treeManifest(root)).toBe(manifest);

    const line = (p: string) => lineOf(manifest, p) ?? `${p}: not in the manifest`;
    expect(line("/usr/bin/setuid-root")).toMatch(/ f 4755 0:0 /);
    expect(line("/srv/acl/file")).toContain(" acl=user::rw-,user:1234:rw-,group::r--,group:5678:r--,mask::rw-,other::r--");
    expect(line("/srv/acl/dir")).toContain(" dacl=user::rwx,user:1234:rwx,group::r-x,group:5678:r-x,mask::rwx,other::r-x");
    expect(line("/srv/xattr")).toContain(" xattr=user.fixture=0x6b657074");
    expect(line("/bin/ping")).toContain(" cap=cap_net_raw=ep");
    expect(line("/dev/null")).toMatch(/ c 0666 0:0 .* rdev=1,3$/);
    expect(line("/dev/fixture")).toMatch(/ c 0600 0:0 .* rdev=240,7$/);
    expect(line("/srv/fifo")).toMatch(/ p 0644 /);
    expect(line("/srv/hardlink-a")).toContain(" link=/srv/hardlink-a");
    expect(line("/srv/hardlink-b")).toContain(" link=/srv/hardlink-a");
    expect(line("/srv/symlink-relative")).toMatch(/ l .* target=\.\.\/etc\/passwd$/);
    expect(line("/srv/symlink-absolute")).toMatch(/ l .* target=\/etc\/passwd$/);
    expect(line("/srv/sparse")).toMatch(/ size=8388608 .* hole=yes$/);
    expect(line("/srv/owned")).toMatch(/ f 0644 1234:5678 /);
    expect(line("/srv/empty")).toMatch(/ d 0755 /);
    expect(manifest).not.toContain("\n/srv/empty/");
    expect(line("/bin/sh")).toMatch(/ l .* target=busybox$/);
    for (const l of manifest.trimEnd().split("\n")) expect(l).toContain(" mtime=1577934245");
  });

  it("loses exactly its ACLs, xattrs and capability when unpacked without --acls --xattrs (the manifest sees them)", async () => {
    const root = await scratch("busybox-plain");
    await must(["tar", "--numeric-owner", "-p", "-C", root, "-xf", f.busybox.tarball]);
    const expected = (await fs.readFile(f.busybox.manifest, "utf8")).split("\n");
    const got = new Set((await treeManifest(root)).split("\n"));
    const lost = expected.filter((l) => !got.has(l)).map((l) => l.split(" ")[0]);
    expect(lost.sort()).toEqual(["/bin/ping", "/srv/acl/dir", "/srv/acl/file", "/srv/xattr"]);
  });
});

describe("debian-12", () => {
  it.each(["xz", "zst"] as const)("debian-12.tar.%s holds usr/bin/ping, which unpacks with cap_net_raw=ep", async (kind) => {
    const archive = f.debian[kind];
    expect((await must(["tar", "-tf", archive])).split("\n")).toContain("./usr/bin/ping");
    const root = await scratch(`debian-${kind}`);
    await unpackExact(archive, root, ["./usr/bin/ping"]);
    expect(await must(["getcap", path.join(root, "usr/bin/ping")])).toMatch(/cap_net_raw=ep/);
    const manifest = await fs.readFile(f.debian.manifest, "utf8");
    expect(lineOf(await treeManifest(root), "/usr/bin/ping")).toBe(lineOf(manifest, "/usr/bin/ping"));
  });

  it("meta.tar.xz holds what LXC's download template reads, and the rootfs its placeholders", async () => {
    const meta = await scratch("meta");
    await must(["tar", "-C", meta, "-xf", f.debian.lxcMeta]);
    const read = (name: string) => fs.readFile(path.join(meta, name), "utf8");
    expect(await read("config")).toMatch(/^lxc\.include = LXC_TEMPLATE_CONFIG\/debian\.common\.conf\nlxc\.arch = \w+\n$/);
    expect(await read("config-user")).toContain("LXC_TEMPLATE_CONFIG/debian.userns.conf");
    expect(await read("templates")).toBe("/etc/hostname\n/etc/hosts\n");
    expect(Number(await read("expiry"))).toBeGreaterThan(Date.now() / 1000 + 365 * 86400);
    expect(await read("create-message")).toContain("Debian bookworm");
    // The devices an unprivileged unpack cannot make: those of the rootfs.
    const manifest = await fs.readFile(f.debian.manifest, "utf8");
    const devices = manifest
      .split("\n")
      .filter((l) => / [cb] \d{4} /.test(l))
      .map((l) => `.${l.split(" ")[0]}`);
    expect((await read("excludes-user")).trimEnd().split("\n")).toEqual(devices);
    expect(devices).toContain("./dev/null");
    expect(await must(["tar", "-xOf", f.debian.zst, "./etc/hostname"])).toBe("LXC_NAME\n");
    expect(await must(["tar", "-xOf", f.debian.zst, "./etc/hosts"])).toContain("127.0.1.1\tLXC_NAME\n");
    const incus = await must(["tar", "-tf", f.debian.incusMeta]);
    expect(incus.split("\n")).toEqual(expect.arrayContaining(["./metadata.yaml", "./templates/hostname.tpl", "./templates/hosts.tpl"]));
  });
});

describe("the image server", () => {
  it("index-system names the image, and the rootfs and metadata beside each other", async () => {
    const arch = (await must(["dpkg", "--print-architecture"])).trim();
    const lines = (await fs.readFile(f.server.indexSystem, "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const [dist, release, a, variant, serial, where] = lines[0].split(";");
    expect([dist, release, a, variant]).toEqual(["debian", "bookworm", arch, "default"]);
    expect(where).toBe(`/images/debian/bookworm/${arch}/default/${serial}/`);
    const at = (name: string) => path.join(f.server.root, where, name);
    expect(await sha256(at("rootfs.tar.xz"))).toBe(await sha256(f.debian.xz));
    expect(await sha256(at("meta.tar.xz"))).toBe(await sha256(f.debian.lxcMeta));
  });

  it("simplestreams lists the product, each item's size and sha256 those of its file", async () => {
    const arch = (await must(["dpkg", "--print-architecture"])).trim();
    const product = `debian:bookworm:${arch}:default`;
    const index = JSON.parse(await fs.readFile(f.server.streamsIndex, "utf8"));
    expect(index).toMatchObject({ format: "index:1.0", index: { images: { path: "streams/v1/images.json", products: [product] } } });
    const images = JSON.parse(await fs.readFile(f.server.streamsImages, "utf8"));
    expect(images).toMatchObject({ format: "products:1.0", datatype: "image-downloads" });
    const versions = Object.entries(images.products[product].versions) as Array<[string, { items: Record<string, Item> }]>;
    expect(versions).toHaveLength(1);
    const [serial, { items }] = versions[0];
    expect(serial).toMatch(/^\d{8}_\d\d:\d\d$/);
    expect(Object.keys(items).sort()).toEqual(["incus.tar.xz", "lxd.tar.xz", "root.tar.xz"]);
    for (const [name, item] of Object.entries(items)) {
      const file = path.join(f.server.root, item.path);
      expect(item.ftype).toBe(name);
      expect(item.size).toBe((await fs.stat(file)).size);
      expect(item.sha256).toBe(await sha256(file));
    }
    // The fingerprint Incus gives the image: sha256 of the metadata, then the rootfs.
    const both = createHash("sha256");
    for (const name of ["incus.tar.xz", "root.tar.xz"]) both.update(await fs.readFile(path.join(f.server.root, items[name].path)));
    expect(items["incus.tar.xz"].combined_rootxz_sha256).toBe(both.digest("hex"));
  });
});

interface Item {
  ftype: string;
  path: string;
  size: number;
  sha256: string;
  combined_rootxz_sha256?: string;
}

describe("the OCI image", () => {
  it("has two layers and the expected config, and unpacks to busybox's tree changed as oci.expect says", async () => {
    const stat = JSON.parse(await must(["umoci", "stat", "--image", f.oci.image, "--json"]));
    expect(stat.history.filter((h: { layer?: unknown }) => h.layer)).toHaveLength(2);
    const blob = async (digest: string) => JSON.parse(await fs.readFile(path.join(f.oci.layout, "blobs", ...digest.split(":")), "utf8"));
    const index = JSON.parse(await fs.readFile(path.join(f.oci.layout, "index.json"), "utf8"));
    const latest = index.manifests.find(
      (m: { annotations?: Record<string, string> }) => m.annotations?.["org.opencontainers.image.ref.name"] === "latest",
    );
    const manifest = await blob(latest.digest);
    expect(manifest.layers).toHaveLength(2);
    const config = await blob(manifest.config.digest);

    const root = path.join(dir, "oci-rootfs");
    await must(["umoci", "raw", "unpack", "--image", f.oci.image, root]);
    const expectations = (await fs.readFile(f.oci.expect, "utf8")).split("\n").filter((l) => l && !l.startsWith("#"));
    expect(expectations.length).toBeGreaterThan(5);
    for (const e of expectations) {
      const [what, ...rest] = e.split(" ");
      const arg = rest.join(" ");
      if (what === "config") expect(config.config).toMatchObject(JSON.parse(arg));
      else if (what === "present") await expect(fs.lstat(path.join(root, arg))).resolves.toBeTruthy();
      else if (what === "absent") await expect(fs.lstat(path.join(root, arg))).rejects.toThrow(/ENOENT/);
      else throw new Error(`oci.expect: ${e}`);
    }
    // Everything else is layer 1's, busybox.tar.gz, kept as exactly, but for the holes: umoci writes a sparse
    // file's zeros.
    const outside = (m: string) =>
      m
        .split("\n")
        .filter((l) => !/^\/srv\/layers\/replace\/|^\/srv\/layers\/remove-me /.test(l))
        .map((l) => l.replace(/ hole=yes/, ""));
    expect(outside(await treeManifest(root))).toEqual(outside(await fs.readFile(f.busybox.manifest, "utf8")));
  });
});
