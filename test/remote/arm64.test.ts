/**
 * An arm64 host's agent, on this x86_64 machine: the files an arm64 glibc host gets (the bundle's, its own
 * koffi module) and the pinned arm64 Node.js, laid out as the upload lays them out, run under Debian's
 * qemu-aarch64-static with Debian's arm64 sysroot. It answers the agent's protocol on the real kernel: a
 * hello from the arm64 Node.js, an inspect of nothing (null), a dir create whose config LXC would read, an inspect
 * equal to this process's own, and a destroy. This proves the agent and its runtime, not the storage on an
 * arm64 kernel (the README's support matrix says so).
 */
import { spawn } from "child_process";
import { promises as fs } from "fs";
import path from "path";
import { inspectRootfs } from "../../provider/src/api";
import { agentCore } from "../../provider/src/adapters/remote/core";
import { installFor, localBundle } from "../../provider/src/adapters/remote/install";
import { AGENT_LINE, nodeBinary, pinOf } from "../../provider/src/adapters/remote/runtime";
import { tempDir } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";

jest.setTimeout(300_000);

const SYSROOT = "/usr/aarch64-linux-gnu";
let dir: string;
let lxcPath: string;

beforeAll(async () => {
  const bundle = await localBundle();
  const { files } = installFor(bundle, "arm64", "glibc");
  expect(files.map((f) => f.path).sort()).toEqual(["agent.js", "isolated-main.js", "linux_arm64/koffi.node"]);
  dir = await tempDir("arm64-agent");
  for (const f of files) {
    await fs.mkdir(path.dirname(path.join(dir, f.path)), { recursive: true });
    await fs.copyFile(path.join(bundle.dir, f.path), path.join(dir, f.path));
  }
  await fs.copyFile((await nodeBinary(AGENT_LINE, "arm64")).path, path.join(dir, "node"));
  await fs.chmod(path.join(dir, "node"), 0o755);
  // An arm64 ELF (e_machine 183, EM_AARCH64), which this machine cannot run by itself.
  expect((await fs.readFile(path.join(dir, "node"))).readUInt16LE(18)).toBe(183);
  lxcPath = await tempDir("arm64-lxc");
});

afterAll(async () => {
  await expectNoLeaksAndRemove(lxcPath);
  await fs.rm(dir, { recursive: true, force: true });
});

it("the arm64 agent on the arm64 Node.js answers an inspect, a dir create and a destroy", async () => {
  const child = spawn("qemu-aarch64-static", ["-L", SYSROOT, path.join(dir, "node"), path.join(dir, "agent.js")], {
    stdio: ["pipe", "pipe", "pipe"],
    cwd: "/",
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const core = agentCore({ stdin: child.stdin, stdout: child.stdout, stderr: child.stderr }, "arm64 agent");
  try {
    expect((await core.hello).node).toBe(`v${pinOf(AGENT_LINE, "arm64").version}`);
    const ref = { container: "a64", lxcPath };
    expect(await core.inspect(ref)).toBeNull();
    expect(await core.create({ ...ref, backingStore: "dir" })).toMatchObject({
      backingStore: "dir",
      rootfsPath: `dir:${lxcPath}/a64/rootfs`,
    });
    expect(await fs.readFile(path.join(lxcPath, "a64", "config"), "utf8")).toContain(`lxc.rootfs.path = dir:${lxcPath}/a64/rootfs`);
    expect(await core.inspect(ref)).toEqual(await inspectRootfs(ref));
    expect(await core.destroy(ref)).toEqual({ destroyed: true });
    expect(await fs.readdir(lxcPath)).toEqual([]);
  } finally {
    core.close();
  }
  expect(await exited).toBe(0);
});
