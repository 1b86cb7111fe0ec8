/**
 * examples/python, a Python program on the generated Python SDK (sdk/python), through the real engine, the
 * `pulumi` CLI and the lxc plugin: create a loop rootfs, move it to btrfs keeping its data (on a scratch
 * btrfs), destroy. Pulumi's Python language host (a Go program) is not served by the Go module proxy this
 * project builds from: `npm run setup` installs scripts/pulumi-language-python.py in its place, which runs
 * __main__.py with the Python SDK's own in-process language server (pulumi from PyPI, in a virtualenv).
 */
import { promises as fs } from "fs";
import path from "path";
import { loopsUnder, mountsUnder, must, REPO, sh, tempDir } from "../helpers/env";
import { CliProject, cliProject } from "../helpers/pulumi";

const PROJECT = path.join(REPO, "examples", "python");
const STACK = "python";
let work: string;
let lxcPath: string;
let pulumi: CliProject["pulumi"];
let sdkCopy: string;

beforeAll(async () => {
  // The generated SDK with its package metadata (the SDK reads its own version from it), as `pip install
  // ./sdk/python` would give, made offline by setuptools in a copy: nothing is written into sdk/.
  const sdk = path.join(await tempDir("python-sdk"), "python");
  await must(["cp", "-a", path.join(REPO, "sdk", "python"), sdk]);
  await must(["python3", "setup.py", "-q", "egg_info"], { cwd: sdk });
  ({ work, pulumi } = await cliProject("python", PROJECT, STACK, { PYTHONPATH: sdk }));
  sdkCopy = path.dirname(sdk);
  lxcPath = path.join(work, "btrfs");
  await fs.mkdir(lxcPath);
  await must(["truncate", "-s", "1G", path.join(work, "btrfs.img")]);
  await must(["mkfs.btrfs", "-q", path.join(work, "btrfs.img")]);
  await must(["mount", "-o", "loop", path.join(work, "btrfs.img"), lxcPath]);
  expect((await pulumi("stack", "init", STACK)).code).toBe(0);
  expect((await pulumi("config", "set", "lxcPath", lxcPath)).code).toBe(0);
});

afterAll(async () => {
  await pulumi("destroy", "--yes");
  await pulumi("stack", "rm", "--yes", STACK);
  await fs.rm(path.join(PROJECT, `Pulumi.${STACK}.yaml`), { force: true });
  await sh(["umount", lxcPath]);
  expect(await loopsUnder(work)).toEqual([]);
  expect(await mountsUnder(work)).toEqual([]);
  await fs.rm(work, { recursive: true, force: true });
  await fs.rm(sdkCopy, { recursive: true, force: true });
});

it("creates a loop rootfs, moves it to btrfs keeping the data, destroys it", async () => {
  const up = await pulumi("up", "--yes");
  if (up.code !== 0) throw new Error(up.text);
  expect(up.text).not.toMatch(/Traceback|KeyboardInterrupt/);
  expect(up.text).toMatch(new RegExp(`rootfsPath\\s*:\\s*"loop:${lxcPath}/web/rootdev"`));
  const image = path.join(lxcPath, "web", "rootdev");
  expect((await fs.stat(image)).size).toBe(256 * 2 ** 20);
  expect(await must(["blkid", "-o", "value", "-s", "TYPE", image])).toBe("ext4\n");

  // Data written inside the image must survive the move.
  const mp = path.join(work, "mnt");
  await fs.mkdir(mp);
  await must(["mount", "-o", "loop", image, mp]);
  await fs.writeFile(path.join(mp, "marker"), "kept across the move\n");
  await must(["umount", mp]);

  expect((await pulumi("config", "set", "backingStore", "btrfs")).code).toBe(0);
  const preview = await pulumi("preview");
  expect(preview.text).toMatch(new RegExp(`rootfs ${lxcPath}/web: copy \\d+ MiB file by file from loop ext4 256 MiB into a new btrfs`));
  expect(preview.text).toMatch(/~ 1 to update/);
  const moved = await pulumi("up", "--yes");
  expect(moved.code).toBe(0);
  expect(moved.text).toMatch(new RegExp(`rootfsPath\\s*:\\s*"loop:${lxcPath}/web/rootdev" => "btrfs:${lxcPath}/web/rootfs"`));
  expect(moved.text).not.toMatch(/replace/);
  const sub = path.join(lxcPath, "web", "rootfs");
  expect(await must(["btrfs", "subvolume", "show", sub])).toMatch(/Name:\s+rootfs/);
  expect(await fs.readFile(path.join(sub, "marker"), "utf8")).toBe("kept across the move\n");
  await expect(fs.lstat(image)).rejects.toThrow(/ENOENT/);
  expect((await pulumi("preview", "--expect-no-changes")).code).toBe(0);

  const destroy = await pulumi("destroy", "--yes");
  expect(destroy.code).toBe(0);
  await expect(fs.lstat(path.join(lxcPath, "web"))).rejects.toThrow(/ENOENT/);
});
