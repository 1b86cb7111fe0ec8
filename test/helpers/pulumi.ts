/**
 * The real Pulumi engine for end-to-end tests: the CLI that `npm run setup` put in .tools/bin, a local
 * file backend and an isolated PULUMI_HOME, driven through the Automation API with inline programs.
 */
import { promises as fs } from "fs";
import path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { Ran, REPO, sh, tempDir } from "./env";
import { expectNoLeaksAndRemove } from "./leaks";

export const TOOLS = path.join(REPO, ".tools");

// Every up of an inline program opens a new client to its engine's resource monitor, but grpc-js shares
// connections by address across the process: a client to an earlier, exited engine whose port the kernel
// handed out again fails at once ("No connection established. Last error: null"), and the Automation API
// swallows gRPC errors, so the engine saw an empty program and deleted the stack's resources (a CI run
// after an up failed mid-update). Each client keeps its own connections instead.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeSettings: { grpcClientOptions: Record<string, unknown> } = require("@pulumi/pulumi/runtime/settings");
runtimeSettings.grpcClientOptions["grpc.use_local_subchannel_pool"] = 1;

export interface TestStack {
  stack: Stack;
  dir: string;
  /** Everything the engine printed, for assertions on what a reviewer sees. */
  output: string[];
  run<T>(fn: (onOutput: (s: string) => void) => Promise<T>): Promise<{ result: T; text: string }>;
  destroy(): Promise<void>;
}

export async function pulumiCommand(): Promise<PulumiCommand> {
  return PulumiCommand.get({ root: TOOLS, skipVersionCheck: true });
}

export async function makeStack(label: string, program: () => Promise<Record<string, unknown> | void>): Promise<TestStack> {
  const dir = await tempDir(`stack-${label}`);
  await fs.mkdir(path.join(dir, "state"));
  const envVars = {
    PULUMI_BACKEND_URL: `file://${dir}/state`,
    PULUMI_CONFIG_PASSPHRASE: "test",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
  };
  // Whether the program ran in the last up or preview.
  let ran = false;
  const stack = await LocalWorkspace.createOrSelectStack(
    {
      stackName: "test",
      projectName: `lxc-${label}`,
      program: () => {
        ran = true;
        return program();
      },
    },
    { workDir: dir, envVars, pulumiCommand: await pulumiCommand() },
  );
  // An up or a preview of an inline program always runs it: one that finished without reaching it is the
  // swallowed error above, whatever the test calls it through.
  const guarded =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>, name: string) =>
    async (...args: A): Promise<R> => {
      ran = false;
      const result = await op(...args);
      if (!ran) throw new Error(`pulumi ${name} finished without running the program`);
      return result;
    };
  stack.up = guarded(stack.up.bind(stack), "up");
  stack.preview = guarded(stack.preview.bind(stack), "preview");
  const output: string[] = [];
  return {
    stack,
    dir,
    output,
    async run(fn) {
      let text = "";
      const result = await fn((s) => {
        text += s;
      });
      output.push(text);
      return { result, text };
    },
    async destroy() {
      await stack.destroy();
      await stack.workspace.removeStack("test");
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Destroys a test stack whose rootfs live under `lxcPath`, checks nothing is left attached there, removes it. */
export async function destroyStackUnder(t: TestStack, lxcPath: string): Promise<void> {
  await t.destroy();
  await expectNoLeaksAndRemove(lxcPath);
}

/** The serialized dynamic provider text of every resource in the stack's state. */
export async function serializedProviders(stack: Stack): Promise<string[]> {
  const state = await stack.exportStack();
  const resources = (state.deployment.resources ?? []) as Array<{ outputs?: Record<string, unknown> }>;
  return resources.map((r) => r.outputs?.__provider).filter((p): p is string => typeof p === "string");
}

/**
 * A Pulumi.yaml project driven through the `pulumi` CLI itself: a scratch directory with a local file
 * backend and an isolated PULUMI_HOME, and `pulumi(...)`, which adds `--stack <stack>` to every command
 * but `stack` ones. `text` is stdout and stderr together, what a user sees.
 */
export interface CliProject {
  work: string;
  env: NodeJS.ProcessEnv;
  pulumi(...args: string[]): Promise<Ran & { text: string }>;
  /**
   * After the test's own destroy: removes the stack and its config file from the project, checks that no
   * loop device or mount is left under the scratch directory, and removes it.
   */
  cleanup(): Promise<void>;
}

export async function cliProject(label: string, project: string, stack: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliProject> {
  const work = await tempDir(label);
  await fs.mkdir(path.join(work, "state"));
  const env: NodeJS.ProcessEnv = {
    PULUMI_BACKEND_URL: `file://${work}/state`,
    PULUMI_CONFIG_PASSPHRASE: "test",
    PULUMI_HOME: path.join(work, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ...extraEnv,
  };
  const pulumi: CliProject["pulumi"] = async (...args) => {
    // `stack` and `plugin` commands take no --stack.
    const stackArgs = args[0] === "stack" || args[0] === "plugin" ? [] : ["--stack", stack];
    const r = await sh([path.join(TOOLS, "bin", "pulumi"), "--cwd", project, "--non-interactive", ...args, ...stackArgs], { env });
    return { ...r, text: r.stdout + r.stderr };
  };
  return {
    work,
    env,
    pulumi,
    async cleanup() {
      await pulumi("stack", "rm", "--yes", "--force", stack);
      await fs.rm(path.join(project, `Pulumi.${stack}.yaml`), { force: true });
      await expectNoLeaksAndRemove(work);
    },
  };
}

/**
 * A preview that must fail and leave the host as `hostState` saw it before (a preview changes nothing):
 * the engine's whole output, then the error's message.
 */
export async function failedPreview(t: TestStack, hostState: () => Promise<unknown>): Promise<string> {
  const before = await hostState();
  let text = "";
  const err = await t.stack.preview({ onOutput: (s) => (text += s) }).then(
    () => null,
    (e: Error) => e,
  );
  expect(err).not.toBeNull();
  expect(await hostState()).toEqual(before);
  return `${text}\n${err?.message}`;
}
