/**
 * One identity per container (issue 23): an lxcPath that is a symlink works through it and through its
 * target, one lock serves every spelling, the running check finds a container however its lxcPath was
 * spelled when it started, a bind mount of the rootfs or an overlay over it is "in use", and a bad lxcPath
 * is refused naming --lxcpath, in one line.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, must, sh, symlinkedLxcPath, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";

let base: string;
let real: string;
let link: string;

beforeAll(async () => {
  base = await tempDir("paths");
  ({ real, link } = await symlinkedLxcPath(base));
});
afterEach(() => expectNoLeaks(base));
afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

const marker = (lxcPath: string, name: string) => path.join(lxcPath, name, "rootfs", "marker");

describe("an lxcPath that is a symlink", () => {
  it("create, update and destroy through it and through its target; outputs keep the spelling given", async () => {
    const made = await cliOk(["create", "--lxcpath", link, "--name", "sym", "--backing-store", "dir"]);
    expect(made.lxcPath).toBe(link);
    await fs.writeFile(marker(real, "sym"), "kept\n");
    const toLoop = await cliOk(["update", "--lxcpath", real, "--name", "sym", "--backing-store", "loop", "--size", "32M"]);
    expect(toLoop.lxcPath).toBe(real);
    const toDir = await cliOk(["update", "--lxcpath", link, "--name", "sym", "--backing-store", "dir"]);
    expect(toDir.lxcPath).toBe(link);
    expect(await fs.readFile(marker(real, "sym"), "utf8")).toBe("kept\n");
    expect((await cliOk(["destroy", "--lxcpath", real, "--name", "sym"])).destroyed).toBe(true);
    await cliOk(["create", "--lxcpath", real, "--name", "sym2", "--backing-store", "loop", "--size", "32M"]);
    expect((await cliOk(["destroy", "--lxcpath", link, "--name", "sym2"])).destroyed).toBe(true);
    expect(await fs.readdir(real)).toEqual([]);
  });

  it("two updates through two spellings at once are serialized by one lock: both succeed, the data intact", async () => {
    await cliOk(["create", "--lxcpath", real, "--name", "two", "--backing-store", "dir"]);
    await fs.writeFile(path.join(real, "two", "rootfs", "big"), Buffer.alloc(8 << 20, 1));
    await fs.writeFile(marker(real, "two"), "kept\n");
    const digest = await treeDigest(path.join(real, "two", "rootfs"));
    const [a, b] = await Promise.all([
      cli(["update", "--lxcpath", link, "--name", "two", "--backing-store", "loop", "--size", "64M"]),
      cli(["update", "--lxcpath", real, "--name", "two", "--backing-store", "loop", "--size", "96M"]),
    ]);
    expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, expect.any(String)]);
    await cliOk(["update", "--lxcpath", link, "--name", "two", "--backing-store", "dir"]);
    expect(await treeDigest(path.join(real, "two", "rootfs"))).toBe(digest);
    await cliOk(["destroy", "--lxcpath", link, "--name", "two"]);
  });

  it("a config LXC wrote through the symlink (lxc-create -P <link>) is the container's own: moved and destroyed through either spelling", async () => {
    await cliOk(["create", "--lxcpath", real, "--name", "spelt", "--backing-store", "loop", "--size", "32M"]);
    const config = path.join(real, "spelt", "config");
    const respell = async () => fs.writeFile(config, (await fs.readFile(config, "utf8")).replaceAll(real, link));
    await respell();
    const toDir = await cliOk(["update", "--lxcpath", real, "--name", "spelt", "--backing-store", "dir"]);
    expect(toDir.rootfsPath).toBe(`dir:${real}/spelt/rootfs`);
    await fs.writeFile(marker(real, "spelt"), "kept\n");
    await respell();
    await cliOk(["update", "--lxcpath", link, "--name", "spelt", "--backing-store", "loop", "--size", "32M"]);
    await respell();
    await cliOk(["update", "--lxcpath", real, "--name", "spelt", "--backing-store", "dir"]);
    expect(await fs.readFile(marker(real, "spelt"), "utf8")).toBe("kept\n");
    await respell();
    expect((await cliOk(["destroy", "--lxcpath", link, "--name", "spelt"])).destroyed).toBe(true);
    expect(await fs.readdir(real)).toEqual([]);
  });
});

describe("in use", () => {
  it("a bind mount of the rootfs elsewhere: destroy refuses, the mount keeps its data", async () => {
    await cliOk(["create", "--lxcpath", real, "--name", "bound", "--backing-store", "dir"]);
    await fs.writeFile(marker(real, "bound"), "kept\n");
    const elsewhere = await tempDir("paths-bind");
    await must(["mount", "--bind", path.join(real, "bound", "rootfs"), elsewhere]);
    try {
      const r = await cli(["destroy", "--lxcpath", link, "--name", "bound"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^lxc-rootfs: .*rootfs is in use \\(mounted at ${elsewhere}`));
      expect(await fs.readFile(path.join(elsewhere, "marker"), "utf8")).toBe("kept\n");
    } finally {
      await must(["umount", elsewhere]);
      await fs.rmdir(elsewhere);
    }
    expect((await cliOk(["destroy", "--lxcpath", real, "--name", "bound"])).destroyed).toBe(true);
  });

  it("a dir rootfs that another container's overlay uses as its lower layer: destroy refuses", async () => {
    await cliOk(["create", "--lxcpath", real, "--name", "lower", "--backing-store", "dir"]);
    await fs.writeFile(marker(real, "lower"), "kept\n");
    // Named through the symlink, as a user would: the lower layer is found by identity.
    await cliOk(["create", "--lxcpath", real, "--name", "upper", "--backing-store", "overlay", "--from", `dir:${link}/lower/rootfs`]);
    const r = await cli(["destroy", "--lxcpath", real, "--name", "lower"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/in use \(the lower layer of the overlay rootfs of upper\)/);
    expect(await fs.readFile(marker(real, "lower"), "utf8")).toBe("kept\n");
    await cliOk(["destroy", "--lxcpath", real, "--name", "upper"]);
    expect((await cliOk(["destroy", "--lxcpath", real, "--name", "lower"])).destroyed).toBe(true);
  });

  it("a container started through a symlinked lxcPath is running whichever spelling destroy is given", async () => {
    await must(["lxc-create", "-P", link, "-n", "run", "-t", "busybox"]);
    // No network: the host has no lxcbr0 (as in test/helpers/lxc.ts).
    const config = path.join(real, "run", "config");
    const lines = (await fs.readFile(config, "utf8")).split("\n").filter((l) => !l.startsWith("lxc.net."));
    await fs.writeFile(config, [...lines, "lxc.net.0.type = none", ""].join("\n"));
    await must(["lxc-start", "-P", link, "-n", "run", "-d"]);
    try {
      const digest = await treeDigest(path.join(real, "run", "rootfs"));
      // LXC finds a running container by the lxcPath string it was started with: -P real says STOPPED.
      expect(await must(["lxc-info", "-P", real, "-n", "run", "-s"])).toMatch(/STOPPED/);
      for (const lxcPath of [real, link]) {
        const r = await cli(["destroy", "--lxcpath", lxcPath, "--name", "run"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/is in use \((lxc-info says the container is running|mounted at .*namespace)/);
      }
      expect(await treeDigest(path.join(real, "run", "rootfs"))).toBe(digest);
    } finally {
      await sh(["lxc-stop", "-P", link, "-n", "run", "-k"]);
    }
    expect((await cliOk(["destroy", "--lxcpath", real, "--name", "run"])).destroyed).toBe(true);
  });
});

describe("a bad lxcPath", () => {
  let file: string;
  beforeAll(async () => {
    file = path.join(base, "a-file");
    await fs.writeFile(file, "not a directory\n");
  });

  it.each([
    ["a regular file", () => file],
    ["under a regular file", () => `${file}/x`],
    ["/dev/null/x", () => "/dev/null/x"],
    ["/proc/sys", () => "/proc/sys"],
    ["/sys/kernel", () => "/sys/kernel"],
    ["a 300-byte name", () => path.join(base, "n".repeat(300))],
  ])("%s: exit 2 naming --lxcpath, one line, for every command", async (_what, lxcPath) => {
    for (const args of [["create", "--backing-store", "dir"], ["inspect"], ["update", "--size", "1G"], ["destroy"]]) {
      const [command, ...rest] = args;
      const r = await cli([command, "--lxcpath", lxcPath(), "--name", "c", ...rest]);
      expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/^lxc-rootfs: --lxcpath: invalid value .*\n$/)]);
    }
    expect(await fs.readFile(file, "utf8")).toBe("not a directory\n");
  });

  it("btrfs on a missing lxcPath: exit 2 naming the store and the filesystem, one line, nothing made", async () => {
    const r = await cli(["create", "--lxcpath", path.join(base, "missing", "lxc"), "--name", "c", "--backing-store", "btrfs"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lxc-rootfs: [^\n]*must be on a btrfs filesystem[^\n]*\n$/);
    await expect(fs.lstat(path.join(base, "missing"))).rejects.toThrow(/ENOENT/);
  });
});
