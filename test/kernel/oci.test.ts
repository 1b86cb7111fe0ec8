/**
 * `source` from an OCI image, on the real kernel through the core's API: skopeo copies the fixture's
 * layout (two layers, a whiteout, an opaque directory, a config) into the host's image cache, umoci
 * unpacks it as root. What is asserted: the unpacked tree's manifest against busybox.tar.gz's (layer 1),
 * what layer 2 removes and adds, the config lines recorded, what LXC runs with them, and that a wrong
 * digest or tag leaves nothing.
 */
import { createHash } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import { editFileInTree, readSmallFileInTree } from "../../provider/src/host/paths";
import { cachedOci } from "../../provider/src/host/oci";
import { createRootfs as create, destroyRootfs as destroy, planRootfsCreate as planCreate } from "../../provider/src/api";
import { expectNoLeaks } from "../helpers/leaks";
import { imageFixtures, OCI_FIXTURE_CONFIG, ociLayoutOfTree, ociManifestHex, treeManifest } from "../helpers/images";
import { cliOk, mountScratchBtrfs, must, setEnv, sh, startCli, tempDir, waitForFile, withImageMounted } from "../helpers/env";

const f = imageFixtures();
let lxcPath: string;
let bpath: string;
let btrfs: { dir: string; release(): Promise<void> };
let cache: string;
let work: string;
let manifestHex: string;
let restoreEnv: () => void;

/** The tree as oci.expect and busybox.manifest see it: every line but layer 2's paths, holes not told (umoci writes a sparse file's zeros). */
const outsideLayer2 = (m: string) =>
  m
    .split("\n")
    .filter((l) => !/^\/srv\/layers\/replace\/|^\/srv\/layers\/remove-me /.test(l))
    .map((l) => l.replace(/ hole=yes/, ""));

async function expectImageTree(root: string): Promise<void> {
  expect(outsideLayer2(await treeManifest(root))).toEqual(outsideLayer2(await fs.readFile(f.busybox.manifest, "utf8")));
  for (const line of (await fs.readFile(f.oci.expect, "utf8")).split("\n").filter((l) => /^(present|absent) /.test(l))) {
    const [what, p] = line.split(" ");
    if (what === "present") await expect(fs.lstat(path.join(root, p))).resolves.toBeTruthy();
    else await expect(fs.lstat(path.join(root, p))).rejects.toMatchObject({ code: "ENOENT" });
  }
  await expect(fs.lstat(path.join(root, ".lxc-rootfs-oci-unpack"))).rejects.toMatchObject({ code: "ENOENT" });
}

/** The message a source is refused with, by the preview and the create alike, and that nothing was made. */
async function refused(name: string, source: Record<string, string>): Promise<string> {
  const s = { container: name, lxcPath, backingStore: "dir" as const, source };
  const previewed = await planCreate(s, {}).then(
    () => "",
    (e: Error) => e.message,
  );
  const created = await create(s, {}).then(
    () => "",
    (e: Error) => e.message,
  );
  expect(created).toBe(previewed);
  await expect(fs.lstat(path.join(lxcPath, name))).rejects.toMatchObject({ code: "ENOENT" });
  return created;
}

beforeAll(async () => {
  lxcPath = await tempDir("oci");
  work = await tempDir("oci-work");
  cache = await tempDir("oci-cache");
  // The core runs in this process: its image cache comes from this environment.
  restoreEnv = setEnv({ LXC_ROOTFS_IMAGE_CACHE: cache });
  btrfs = await mountScratchBtrfs("oci-btrfs", "1G");
  bpath = path.join(btrfs.dir, "lxc");
  await fs.mkdir(bpath);
  manifestHex = ociManifestHex(f.oci.layout);
});

afterEach(async () => {
  await expectNoLeaks(lxcPath);
  await expectNoLeaks(bpath);
});

afterAll(async () => {
  restoreEnv?.();
  await btrfs?.release();
  for (const d of [lxcPath, work, cache]) await fs.rm(d, { recursive: true, force: true });
});

