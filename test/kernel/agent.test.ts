/**
 * The agent: the core's typed requests as JSON lines over a child's stdio, the stream an SSH channel
 * will carry. Real operations on the real kernel, errors with their class, log lines per request, and an
 * input that ends mid-move: the agent finishes the move before it exits. The agent is the bundle that
 * remote hosts get (dist/agent), run from a copy outside the checkout, so nothing of node_modules helps it.
 */
import { ChildProcess, spawn } from "child_process";
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, NotFound } from "../../provider/src/model/errors";
import { destroyRootfs, identifyContainer, inspectRootfs } from "../../provider/src/api";
import { agentCore, AgentCore } from "../../provider/src/adapters/remote/core";
import { makeSampleTree, REPO, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";

let AGENT: string;
let lxcPath: string;
let seed: string;
let seedDigest: string;

function startAgent(): { child: ChildProcess; core: AgentCore; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [AGENT], { stdio: ["pipe", "pipe", "inherit"], cwd: "/" });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, core: agentCore({ stdin: child.stdin!, stdout: child.stdout! }, "test agent"), exited };
}

beforeAll(async () => {
  const bundle = await tempDir("agent-bundle");
  await fs.cp(path.join(REPO, "dist", "bundle"), bundle, { recursive: true });
  AGENT = path.join(bundle, "agent.js");
  lxcPath = await tempDir("agent");
  seed = path.join(lxcPath, "seed");
  await fs.mkdir(seed);
  await makeSampleTree(seed, 8);
  seedDigest = await treeDigest(seed);
});
afterAll(async () => {
  await expectNoLeaksAndRemove(lxcPath);
  await fs.rm(path.dirname(AGENT), { recursive: true, force: true });
});

it("serves the operations, with log lines and errors of their own class", async () => {
  const { core, exited } = startAgent();
  const { version } = JSON.parse(await fs.readFile(path.join(REPO, "schema.json"), "utf8"));
  expect((await core.hello).version).toBe(version);
  expect((await core.hello).node).toBe(process.version);
  const ref = { container: "web", lxcPath };
  const created = await core.create({ ...ref, backingStore: "loop", size: "128M", from: `dir:${seed}` });
  expect(created).toMatchObject({ backingStore: "loop", rootfsPath: `loop:${lxcPath}/web/rootdev`, sizeBytes: 128 * 2 ** 20 });
  // What the agent reports is what the core in this process reads.
  expect(await core.inspect(ref)).toEqual(await inspectRootfs(ref));
  expect(await core.planUpdate(ref, { backingStore: "dir" })).toMatchObject({ strategy: "file-copy" });
  const logged: string[] = [];
  const updated = await core.update(ref, { backingStore: "dir" }, { log: (l) => logged.push(l) });
  expect(updated).toMatchObject({ backingStore: "dir", strategy: "file-copy" });
  expect(logged).toEqual([expect.stringMatching(/^copy \d+ MiB file by file from loop ext4 128 MiB into a new dir$/)]);
  expect(await treeDigest(path.join(lxcPath, "web", "rootfs"))).toBe(seedDigest);
  const bad = await core.create({ container: "a/b", lxcPath, backingStore: "dir" }).catch((e: unknown) => e);
  expect(bad).toBeInstanceOf(InvalidInput);
  expect(bad).toMatchObject({ property: "container", value: "a/b" });
  await expect(core.update({ container: "nobody", lxcPath }, { size: "1G" })).rejects.toBeInstanceOf(NotFound);
  // Two spellings of one lxcPath name one container (the diff asks this before it calls a spelling a move).
  const link = `${lxcPath}-link`;
  await fs.symlink(lxcPath, link);
  const identity = await core.identify(ref);
  expect(identity).toEqual(await identifyContainer(ref));
  expect(await core.identify({ container: "web", lxcPath: link })).toEqual(identity);
  expect(identity.ino).toBe((await fs.stat(path.join(lxcPath, "web"))).ino);
  await fs.rm(link);
  expect(await core.destroy(ref)).toEqual({ destroyed: true });
  core.close();
  expect(await exited).toBe(0);
});

it("answers a line it cannot read with an error naming no request, and goes on serving", async () => {
  const { child, exited } = startAgent();
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stdin!.write(
    'null\n42\n{"id":7,"op":"format","args":[]}\n{"id":8,"op":"inspect","args":[{"container":"none","lxcPath":"' + lxcPath + '"}]}\n',
  );
  child.stdin!.end();
  expect(await exited).toBe(0);
  const lines = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines[0]).toHaveProperty("hello");
  expect(lines.slice(1)).toEqual([
    { id: null, error: expect.objectContaining({ name: "InvalidInput", property: "request" }) },
    { id: null, error: expect.objectContaining({ name: "InvalidInput", property: "request" }) },
    { id: 7, error: expect.objectContaining({ name: "InvalidInput", property: "op" }) },
    { id: 8, result: null },
  ]);
});

it("finishes a move in flight when its input ends, then exits", async () => {
  const ref = { container: "mv", lxcPath };
  const { child, core, exited } = startAgent();
  await core.hello;
  await core.create({ ...ref, backingStore: "loop", size: "256M", from: `dir:${seed}` });
  const moving = core.update(ref, { backingStore: "dir" }).catch((e: Error) => e);
  // The request is on its way; the client hangs up at once, as Ctrl-C or a lost network would.
  await new Promise((r) => setImmediate(r));
  child.stdin!.end();
  expect(await exited).toBe(0);
  await moving;
  expect(await inspectRootfs(ref)).toMatchObject({ backingStore: "dir" });
  expect(await treeDigest(path.join(lxcPath, "mv", "rootfs"))).toBe(seedDigest);
  await expect(fs.lstat(path.join(lxcPath, "mv", ".lxc-rootfs", "journal.json"))).rejects.toThrow(/ENOENT/);
  expect(await destroyRootfs(ref)).toEqual({ destroyed: true });
});
