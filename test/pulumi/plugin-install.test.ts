/**
 * The plugin as a user installs it: `npm run pack-plugin`, then `pulumi plugin install resource lxc
 * <version> --file <tarball>` into a fresh PULUMI_HOME, and a project with no plugins.providers entry
 * creates and destroys a rootfs through it.
 */
import { promises as fs, readFileSync } from "fs";
import path from "path";
import { must, REPO } from "../helpers/env";
import { cliProject } from "../helpers/pulumi";

const PROJECT = path.join(__dirname, "fixtures", "plugin-installed");
const VERSION = JSON.parse(readFileSync(path.join(REPO, "schema.json"), "utf8")).version as string;

it("pack-plugin's tarball installs with pulumi plugin install and serves pulumi up and destroy", async () => {
  // Only the installed plugin may serve lxc: nothing from PATH.
  const { work, pulumi, cleanup } = await cliProject("plugin-install", PROJECT, "inst", { PULUMI_IGNORE_AMBIENT_PLUGINS: "true" });
  const lxcPath = path.join(work, "lxc");
  await fs.mkdir(lxcPath);
  const tarball = path.join(work, `pulumi-resource-lxc-v${VERSION}-linux-amd64.tar.gz`);
  await must(["bash", path.join(REPO, "scripts", "pack-plugin.sh")], { env: { OUT: tarball } });
  const install = await pulumi("plugin", "install", "resource", "lxc", VERSION, "--file", tarball);
  expect(install.code).toBe(0);
  const ls = JSON.parse((await pulumi("plugin", "ls", "--json")).stdout) as Array<{ name: string; kind: string; version: string }>;
  expect(ls).toEqual(expect.arrayContaining([expect.objectContaining({ name: "lxc", kind: "resource", version: VERSION })]));
  const installed = path.join(work, "home", "plugins", `resource-lxc-v${VERSION}`, "pulumi-resource-lxc");
  expect((await fs.stat(installed)).mode & 0o111).not.toBe(0);

  expect((await pulumi("stack", "init", "inst")).code).toBe(0);
  expect((await pulumi("config", "set", "lxcPath", lxcPath)).code).toBe(0);
  const up = await pulumi("up", "--yes");
  expect(up.code).toBe(0);
  expect(up.text).toMatch(new RegExp(`rootfsPath\\s*:\\s*"loop:${lxcPath}/web/rootdev"`));
  expect((await fs.stat(path.join(lxcPath, "web", "rootdev"))).size).toBe(64 * 2 ** 20);
  expect(await must(["blkid", "-o", "value", "-s", "TYPE", path.join(lxcPath, "web", "rootdev")])).toBe("ext4\n");
  expect((await pulumi("destroy", "--yes")).code).toBe(0);
  await expect(fs.lstat(path.join(lxcPath, "web"))).rejects.toThrow(/ENOENT/);
  await cleanup();
}, 600000);
