/**
 * examples/go, a Go program on the generated Go SDK (sdk/go/lxc), through the real engine, the `pulumi`
 * CLI and the lxc plugin: create a loop rootfs, move it to btrfs keeping its data (on a scratch btrfs),
 * destroy. The program runs in-process under the Go SDK's Automation API (examples/go/engine_test.go),
 * because Pulumi's Go language host is not served by the Go module proxy this project builds from; the
 * engine, the plugin and the Go SDK's registration of lxc:index:Rootfs are the real ones.
 */
import path from "path";
import { REPO, sh } from "../helpers/env";
import { Example, exampleOnBtrfs, expectCreatePreviews, expectDestroyed, expectLoopAndMark, expectMovedToBtrfs } from "../helpers/examples";
import { TOOLS } from "../helpers/pulumi";

const PROJECT = path.join(REPO, "examples", "go");
const STACK = "go";
let ex: Example;

interface StepResult {
  changes: Record<string, number>;
  /** The plan step's: a failed preview's error, empty when it passed. */
  error?: string;
  outputs?: Record<string, unknown>;
  text: string;
}

/** One step of examples/go/engine_test.go: `go test` builds the program with the SDK and runs the step. */
async function step(name: "up" | "preview" | "plan" | "destroy"): Promise<StepResult> {
  const r = await sh(["go", "-C", PROJECT, "test", "-tags", "engine", "-run", "^TestEngine$", "-count=1", "-v", "."], {
    env: { ...ex.env, LXC_EXAMPLE_STEP: name, LXC_EXAMPLE_STACK: STACK, PULUMI_ROOT: TOOLS, GOTOOLCHAIN: "local" },
  });
  const text = r.stdout + r.stderr;
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (r.code !== 0 || !line) throw new Error(`go test (step ${name}) exited ${r.code}:\n${text.slice(-6000)}`);
  return { ...JSON.parse(line.slice("RESULT ".length)), text };
}

beforeAll(async () => {
  ex = await exampleOnBtrfs("go", PROJECT, STACK);
});

afterAll(async () => {
  await step("destroy").catch(() => undefined);
  await ex.cleanup();
});

it("the Go SDK builds and vets with the example", async () => {
  const r = await sh(["go", "-C", PROJECT, "vet", "-tags", "engine", "./..."], { env: { GOTOOLCHAIN: "local" } });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}, 900000);

it("a preview of the create asks the host through the plugin: its plan line, and a size the host cannot hold", async () => {
  await expectCreatePreviews(ex, async () => {
    const { error, text } = await step("plan");
    return { code: error ? 1 : 0, text: `${text}\n${error}` };
  });
}, 900000);

it("creates a loop rootfs, moves it to btrfs keeping the data, destroys it", async () => {
  const { lxcPath, pulumi } = ex;
  const up = await step("up");
  expect(up.changes).toEqual({ create: 2 });
  expect(up.outputs).toEqual({ rootfsPath: `loop:${lxcPath}/web/rootdev`, backingStore: "loop" });
  await expectLoopAndMark(ex);

  expect((await pulumi("config", "set", "backingStore", "btrfs")).code).toBe(0);
  const moved = await step("up");
  expect(moved.changes).toEqual({ same: 1, update: 1 });
  expect(moved.text).toMatch(/updated by file-copy \(cp\)/);
  expect(moved.text).not.toMatch(/replace/);
  expect(moved.outputs).toEqual({ rootfsPath: `btrfs:${lxcPath}/web/rootfs`, backingStore: "btrfs" });
  await expectMovedToBtrfs(ex);

  const again = await step("preview");
  expect(again.changes).toEqual({ same: 2 });

  const destroy = await step("destroy");
  expect(destroy.changes).toEqual({ delete: 2 });
  await expectDestroyed(ex);
}, 900000);
