/**
 * The `pulumi` CLI itself on a Pulumi.yaml project (not the Automation API): preview, up, an empty
 * preview, refresh, destroy, and a bad input stopping the preview. This is also what proves the Node
 * language host that `npm run setup` installs beside the CLI.
 */
import { promises as fs } from "fs";
import path from "path";
import { CliProject, cliProject } from "../helpers/pulumi";

const PROJECT = path.join(__dirname, "fixtures", "cli-project");
let work: string;
let lxcPath: string;
let pulumi: CliProject["pulumi"];
let cleanup: CliProject["cleanup"];

beforeAll(async () => {
  ({ work, pulumi, cleanup } = await cliProject("cli", PROJECT, "cli"));
  lxcPath = path.join(work, "lxc");
  await fs.mkdir(lxcPath);
  expect((await pulumi("stack", "init", "cli")).code).toBe(0);
  expect((await pulumi("config", "set", "lxcPath", lxcPath)).code).toBe(0);
});

afterAll(async () => {
  await pulumi("destroy", "--yes");
  await cleanup();
});

it("pulumi preview, up, preview with no changes, refresh, destroy", async () => {
  const preview = await pulumi("preview");
  expect(preview.stderr + preview.stdout).toMatch(/\+ 2 to create/);

  const up = await pulumi("up", "--yes");
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(new RegExp(`rootfsPath: "loop:${lxcPath}/web/rootdev"`));
  expect((await fs.stat(path.join(lxcPath, "web", "rootdev"))).size).toBe(128 * 2 ** 20);

  const again = await pulumi("preview", "--expect-no-changes");
  expect(again.code).toBe(0);
  const refresh = await pulumi("refresh", "--yes", "--expect-no-changes");
  expect(refresh.code).toBe(0);

  expect((await pulumi("config", "set", "size", "192M")).code).toBe(0);
  const grow = await pulumi("preview");
  expect(grow.stdout).toMatch(/grow in place: loop ext4 128 MiB → 192 MiB/);
  expect(grow.stdout).toMatch(/~ 1 to update/);
  // What a GitOps review posts: --diff prints the diff on stdout and the provider's lines on stderr.
  const growDiff = await pulumi("preview", "--diff");
  expect(growDiff.code).toBe(0);
  expect(growDiff.stdout).toMatch(/~ size\s*: "128M" => "192M"/);
  expect(growDiff.stderr).toMatch(/rootfs .*\/web: grow in place: loop ext4 128 MiB → 192 MiB/);

  const destroy = await pulumi("destroy", "--yes");
  expect(destroy.code).toBe(0);
  await expect(fs.lstat(path.join(lxcPath, "web"))).rejects.toThrow(/ENOENT/);
  expect((await pulumi("config", "rm", "size")).code).toBe(0);
});

it("a bad backingStore stops pulumi preview with the property named", async () => {
  expect((await pulumi("config", "set", "backingStore", "floppy")).code).toBe(0);
  const r = await pulumi("preview");
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(/backingStore: invalid value "floppy": one of dir, loop, btrfs, overlay, lvm, zfs/);
  await expect(fs.lstat(path.join(lxcPath, "web"))).rejects.toThrow(/ENOENT/);
  expect((await pulumi("config", "rm", "backingStore")).code).toBe(0);
});
