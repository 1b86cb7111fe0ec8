/**
 * examples/yaml, a Pulumi YAML program, through the real engine, the `pulumi` CLI, Pulumi YAML's own
 * language host (github.com/pulumi/pulumi-yaml, built from Go modules by `npm run setup`) and the lxc
 * plugin: create a loop rootfs, move it to btrfs keeping its data (on a scratch btrfs), destroy.
 */
import { promises as fs } from "fs";
import os from "os";
import path from "path";
import { REPO } from "../helpers/env";
import { Example, exampleOnBtrfs, expectCreatePreviews, playThroughCli } from "../helpers/examples";
import { TOOLS } from "../helpers/pulumi";

let ex: Example;

beforeAll(async () => {
  ex = await exampleOnBtrfs("yaml", path.join(REPO, "examples", "yaml"), "yaml");
});

afterAll(async () => {
  await ex.pulumi("destroy", "--yes");
  await ex.cleanup();
});

it("runs on Pulumi YAML's own language host", async () => {
  // The one setup builds from Go modules reports its release; a CLI from Pulumi's distribution brings its own.
  const ours = (await fs.realpath(path.join(TOOLS, "bin", "pulumi"))).startsWith(
    path.join(process.env.PULUMI_LXC_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-lxc")),
  );
  const about = await ex.pulumi("about");
  expect(about.text).toMatch(ours ? /language\s+yaml\s+1\.25\.0\n/ : /language\s+yaml\s+\d+\.\d+\.\d+\n/);
});

it("a preview of the create asks the host through the plugin: its plan line, and a size the host cannot hold", async () => {
  await expectCreatePreviews(ex);
});

it("creates a loop rootfs, moves it to btrfs keeping the data, destroys it", async () => {
  await playThroughCli(ex);
});
