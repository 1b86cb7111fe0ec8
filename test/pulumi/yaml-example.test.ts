/**
 * examples/yaml, a Pulumi YAML program, through the real engine, the `pulumi` CLI, Pulumi YAML's own
 * language host (github.com/pulumi/pulumi-yaml, built from Go modules by `npm run setup`) and the lxc
 * plugin: create a loop rootfs, move it to btrfs keeping its data (on a scratch btrfs), destroy.
 */
import { promises as fs } from "fs";
import os from "os";
import path from "path";
import { loopsUnder, mountsUnder, must, REPO, sh } from "../helpers/env";
import { CliProject, cliProject, TOOLS } from "../helpers/pulumi";

const PROJECT = path.join(REPO, "examples", "yaml");
let work: string;
let lxcPath: string;
let pulumi: CliProject["pulumi"];


beforeAll(async () => {
  ({ work, pulumi } = await cliProject("yaml", PROJECT, "yaml"));
  lxcPath = path.join(work, "btrfs");
  await fs.mkdir(lxcPath);
  await must(["truncate", "-s", "1G", path.join(work, "btrfs.img")]);
  await must(["mkfs.btrfs", "-q", path.join(work, "btrfs.img")]);
  await must(["mount", "-o", "loop", path.join(work, "btrfs.img"), lxcPath]);
  expect((await pulumi("stack", "init", "yaml")).code).toBe(0);
  expect((await pulumi("config", "set", "lxcPath", lxcPath)).code).toBe(0);
});

afterAll(async () => {
  await pulumi("destroy", "--yes");
  await pulumi("stack", "rm", "--yes", "yaml");
  await fs.rm(path.join(PROJECT, "Pulumi.yaml.yaml"), { force: true });
  await sh(["umount", lxcPath]);
  expect(await loopsUnder(work)).toEqual([]);
  expect(await mountsUnder(work)).toEqual([]);
  await fs.rm(work, { recursive: true, force: true });
});

it("runs on Pulumi YAML's own language host", async () => {
  // The one setup builds from Go modules reports its release; a CLI from Pulumi's distribution brings its own.
  const ours = (await fs.realpath(path.join(TOOLS, "bin", "pulumi"))).startsWith(path.join(process.env.PULUMI_LXC_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-lxc")));
  const about = await pulumi("about");
  expect(about.text).toMatch(ours ? /language\s+yaml\s+1\.25\.0\n/ : /language\s+yaml\s+\d+\.\d+\.\d+\n/);
});

it("creates a loop rootfs, moves it to btrfs keeping the data, destroys it", async () => {
  const up = await pulumi("up", "--yes");
  expect(up.code).toBe(0);
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