describe("a rootfs from an OCI image layout", () => {
  it.each([
    ["dir", {}],
    ["loop", { backingStore: "loop" as const, size: 128 * 2 ** 20, fstype: "ext4" as const }],
    ["btrfs", { backingStore: "btrfs" as const }],
  ])("is unpacked by its layers into %s, records the config it asks for, and LXC runs its command with it", async (store, over) => {
    const where = store === "btrfs" ? bpath : lxcPath;
    const name = `oci-${store}`;
    const s = { container: name, lxcPath: where, backingStore: "dir" as const, source: { url: `oci:${f.oci.image}` }, ...over };
    // The container's config as a user of an application container writes it (the busybox tree has no /lib to bind).
    await fs.mkdir(path.join(where, name));
    await fs.writeFile(
      path.join(where, name, "config"),
      `lxc.uts.name = ${name}\nlxc.net.0.type = none\nlxc.autodev = 1\nlxc.mount.auto = proc:mixed sys:ro cgroup:mixed\n`,
    );
    const planned = await planCreate(s, {});
    // The first preview has the image to copy (its layers' bytes); once it is cached, its tree is counted.
    const bytes = store === "dir" ? "fetched at up: 2 MiB, then counted" : "a tar stream of \\d+ MiB";
    expect(planned!.summary).toMatch(new RegExp(`, unpacked from the image oci:oci:latest \\(sha256:${manifestHex}, ${bytes}\\)$`));
    const made = await create(s, {});
    expect(made).toMatchObject({ method: "unpack", sourceDigest: `sha256:${manifestHex}`, sourceConfig: OCI_FIXTURE_CONFIG });
    const dir = path.join(where, name);
    if (store === "loop") await withImageMounted(path.join(dir, "rootdev"), where, expectImageTree);
    else await expectImageTree(path.join(dir, "rootfs"));
    // The lines go where the user puts them: here, the container's config. lxc-execute with no command runs lxc.execute.cmd.
    await fs.appendFile(path.join(dir, "config"), `${made.sourceConfig!.join("\n")}\n`);
    const r = await sh(["timeout", "120", "lxc-execute", "-P", where, "-n", name]);
    expect(r.stdout).toMatch(/^uid=1234 gid=5678[^\n]*\n\/srv\n$/);
    await destroy({ container: name, lxcPath: where }, {});
  });
});

describe("the image cache", () => {
  it("takes no digest that is not one: an image's index could spell a path out of the cache with it", async () => {
    const victim = path.join(work, "victim");
    await fs.mkdir(victim);
    const traversal = `sha256:${path.relative(cache, victim)}`;
    await expect(cachedOci(traversal)).rejects.toThrow(/not a sha256 digest/);
    await expect(fs.lstat(victim)).resolves.toBeTruthy();
    await fs.rmdir(victim);
  });

  it("holds the copy under its manifest's digest: a second rootfs from it needs the source no more", async () => {
    const layout = path.join(work, "layout");
    await must(["cp", "-a", f.oci.layout, layout]);
    const source = { url: `oci:${layout}:latest`, sha256: manifestHex };
    await create({ container: "first", lxcPath, backingStore: "dir", source }, {});
    await fs.rm(layout, { recursive: true });
    const second = await create({ container: "second", lxcPath, backingStore: "dir", source }, {});
    expect(second.sourceDigest).toBe(`sha256:${manifestHex}`);
    expect(await fs.readFile(path.join(lxcPath, "second", "rootfs", "srv", "layers", "replace", "new"), "utf8")).toBe(
      "added by the second layer\n",
    );
    expect((await fs.readdir(cache)).filter((n) => !n.startsWith("."))).toEqual([`oci-${manifestHex}`]);
    for (const c of ["first", "second"]) await destroy({ container: c, lxcPath }, {});
  });

  it("of a multi-platform image is the manifest of this host's platform, at preview and at create", async () => {
    // The fixture's manifest for this host's architecture, listed after another image's for another one.
    const layout = path.join(work, "multi");
    await must(["cp", "-a", f.oci.layout, layout]);
    await must(["umoci", "new", "--image", `${layout}:other`]);
    const blob = (digest: string) => path.join(layout, "blobs", "sha256", digest.slice("sha256:".length));
    const index = JSON.parse(await fs.readFile(path.join(layout, "index.json"), "utf8")) as {
      manifests: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
    };
    const tagged = (tag: string) => index.manifests.find((m) => m.annotations["org.opencontainers.image.ref.name"] === tag)!;
    const [mine, other] = process.arch === "arm64" ? ["arm64", "amd64"] : ["amd64", "arm64"];
    const platformIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { ...tagged("other"), annotations: undefined, platform: { os: "linux", architecture: other } },
          { ...tagged("latest"), annotations: undefined, platform: { os: "linux", architecture: mine } },
        ],
      }),
    );
    const indexHex = createHash("sha256").update(platformIndex).digest("hex");
    await fs.writeFile(blob(`sha256:${indexHex}`), platformIndex);
    index.manifests.push({
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: `sha256:${indexHex}`,
      size: platformIndex.length,
      annotations: { "org.opencontainers.image.ref.name": "multi" },
    });
    await fs.writeFile(path.join(layout, "index.json"), JSON.stringify(index));
    const s = { container: "multi", lxcPath, backingStore: "dir" as const, source: { url: `oci:${layout}:multi` } };
    expect((await planCreate(s, {}))!.summary).toContain(`(sha256:${manifestHex}, `);
    expect((await create(s, {})).sourceDigest).toBe(`sha256:${manifestHex}`);
    await destroy({ container: "multi", lxcPath }, {});
    // The index's own digest pins nothing: the refusal names the manifest's, and the index's.
    expect(await refused("multipin", { url: `oci:${layout}:multi`, sha256: indexHex })).toBe(
      `source.sha256: invalid value "${indexHex}": the sha256 of the manifest oci:${layout}:multi names, which is sha256:${manifestHex} (its index's is sha256:${indexHex}: give the manifest's)`,
    );
    await fs.rm(layout, { recursive: true });
  });

  it("an oci-archive of the same image is the same digest", async () => {
    const archive = path.join(work, "image.tar");
    await must(["skopeo", "copy", "--quiet", `oci:${f.oci.layout}:latest`, `oci-archive:${archive}:latest`]);
    const made = await create(
      { container: "archived", lxcPath, backingStore: "dir", source: { url: `oci-archive:${archive}:latest` } },
      {},
    );
    expect(made.sourceDigest).toBe(`sha256:${manifestHex}`);
    await destroy({ container: "archived", lxcPath }, {});
  });
});

