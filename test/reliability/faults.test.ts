/**
 * Faults on the real kernel: a full filesystem, failing tools, storage in use, 32 operations at once,
 * and adopted storage. Each refusal says why and changes nothing.
 */
import { promises as fs } from "fs";
import path from "path";
import { createRootfs, destroyRootfs } from "../../provider/src/api";
import { cli, cliOk, makeSampleTree, must, REPO, sh, tempDir } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { makeStack } from "../helpers/pulumi";

const MiB = 2 ** 20;
let base: string;

async function listing(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true })).map(String).sort();
}

beforeAll(async () => {
  base = await tempDir("faults");
});
/** The fixtures' own filesystems (the small ext4, the btrfs) are mounted on purpose; nothing else may be. */
const FIXTURES = /\/(small|btrfs)(\.img)?$/;
afterEach(() => expectNoLeaks(base, { except: FIXTURES }));
afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

describe("out of space: lxcPath on a 40 MB ext4", () => {
  let small: string;
  let seed: string;
  beforeAll(async () => {
    const img = path.join(base, "small.img");
    small = path.join(base, "small");
    await fs.mkdir(small);
    await must(["truncate", "-s", "40M", img]);
    await must(["mkfs.ext4", "-q", "-F", img]);
    await must(["mount", "-o", "loop", img, small]);
    seed = path.join(base, "seed");
    await fs.mkdir(seed);
    await makeSampleTree(seed, 1);
  });
  afterAll(async () => {
    await must(["umount", small]);
  });

  it("create: no space, with the sizes, and nothing left", async () => {
    const before = await listing(small);
    const r = await cli(["create", "--lxcpath", small, "--name", "big", "--backing-store", "loop", "--size", "1G"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no space on .*\/big \(loop\): needs 1\.0 GiB \(1073741824 bytes\), \d+\.\d MiB \(\d+ bytes\) available\. Nothing was changed\./,
    );
    expect(await listing(small)).toEqual(before);
  });

  it("grow: no space, with the sizes; the image and its data are as they were", async () => {
    await cliOk(["create", "--lxcpath", small, "--name", "g", "--backing-store", "loop", "--size", "16M", "--from", `dir:${seed}`]);
    const image = path.join(small, "g", "rootdev");
    const bytes = await fs.readFile(image);
    const r = await cli(["update", "--lxcpath", small, "--name", "g", "--size", "512M"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on .*\/g \(loop\): needs 496 MiB \(520093696 bytes\), .* available/);
    expect((await fs.readFile(image)).equals(bytes)).toBe(true);
    await cliOk(["destroy", "--lxcpath", small, "--name", "g"]);
  });

  it("clone: no space, with the sizes; the source is untouched and nothing is left", async () => {
    await cliOk(["create", "--lxcpath", small, "--name", "src", "--backing-store", "loop", "--size", "24M", "--from", `dir:${seed}`]);
    const image = path.join(small, "src", "rootdev");
    const bytes = await fs.readFile(image);
    const before = await listing(small);
    const r = await cli([
      "create",
      "--lxcpath",
      small,
      "--name",
      "clone",
      "--backing-store",
      "loop",
      "--size",
      "64M",
      "--from",
      `loop:${image}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space on .*\/clone \(loop\): needs 64\.0 MiB \(67108864 bytes\)/);
    expect(await listing(small)).toEqual(before);
    expect((await fs.readFile(image)).equals(bytes)).toBe(true);
    await cliOk(["destroy", "--lxcpath", small, "--name", "src"]);
  });
});

describe("tool failures leave the host unchanged", () => {
  let bpath: string;
  let release: () => Promise<void>;
  beforeAll(async () => {
    const img = path.join(base, "btrfs.img");
    const mnt = path.join(base, "btrfs");
    await fs.mkdir(mnt);
    await must(["truncate", "-s", "512M", img]);
    await must(["mkfs.btrfs", "-q", "-f", img]);
    await must(["mount", "-o", "loop", img, mnt]);
    bpath = mnt;
    release = async () => void (await must(["umount", mnt]));
  });
  afterAll(async () => release());

  it("btrfs failing: a clear error, no subvolume, no container directory", async () => {
    const bin = path.join(base, "bin-btrfs");
    await fs.mkdir(bin);
    await fs.writeFile(path.join(bin, "btrfs"), '#!/bin/sh\necho "btrfs: injected failure" >&2\nexit 1\n', { mode: 0o755 });
    const r = await cli(["create", "--lxcpath", bpath, "--name", "nb", "--backing-store", "btrfs"], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/btrfs subvolume create .*rootfs\.lxc-rootfs-new failed \(exit 1\): btrfs: injected failure/);
    expect(await fs.readdir(bpath)).toEqual([]);
  });
});

describe("storage in use is not destroyed or moved", () => {
  it("a running container (lxc-info says RUNNING)", async () => {
    const lxcPath = path.join(base, "running");
    await fs.mkdir(lxcPath);
    await must(["lxc-create", "-P", lxcPath, "-n", "r", "-t", "busybox"]);
    const config = path.join(lxcPath, "r", "config");
    await fs.writeFile(config, (await fs.readFile(config, "utf8")).replace(/^lxc\.net\..*$/gm, "") + "lxc.net.0.type = none\n");
    await fs.writeFile(path.join(lxcPath, "r", "rootfs", "root", "marker"), "still here");
    const configBefore = await fs.readFile(config, "utf8");
    await must(["lxc-start", "-P", lxcPath, "-n", "r", "-d"]);
    try {
      expect(await must(["lxc-info", "-P", lxcPath, "-n", "r", "-s"])).toMatch(/RUNNING/);
      for (const args of [["destroy"], ["update", "--backing-store", "loop"]]) {
        const r = await cli([args[0], "--lxcpath", lxcPath, "--name", "r", ...args.slice(1)]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/is in use \(lxc-info says the container is running\).*Nothing was changed/);
      }
    } finally {
      await must(["lxc-stop", "-P", lxcPath, "-n", "r", "-k"]);
    }
    // The running init writes to its rootfs, so compare what we own: our marker and the config.
    expect(await fs.readFile(path.join(lxcPath, "r", "rootfs", "root", "marker"), "utf8")).toBe("still here");
    expect(await fs.readFile(config, "utf8")).toBe(configBefore);
    expect((await fs.readdir(path.join(lxcPath, "r"))).sort()).toEqual(["config", "rootfs"]);
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "r"]);
  });

  it("a mounted loop rootfs", async () => {
    const lxcPath = path.join(base, "mounted");
    await fs.mkdir(lxcPath);
    await cliOk(["create", "--lxcpath", lxcPath, "--name", "m", "--backing-store", "loop", "--size", "32M"]);
    const mp = path.join(base, "mp");
    await fs.mkdir(mp);
    await must(["mount", "-o", "loop", path.join(lxcPath, "m", "rootdev"), mp]);
    try {
      for (const args of [["destroy"], ["update", "--backing-store", "dir"], ["update", "--size", "64M"]]) {
        const r = await cli([args[0], "--lxcpath", lxcPath, "--name", "m", ...args.slice(1)]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/is in use \(attached to \/dev\/loop\d+\)/);
      }
      expect((await fs.stat(path.join(lxcPath, "m", "rootdev"))).size).toBe(32 * MiB);
    } finally {
      await must(["umount", mp]);
    }
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "m"]);
  });
});

describe("32 at once", () => {
  it("32 loop creates, then 32 destroys, through the library: no device collision", async () => {
    const lxcPath = path.join(base, "lib32");
    const names = Array.from({ length: 32 }, (_, i) => `p${i}`);
    const created = await Promise.all(names.map((container) => createRootfs({ container, lxcPath, backingStore: "loop", size: "32M" })));
    expect(new Set(created.map((c) => c.rootfsPath)).size).toBe(32);
    for (const n of names)
      expect(await sh(["blkid", "-o", "value", "-s", "TYPE", path.join(lxcPath, n, "rootdev")])).toMatchObject({ stdout: "ext4\n" });
    const destroyed = await Promise.all(names.map((container) => destroyRootfs({ container, lxcPath })));
    expect(destroyed.every((d) => d.destroyed)).toBe(true);
    expect(await fs.readdir(lxcPath)).toEqual([]);
  });

  it("32 loop Rootfs in one pulumi up with parallelism 32, then destroy", async () => {
    const lxcPath = path.join(base, "up32");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));
    const names = Array.from({ length: 32 }, (_, i) => `u${i}`);
    const t = await makeStack("thirtytwo", async () => {
      for (const n of names) new Rootfs(n, { container: n, lxcPath, backingStore: "loop", size: "32M" });
    });
    const up = await t.stack.up({ parallel: 32 });
    expect(up.summary.resourceChanges).toEqual({ create: 33 });
    for (const n of names) expect((await fs.stat(path.join(lxcPath, n, "rootdev"))).size).toBe(32 * MiB);
    await t.destroy();
    expect(await fs.readdir(lxcPath)).toEqual([]);
  });
});

describe("adopted storage (lxc.rootfs.managed = 0)", () => {
  it("pulumi destroy removes it from the stack only, and says so", async () => {
    const lxcPath = path.join(base, "adopted");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));
    const t = await makeStack("adopted", async () => {
      new Rootfs("kept", { container: "kept", lxcPath, backingStore: "dir" });
    });
    await t.stack.up();
    await fs.appendFile(path.join(lxcPath, "kept", "config"), "lxc.rootfs.managed = 0\n");
    await fs.writeFile(path.join(lxcPath, "kept", "rootfs", "precious"), "keep me");
    let text = "";
    await t.stack.destroy({ onOutput: (s) => (text += s) });
    expect(text).toMatch(/rootfs .*\/kept: nothing deleted: .*lxc\.rootfs\.managed = 0: the storage is not ours to delete; left in place/);
    expect(await fs.readFile(path.join(lxcPath, "kept", "rootfs", "precious"), "utf8")).toBe("keep me");
    await t.stack.workspace.removeStack("test");
    await fs.rm(lxcPath, { recursive: true });
  });
});
