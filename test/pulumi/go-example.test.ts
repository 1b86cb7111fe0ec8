/**
 * examples/go, a Go program on the generated Go SDK (sdk/go/lxc), through the real engine, the `pulumi`
 * CLI and the lxc plugin: create a loop rootfs, move it to btrfs keeping its data (on a scratch btrfs),
 * destroy. The program runs in-process under the Go SDK's Automation API (examples/go/engine_test.go),
 * because Pulumi's Go language host is not served by the Go module proxy this project builds from; the
 * engine, the plugin and the Go SDK's registration of lxc:index:Rootfs are the real ones.
 */
import { promises as fs } from "fs";
import path from "path";
import { loopsUnder, mountsUnder, must, REPO, sh } from "../helpers/env";
import { CliProject, cliProject, TOOLS } from "../helpers/pulumi";

const PROJECT = path.join(REPO, "examples", "go");
const STACK = "go";
let work: string;
let lxcPath: string;
let env: NodeJS.ProcessEnv;
let pulumi: CliProject["pulumi"];

interface StepResult {
  changes: Record<string, number>;
  outputs?: Record<string, unknown>;
  text: string;
}

/** One step of examples/go/engine_test.go: `go test` builds the program with the SDK and runs the step. */
async function step(name: "up" | "preview" | "destroy"): Promise<StepResult> {
  const r = await sh(["go", "-C", PROJECT, "test", "-tags", "engine", "-run", "^TestEngine$", "-count=1", "-v", "."], {
    env: { ...env, LXC_EXAMPLE_STEP: name, LXC_EXAMPLE_STACK: STACK, PULUMI_ROOT: TOOLS, GOTOOLCHAIN: "local" },
  });
  const text = r.stdout + r.stderr;
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (r.code !== 0 || !line) throw new Error(`go test (step ${name}) exited ${r.code}:\n${text.slice(-6000)}`);
  return { ...JSON.parse(line.slice("RESULT ".length)), text };
}

beforeAll(async () => {
  ({ work, env, pulumi } = await cliProject("go", PROJECT, STACK));
  lxcPath = path.join(work, "btrfs");
  await fs.mkdir(lxcPath);
  await must(["truncate", "-s", "1G", path.join(work, "btrfs.img")]);
  await must(["mkfs.btrfs", "-q", path.join(work, "btrfs.img")]);
  await must(["mount", "-o", "loop", path.join(work, "btrfs.img"), lxcPath]);
  expect((await pulumi("stack", "init", STACK)).code).toBe(0);
  expect((await pulumi("config", "set", "lxcPath", lxcPath)).code).toBe(0);
});

afterAll(async () => {
  await step("destroy").catch(() => undefined);
  await pulumi("stack", "rm", "--yes", "--force", STACK);
  await fs.rm(path.join(PROJECT, `Pulumi.${STACK}.yaml`), { force: true });
  await sh(["umount", lxcPath]);
  expect(await loopsUnder(work)).toEqual([]);
  expect(await mountsUnder(work)).toEqual([]);
  await fs.rm(work, { recursive: true, force: true });
});

it("the Go SDK builds and vets with the example", async () => {
  const r = await sh(["go", "-C", PROJECT, "vet", "-tags", "engine", "./..."], { env: { GOTOOLCHAIN: "local" } });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}, 900000);

it("creates a loop rootfs, moves it to btrfs keeping the data, destroys it", async () => {
  const up = await step("up");
  expect(up.changes).toEqual({ create: 2 });
  expect(up.outputs).toEqual({ rootfsPath: `loop:${lxcPath}/web/rootdev`, backingStore: "loop" });
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
  const moved = await step("up");
  expect(moved.changes).toEqual({ same: 1, update: 1 });
  expect(moved.text).toMatch(/updated by file-copy \(cp\)/);
  expect(moved.text).not.toMatch(/replace/);
  expect(moved.outputs).toEqual({ rootfsPath: `btrfs:${lxcPath}/web/rootfs`, backingStore: "btrfs" });
  const sub = path.join(lxcPath, "web", "rootfs");
  expect(await must(["btrfs", "subvolume", "show", sub])).toMatch(/Name:\s+rootfs/);
  expect(await fs.readFile(path.join(sub, "marker"), "utf8")).toBe("kept across the move\n");
  await expect(fs.lstat(image)).rejects.toThrow(/ENOENT/);

  const again = await step("preview");
  expect(again.changes).toEqual({ same: 2 });

  const destroy = await step("destroy");
  expect(destroy.changes).toEqual({ delete: 2 });
  await expect(fs.lstat(path.join(lxcPath, "web"))).rejects.toThrow(/ENOENT/);
}, 900000);
