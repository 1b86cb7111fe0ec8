/**
 * The agent's upload onto a host with no Node.js, through a real sshd: every file is read back on the host
 * against its sha256 before the upload is renamed into place. A file changed on the way (one byte of
 * agent.js, or of the gzipped Node.js, flipped in a copy whose expected sum is still the true one) is
 * named, the upload is removed, and nothing of it runs; the whole install then answers, on the Node.js it
 * brought. First contact is measured on the host: the bytes sftp-server wrote, and the seconds to the
 * agent's hello; a second connection uploads nothing. An agents' directory on a noexec mount is refused
 * before anything is uploaded.
 */
import { promises as fs } from "fs";
import path from "path";
import type { Client } from "ssh2";
import { REPO, tempDir } from "../helpers/env";
import { connectionTo, inside, ROOT_AGENTS, SshHost, startSshHost } from "../helpers/sshd";
import { validateConnection } from "../../provider/src/adapters/remote/connection";
import { Bundle, installFor, localBundle, startAgent } from "../../provider/src/adapters/remote/install";
import { AGENT_LINE, compressedNode, pinOf } from "../../provider/src/adapters/remote/runtime";
import { dial } from "../../provider/src/adapters/remote/ssh";

jest.setTimeout(120_000);

let h: SshHost;
let client: Client;
const arch = process.arch as "x64";

beforeAll(async () => {
  h = await startSshHost();
  client = await dial(validateConnection(connectionTo(h)), []);
  // Made (or taken from the cache) before any test measures an upload.
  await compressedNode(arch);
}, 300_000);

afterAll(async () => {
  client?.end();
  await h?.stop();
});

/** A copy of `file` with one byte flipped in its middle. */
async function flipped(file: string): Promise<string> {
  const copy = path.join(await tempDir("corrupt"), path.basename(file));
  const data = await fs.readFile(file);
  data[Math.floor(data.length / 2)] ^= 0x01;
  await fs.writeFile(copy, data);
  return copy;
}

/** A copy of the bundle with one byte of `file` flipped, under the same manifest. */
async function corrupted(bundle: Bundle, file: string): Promise<Bundle> {
  const dir = await tempDir("corrupt-bundle");
  await fs.cp(bundle.dir, dir, { recursive: true });
  await fs.copyFile(await flipped(path.join(bundle.dir, file)), path.join(dir, file));
  return { ...bundle, dir };
}

async function nothingInstalledOrRun(): Promise<void> {
  // Neither the final directory nor the temporary one is there, and no agent process started.
  expect(await inside(h, `ls -A ${ROOT_AGENTS} 2>/dev/null; true`)).toBe("");
  expect((await h.run(["pgrep", "-f", "agent.js"])).code).toBe(1);
}

it("the host has no Node.js at all", async () => {
  expect((await h.run(["sh", "-c", "command -v node nodejs"])).stdout).toBe("");
});

it("refuses an upload whose file differs from the manifest, naming it; nothing is installed or run", async () => {
  const bundle = await localBundle();
  expect(bundle.dir).toBe(path.join(REPO, "dist", "bundle"));
  expect(bundle.manifest.files.map((f) => f.path)).toContain("agent.js");
  await expect(startAgent(client, "root", "test host", { bundle: await corrupted(bundle, "agent.js") })).rejects.toThrow(
    /test host: the agent uploaded to \S+ is not whole \(agent\.js: not the sha256 expected\); it is removed, and nothing of it ran/,
  );
  await nothingInstalledOrRun();
});

it("refuses a Node.js whose upload differs by one byte, naming node.gz; nothing is installed or run", async () => {
  const runtime = await compressedNode(arch);
  const bad = { ...runtime, gz: await flipped(runtime.gz) };
  await expect(startAgent(client, "root", "test host", { runtime: async () => bad })).rejects.toThrow(
    /test host: the agent uploaded to \S+ is not whole \(node\.gz: not the sha256 expected\); it is removed, and nothing of it ran/,
  );
  await nothingInstalledOrRun();
});

