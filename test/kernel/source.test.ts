/**
 * `source`: a rootfs unpacked from an OS image, on the real kernel through the core's API. What is asserted is what the unpacked tree holds outside the
 * container (owners, modes, ACLs, capabilities, xattrs, devices, FIFOs, hard links, holes), what LXC runs
 * from it, and that a refused or hostile image leaves nothing behind.
 */
import { promises as fs } from "fs";
import path from "path";
import { createRootfs as create, destroyRootfs as destroy, planRootfsCreate as planCreate } from "../../provider/src/api";
import { busyboxSeed, execute, writeBootConfig } from "../helpers/lxc";
import { expectNoLeaks } from "../helpers/leaks";
import { cli, cliOk, mountScratchBtrfs, must, sh, startCli, tempDir, waitForFile, withImageMounted } from "../helpers/env";

let lxcPath: string;
let bpath: string;
let btrfs: { dir: string; release(): Promise<void> };
let outside: string;
let image: string;
let digest: string;

/** What an exact unpack must keep, path by path, as the host's own tools read it. */
async function facts(root: string): Promise<string> {
  const lines: string[] = [];
  for (const rel of ["bin/ping", "bin/passwd", "etc/acl", "etc/fifo", "dev/null", "etc/marker", "etc/marker.hard", "sparse.img"]) {
    const p = path.join(root, rel);
    lines.push(rel + " " + (await must(["stat", "-c", "%F %a %u:%g %s %t,%T %h %Y", p])).trim());
  }
  lines.push((await must(["getcap", path.join(root, "bin/ping")])).replace(root, "").trim());
  lines.push((await must(["getfacl", "-n", "-c", path.join(root, "etc/acl")])).trim());
  lines.push((await must(["getfattr", "-n", "user.origin", "--only-values", path.join(root, "etc/marker")])).trim());
  // The hole stays a hole: 64 MiB apparent, a few KiB allocated.
  lines.push(`sparse allocated below 1 MiB: ${(await fs.stat(path.join(root, "sparse.img"))).blocks * 512 < 2 ** 20}`);
  return lines.join("\n");
}

let expected: string;

beforeAll(async () => {
  lxcPath = await tempDir("source");
  outside = await tempDir("source-outside");
  await fs.writeFile(path.join(outside, "precious"), "must survive");
  btrfs = await mountScratchBtrfs("source-btrfs", "1G");
  bpath = path.join(btrfs.dir, "lxc");
  await fs.mkdir(bpath);
  // The image: LXC's busybox rootfs, with every case an exact unpack must keep added to it.
  await busyboxSeed(lxcPath, "seed");
  const tree = path.join(lxcPath, "seed", "rootfs");
  // The template's applets are hard links to busybox: these two become files of their own.
  await must(["cp", "-a", "--remove-destination", path.join(tree, "bin", "busybox"), path.join(tree, "bin", "ping")]);
  await must(["setcap", "cap_net_raw+ep", path.join(tree, "bin", "ping")]);
  await must(["cp", "-a", "--remove-destination", path.join(tree, "bin", "busybox"), path.join(tree, "bin", "passwd")]);
  await fs.chmod(path.join(tree, "bin", "passwd"), 0o4755);
  await fs.writeFile(path.join(tree, "etc", "acl"), "acl\n");
  await must(["setfacl", "-m", "u:1234:rw,g:5678:r", path.join(tree, "etc", "acl")]);
  await must(["mkfifo", path.join(tree, "etc", "fifo")]);
  await fs.writeFile(path.join(tree, "etc", "marker"), "unpacked\n");
  await fs.link(path.join(tree, "etc", "marker"), path.join(tree, "etc", "marker.hard"));
  await must(["setfattr", "-n", "user.origin", "-v", "image", path.join(tree, "etc", "marker")]);
  await fs.chown(path.join(tree, "etc", "marker"), 1234, 5678);
  await sh(["rm", "-f", path.join(tree, "dev", "null")]);
  await must(["mknod", "-m", "666", path.join(tree, "dev", "null"), "c", "1", "3"]);
  await must(["truncate", "-s", "64M", path.join(tree, "sparse.img")]);
  await must(["touch", "-d", "2001-02-03 04:05:06", path.join(tree, "etc", "marker")]);
  image = path.join(outside, "busybox.tar.gz");
  await must([
    "tar",
    "--create",
    "--gzip",
    "--file",
    image,
    "--numeric-owner",
    "--acls",
    "--xattrs",
    "--xattrs-include=*",
    "--sparse",
    "-C",
    tree,
    ".",
  ]);
  digest = (await must(["sha256sum", image])).split(" ")[0];
  expected = await facts(tree);
});