describe("a killed create", () => {
  it("SIGKILL of the CLI held before umoci leaves no rootfs and no staging directory, and the re-run converges", async () => {
    const hold = path.join(work, "held-oci");
    const b = ["--lxcpath", lxcPath, "--name", "killed"];
    const args = ["create", ...b, "--backing-store", "loop", "--size", "64M", "--source", `oci:${f.oci.image}`];
    const run = startCli(args, { LXC_ROOTFS_HOLDPOINT: "fill:formatted", LXC_ROOTFS_HOLD_FILE: hold });
    await waitForFile(hold);
    run.child.kill("SIGKILL");
    expect((await run.done).signal).toBe("SIGKILL");
    await fs.rm(hold);
    await expectNoLeaks(lxcPath, { settle: true });
    expect(await fs.readFile(path.join(lxcPath, "killed", "config"), "utf8").catch(() => "")).not.toMatch(/lxc\.rootfs\.path/);
    const out = await cliOk(args);
    expect(out).toMatchObject({ sourceDigest: `sha256:${manifestHex}`, sourceConfig: OCI_FIXTURE_CONFIG });
    expect((await fs.readdir(path.join(lxcPath, "killed"))).sort()).toEqual(["config", "rootdev", "rootfs"]);
    await withImageMounted(path.join(lxcPath, "killed", "rootdev"), lxcPath, expectImageTree);
    await cliOk(["destroy", ...b]);
  });
});

describe("refused before anything is made, by the preview as by the create", () => {
  it("a sha256 that is not the manifest's names the manifest's", async () => {
    const wrong = "0".repeat(64);
    expect(await refused("wrong", { url: `oci:${f.oci.image}`, sha256: wrong })).toBe(
      `source.sha256: invalid value ${JSON.stringify(wrong)}: the sha256 of the manifest oci:${f.oci.image} names, which is sha256:${manifestHex}`,
    );
  });

  it("a host without skopeo, or without umoci, is told the package to install", async () => {
    const bin = path.join(work, "bin");
    await fs.mkdir(bin);
    const restore = setEnv({ PATH: bin });
    try {
      expect(await refused("noskopeo", { url: `oci:${f.oci.image}` })).toBe(
        "an OCI image is read with skopeo and unpacked with umoci, and skopeo is not installed on the host: install skopeo",
      );
      await fs.symlink(await fs.realpath("/usr/bin/skopeo"), path.join(bin, "skopeo"));
      expect(await refused("noumoci", { url: `oci:${f.oci.image}` })).toMatch(/umoci is not installed on the host: install umoci$/);
    } finally {
      restore();
      await fs.rm(bin, { recursive: true });
    }
  });

  it("a tag the layout lacks, and a relative path", async () => {
    expect(await refused("notag", { url: `oci:${f.oci.layout}:nope` })).toMatch(
      /^source\.url: invalid value "oci:.*:nope": an OCI image skopeo can read; it says: .*nope/,
    );
    expect(await refused("relative", { url: "oci:layout:latest" })).toMatch(/^source\.url: invalid value "oci:layout:latest": .*absolute/);
  });
});