it("first contact: installs the host's files and Node.js, checked, and the agent answers on that Node.js; a second connection uploads nothing", async () => {
  const bundle = await localBundle();
  const runtime = await compressedNode(arch);
  const { name, files } = installFor(bundle, arch, "glibc");
  const dir = `${ROOT_AGENTS}/${name}`;
  const before = await h.uploaded();
  const started = Date.now();
  const core = await startAgent(client, "root", "test host");
  try {
    const hello = await core.hello;
    const seconds = (Date.now() - started) / 1000;
    const bytes = (await h.uploaded()) - before;
    expect(hello.version).toBe(bundle.manifest.version);
    expect(hello.node).toBe(`v${pinOf(AGENT_LINE, arch).version}`);
    // The host's files alone: no other architecture's or libc's native module, node.gz unpacked.
    expect(files.map((f) => f.path).sort()).toEqual(["agent.js", "isolated-main.js", "linux_x64/koffi.node"]);
    expect(await inside(h, `cd ${dir} && find . -type f | sort`)).toBe(
      ["agent.js", "isolated-main.js", "linux_x64/koffi.node", "manifest.json", "node"].map((f) => `./${f}`).join("\n"),
    );
    for (const f of [...files, { path: "node", sha256: runtime.sha256 }])
      expect((await inside(h, `sha256sum ${dir}/${f.path}`)).split(" ")[0]).toBe(f.sha256);
    // The agent's process runs the uploaded binary.
    const pid = await inside(h, `pgrep -f '^${dir}/node ${dir}/agent.js$'`);
    expect(await inside(h, `readlink /proc/${pid}/exe`)).toBe(`${dir}/node`);
    // What went over the wire, counted on the host: node.gz, the files, and the manifest.
    const sizes = await Promise.all(
      [runtime.gz, ...files.map((f) => path.join(bundle.dir, f.path))].map((f) => fs.stat(f).then((s) => s.size)),
    );
    const manifest = Number(await inside(h, `stat -c %s ${dir}/manifest.json`));
    expect(bytes).toBe(sizes.reduce((a, b) => a + b, 0) + manifest);
    console.log(`first contact: ${bytes} bytes uploaded, hello after ${seconds.toFixed(1)} s`);
  } finally {
    core.close();
    await core.ended.catch(() => undefined);
  }
  // A second provider process: its own connection, the same host.
  const second = await dial(validateConnection(connectionTo(h)), []);
  try {
    const before2 = await h.uploaded();
    const started2 = Date.now();
    const core2 = await startAgent(second, "root", "test host");
    expect((await core2.hello).node).toBe(`v${pinOf(AGENT_LINE, arch).version}`);
    const bytes = (await h.uploaded()) - before2;
    console.log(`second contact: ${bytes} bytes uploaded, hello after ${((Date.now() - started2) / 1000).toFixed(1)} s`);
    expect(bytes).toBe(0);
    core2.close();
    await core2.ended.catch(() => undefined);
  } finally {
    second.end();
  }
});

it("an agent directory on a noexec mount is refused before any upload, naming the mount", async () => {
  // Before this check the agent was uploaded and started there, and failed on its first request with
  // koffi's "Cannot find the native Koffi module": a native module is not loaded from a noexec mount.
  await inside(h, `rm -rf ${ROOT_AGENTS}/* && mount -o remount,noexec ${ROOT_AGENTS}`);
  try {
    await expect(startAgent(client, "root", "test host")).rejects.toThrow(
      `test host: ${ROOT_AGENTS} is on ${ROOT_AGENTS} mounted noexec, where the agent and its Node.js cannot run: mount it without noexec, or give root a home on a filesystem that allows execution`,
    );
    expect(await inside(h, `ls -A ${ROOT_AGENTS}`)).toBe("");
  } finally {
    await inside(h, `mount -o remount,exec ${ROOT_AGENTS}`);
  }
});

it("a host without sha256sum: the error says the check could not run, and nothing is installed", async () => {
  await inside(h, `rm -rf ${ROOT_AGENTS}/* && mount --bind /dev/null /usr/bin/sha256sum`);
  try {
    await expect(startAgent(client, "root", "test host")).rejects.toThrow(
      /test host: could not check the uploaded agent: sha256sum exited 12[67]: .*[Pp]ermission denied/,
    );
    expect(await inside(h, `ls -A ${ROOT_AGENTS}`)).toBe("");
  } finally {
    await inside(h, "umount /usr/bin/sha256sum");
  }
});