afterEach(async () => {
  await expectNoLeaks(lxcPath);
  await expectNoLeaks(bpath);
  expect(await fs.readFile(path.join(outside, "precious"), "utf8")).toBe("must survive");
});

afterAll(async () => {
  await sh(["lxc-destroy", "-P", lxcPath, "-n", "seed"]);
  await btrfs?.release();
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const spec = (over: Record<string, unknown> & { container: string }) => ({
  lxcPath,
  backingStore: "dir",
  source: { url: image, sha256: digest },
  ...over,
});

describe("a rootfs from a tarball", () => {
  it.each([
    ["dir", {}],
    ["loop", { backingStore: "loop" as const, size: 256 * 2 ** 20, fstype: "ext4" as const }],
    ["btrfs", { backingStore: "btrfs" as const }],
  ])("unpacks exactly into %s, and LXC runs it", async (store, over) => {
    const where = store === "btrfs" ? bpath : lxcPath;
    const s = spec({ container: `img-${store}`, lxcPath: where, ...over });
    // The container's config as a user would write it; the create adds lxc.rootfs.path.
    await writeBootConfig(path.join(lxcPath, "seed"), where, `img-${store}`);
    const planned = await planCreate(s, {});
    expect(planned!.summary).toMatch(
      new RegExp(`, unpacked from the image busybox\\.tar\\.gz \\(sha256:${digest}, a tar stream of \\d+ MiB\\)$`),
    );
    const made = await create(s, {});
    expect(made.method).toBe("unpack");
    const dir = path.join(where, `img-${store}`);
    const got = store === "loop" ? await withImageMounted(path.join(dir, "rootdev"), where, facts) : await facts(path.join(dir, "rootfs"));
    expect(got).toBe(expected);
    expect(await execute(where, `img-${store}`, "cat /etc/marker; /bin/busybox id -u")).toBe("unpacked\n0\n");
    await destroy({ container: `img-${store}`, lxcPath: where }, {});
  });
});

describe("a tarball with no sha256 given", () => {
  it("is hashed by the preview for its plan line, and by the create as it unpacks it: the create records that digest", async () => {
    const s = spec({ container: "unpinned", source: { url: image } });
    expect((await planCreate(s, {}))!.summary).toContain(`unpacked from the image busybox.tar.gz (sha256:${digest}, `);
    expect(await create(s, {})).toMatchObject({ method: "unpack", sourceDigest: `sha256:${digest}` });
    expect(await fs.readFile(path.join(lxcPath, "unpinned", "rootfs", "etc", "marker"), "utf8")).toBe("unpacked\n");
    await destroy({ container: "unpinned", lxcPath }, {});
  });
});

/** The container directory is as it was before a refused create: absent. */
async function nothingMade(name: string): Promise<void> {
  await expect(fs.lstat(path.join(lxcPath, name))).rejects.toMatchObject({ code: "ENOENT" });
}

describe("refused before anything is made, by the preview as by the create", () => {
  it.each([
    [
      "a wrong sha256",
      () => ({ url: image, sha256: "0".repeat(64) }),
      /source\.sha256: invalid value "0{64}": the tarball's sha256, and .* has sha256:[0-9a-f]{64}/,
    ],
    ["a malformed sha256", () => ({ url: image, sha256: "abc" }), /source\.sha256: invalid value "abc": 64 hexadecimal digits/],
    ["no such file", () => ({ url: path.join(outside, "none.tar") }), /source\.url: .* opening it failed: ENOENT/],
    [
      "a relative path",
      () => ({ url: "busybox.tar.gz" }),
      /source\.url: invalid value "busybox\.tar\.gz": the absolute path of a rootfs tarball/,
    ],
    [
      "a scheme this build does not fetch",
      () => ({ url: "ftp://user:pw@example.org/x.tar" }),
      /source\.url: invalid value .*: the absolute path/,
    ],
    [
      "a file that is no tarball",
      () => ({ url: path.join(outside, "precious") }),
      /source\.url: .*: a rootfs tarball \(tar, or tar compressed/,
    ],
    ["a directory", () => ({ url: outside }), /source\.url: .*this is not a regular file/],
  ])("%s", async (_what, source, message) => {
    const s = spec({ container: "refused", source: source() });
    await expect(planCreate(s, {})).rejects.toThrow(message);
    await expect(create(s, {})).rejects.toThrow(message);
    await nothingMade("refused");
  });

  it("source with from, and source on overlay", async () => {
    await expect(create(spec({ container: "refused", from: `dir:${outside}` }), {})).rejects.toThrow(
      /source: .*either source or from, not both/,
    );
    await expect(create(spec({ container: "refused", backingStore: "overlay" }), {})).rejects.toThrow(/source: .*none for overlay/);
    await nothingMade("refused");
  });

  it("a tree larger than a loop image's filesystem", async () => {
    // The tar stream holds about 6 MiB (the sparse file's hole is not in it).
    const s = spec({ container: "refused", backingStore: "loop", size: 4 * 2 ** 20, fstype: "ext2" });
    await expect(planCreate(s, {})).rejects.toThrow(/no space on the new loop rootfs: needs 6\.\d MiB .*, 4\.0 MiB .* available/);
    await expect(create(s, {})).rejects.toThrow(/no space on the new loop rootfs/);
    await nothingMade("refused");
  });
});

describe("what is unpacked is what was checked", () => {
  it("a tarball rewritten between the check and the unpack fails the create, and nothing is left", async () => {
    const copy = path.join(outside, "swapped.tar.gz");
    await fs.copyFile(image, copy);
    const hold = path.join(outside, "held");
    Object.assign(process.env, { LXC_ROOTFS_HOLDPOINT: "fill:formatted", LXC_ROOTFS_HOLD_FILE: hold });
    try {
      const creating = create(spec({ container: "swapped", source: { url: copy, sha256: digest } }), {}).then(
        () => null,
        (e: Error) => e,
      );
      await waitForFile(hold);
      // Written in place, as another process could: the path and the inode stay, the bytes change.
      const other = await fs.open(copy, "r+");
      await other.write(Buffer.from("tampered"), 0, 8, 1000);
      await other.close();
      await fs.rm(hold);
      const error = await creating;
      expect(error?.message).toMatch(
        /swapped\.tar\.gz changed after it was checked: it was sha256:[0-9a-f]{64}, and the bytes unpacked were sha256:[0-9a-f]{64}\. Nothing was changed\./,
      );
    } finally {
      delete process.env.LXC_ROOTFS_HOLDPOINT;
      delete process.env.LXC_ROOTFS_HOLD_FILE;
    }
    await nothingMade("swapped");
    await fs.rm(copy);
  });
});

describe("the CLI", () => {
  const b = (name: string) => ["--lxcpath", lxcPath, "--name", name];

  it("--source and --sha256 make a rootfs from an image and print its digest; a bad sha256 is named by its flag", async () => {
    const out = await cliOk(["create", ...b("cli"), "--backing-store", "dir", "--source", image, "--sha256", digest]);
    expect(out).toMatchObject({ method: "unpack", sourceDigest: `sha256:${digest}` });
    await cliOk(["destroy", ...b("cli")]);
    const bad = await cli(["create-plan", ...b("cli"), "--backing-store", "dir", "--source", image, "--sha256", "xyz"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('lxc-rootfs: --sha256: invalid value "xyz": 64 hexadecimal digits');
    await nothingMade("cli");
  });

  it("SIGKILL of a create held before its unpack leaves no rootfs, and the re-run converges", async () => {
    const hold = path.join(outside, "held-cli");
    const args = ["create", ...b("killed"), "--backing-store", "loop", "--size", "64M", "--source", image];
    const run = startCli(args, { LXC_ROOTFS_HOLDPOINT: "fill:formatted", LXC_ROOTFS_HOLD_FILE: hold });
    await waitForFile(hold);
    run.child.kill("SIGKILL");
    expect((await run.done).signal).toBe("SIGKILL");
    await fs.rm(hold);
    await expectNoLeaks(lxcPath, { settle: true });
    const config = await fs.readFile(path.join(lxcPath, "killed", "config"), "utf8").catch(() => "");
    expect(config).not.toMatch(/lxc\.rootfs\.path/);
    const out = await cliOk(args);
    expect(out.sourceDigest).toBe(`sha256:${digest}`);
    expect((await fs.readdir(path.join(lxcPath, "killed"))).sort()).toEqual(["config", "rootdev", "rootfs"]);
    expect(await withImageMounted(path.join(lxcPath, "killed", "rootdev"), lxcPath, facts)).toBe(expected);
    await cliOk(["destroy", ...b("killed")]);
  });
});

/**
 * Archives that try to write outside the rootfs, made with Python's tarfile (GNU tar will not make them).
 * Each create either fails or keeps every member inside; the outside is unchanged either way.
 */
const HOSTILE: Record<string, string> = {
  "a member named with ..": `add_file("../escaped", b"x")`,
  "an absolute member name": `add_file(OUT + "/escaped", b"x")`,
  "a member through a symlink to an absolute path": `add_link("l", OUT); add_file("l/escaped", b"x")`,
  "a member through a climbing symlink": `add_link("l", "../../../../../../../../.." + OUT); add_file("l/escaped", b"x")`,
  "a member through nested symlinks": `add_link("a", "b"); add_link("b", OUT); add_file("a/escaped", b"x")`,
  "a file written over a symlink to outside": `add_link("f", OUT + "/precious"); add_file("f", b"overwritten")`,
  "a hard link to a path outside": `add_hard("h", OUT + "/precious"); add_file("h", b"overwritten")`,
  "a hard link through a symlink": `add_link("l", OUT); add_hard("h", "l/precious"); add_file("h", b"overwritten")`,
};

async function hostileTarball(name: string, body: string): Promise<string> {
  const file = path.join(lxcPath, `${name.replace(/\W+/g, "-")}.tar`);
  const script = `
import io, sys, tarfile
OUT = sys.argv[2]
t = tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT)
def add_file(n, data):
    i = tarfile.TarInfo(n); i.size = len(data); t.addfile(i, io.BytesIO(data))
def add_link(n, target):
    i = tarfile.TarInfo(n); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
def add_hard(n, target):
    i = tarfile.TarInfo(n); i.type = tarfile.LNKTYPE; i.linkname = target; t.addfile(i)
add_file("etc/marker", b"inside")
${body}
t.close()
`;
  await must(["python3", "-c", script, file, outside]);
  return file;
}

describe("hostile archives write nothing outside the rootfs", () => {
  it.each(Object.entries(HOSTILE))("%s", async (name, body) => {
    const before = (await must(["find", outside, "-printf", "%p %y %s %m %U %G %T@ %C@\\n"])).split("\n").sort();
    const tarball = await hostileTarball(name, body);
    const s = spec({ container: "hostile", source: { url: tarball } });
    const made = await create(s, {}).then(
      () => true,
      () => false,
    );
    expect((await must(["find", outside, "-printf", "%p %y %s %m %U %G %T@ %C@\\n"])).split("\n").sort()).toEqual(before);
    expect(await fs.readFile(path.join(outside, "precious"), "utf8")).toBe("must survive");
    if (made) {
      // Whatever was kept is inside: no symlink in the rootfs resolves a written file outside it.
      const rootfs = path.join(lxcPath, "hostile", "rootfs");
      expect(await fs.readFile(path.join(rootfs, "etc", "marker"), "utf8")).toBe("inside");
      await destroy({ container: "hostile", lxcPath }, {});
    } else {
      await nothingMade("hostile");
    }
    await fs.rm(tarball);
  });
});