describe("an image's user", () => {
  it("that its /etc/passwd does not list is refused at create, with nothing left: LXC's template would run the image as root", async () => {
    const tree = path.join(work, "ghost-tree");
    const layer = path.join(work, "ghost.tar");
    const layout = path.join(work, "ghost-oci");
    await fs.mkdir(path.join(tree, "etc"), { recursive: true });
    await fs.writeFile(path.join(tree, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n");
    const url = await ociLayoutOfTree(tree, layer, layout);
    await must(["umoci", "config", "--image", `${layout}:latest`, "--config.user", "ghost"]);
    const s = { container: "ghost", lxcPath, backingStore: "dir" as const, source: { url } };
    await expect(create(s, {})).rejects.toThrow(
      /the image's config runs its command as the user "ghost", which the image's \/etc\/passwd does not list/,
    );
    await expect(fs.lstat(path.join(lxcPath, "ghost"))).rejects.toMatchObject({ code: "ENOENT" });
    for (const d of [tree, layer, layout]) await fs.rm(d, { recursive: true, force: true });
  });
});

describe("files read and written inside an unpacked image", () => {
  it("an OCI image's user is read from the image's own /etc, never through a symlink out of it", async () => {
    const tree = path.join(work, "tree");
    await fs.mkdir(path.join(tree, "etc"), { recursive: true });
    await fs.writeFile(path.join(tree, "etc", "passwd"), "app:x:4321:8765::/:/bin/sh\n");
    expect(await readSmallFileInTree(tree, "etc/passwd")).toBe("app:x:4321:8765::/:/bin/sh\n");
    // An image whose /etc, or whose passwd, points at the host's reads as having none.
    await fs.rm(path.join(tree, "etc"), { recursive: true });
    await fs.symlink("/etc", path.join(tree, "etc"));
    expect(await readSmallFileInTree(tree, "etc/passwd")).toBeNull();
    await fs.rm(path.join(tree, "etc"));
    await fs.mkdir(path.join(tree, "etc"));
    await fs.symlink("/etc/passwd", path.join(tree, "etc", "passwd"));
    expect(await readSmallFileInTree(tree, "etc/passwd")).toBeNull();
    expect(await readSmallFileInTree(tree, "etc/group")).toBeNull();
    await fs.rm(tree, { recursive: true });
  });

  it("an LXC image's templates are filled in in place in regular files, and never through a symlink or in a FIFO", async () => {
    const tree = path.join(work, "templated");
    const victim = path.join(work, "outside-hostname");
    await fs.mkdir(path.join(tree, "etc"), { recursive: true });
    await fs.writeFile(victim, "LXC_NAME\n");
    await fs.writeFile(path.join(tree, "etc", "hostname"), "LXC_NAME\n", { mode: 0o640 });
    await fs.chown(path.join(tree, "etc", "hostname"), 1234, 5678);
    await fs.link(path.join(tree, "etc", "hostname"), path.join(tree, "etc", "hostname.link"));
    await fs.symlink(victim, path.join(tree, "etc", "hosts"));
    await must(["mkfifo", path.join(tree, "etc", "fifo")]);
    // A device node is never opened (a watchdog's open arms it): /dev/null's numbers stand for any.
    await must(["mknod", path.join(tree, "etc", "device"), "c", "1", "3"]);
    const fill = (t: string) => t.replace("LXC_NAME", "web");
    expect(await editFileInTree(tree, "/etc/hostname", fill)).toBe(true);
    expect(await editFileInTree(tree, "/etc/hosts", fill)).toBe(false);
    expect(await editFileInTree(tree, "/etc/fifo", fill)).toBe(false);
    expect(await editFileInTree(tree, "/etc/device", fill)).toBe(false);
    expect(await editFileInTree(tree, "/etc/.", fill)).toBe(false);
    // Bytes that are not UTF-8 stay as they were, as sed keeps them.
    await fs.writeFile(path.join(tree, "etc", "motd"), Buffer.from([0xff, 0x20, ...Buffer.from("LXC_NAME\n")]));
    expect(await editFileInTree(tree, "/etc/motd", fill)).toBe(true);
    expect([...(await fs.readFile(path.join(tree, "etc", "motd")))]).toEqual([0xff, 0x20, ...Buffer.from("web\n")]);
    expect(await editFileInTree(tree, "/etc/missing", fill)).toBe(false);
    const st = await fs.stat(path.join(tree, "etc", "hostname"));
    expect([await fs.readFile(path.join(tree, "etc", "hostname.link"), "utf8"), st.mode & 0o7777, st.uid, st.gid, st.nlink]).toEqual([
      "web\n",
      0o640,
      1234,
      5678,
      2,
    ]);
    expect(await fs.readFile(victim, "utf8")).toBe("LXC_NAME\n");
    await fs.rm(tree, { recursive: true });
  });
});
