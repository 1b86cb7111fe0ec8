/**
 * The agent's upload onto a host, through a real sshd: every file is read back on the host against the
 * manifest's sha256 before the upload is renamed into place. A file changed on the way (here one byte of
 * agent.js, flipped in a copy of the bundle whose manifest still gives the true sum) is named, the upload
 * is removed, and nothing of it runs; the whole bundle then installs and answers. An agents' directory on a
 * noexec mount is refused before anything is uploaded.
 */
import { promises as fs } from "fs";
import path from "path";
import type { Client } from "ssh2";
import { REPO, tempDir } from "../helpers/env";
import { connectionTo, inside, ROOT_AGENTS, SshHost, startSshHost } from "../helpers/sshd";
import { validateConnection } from "../../provider/src/adapters/remote/connection";
import { Bundle, localBundle, startAgent } from "../../provider/src/adapters/remote/install";
import { dial } from "../../provider/src/adapters/remote/ssh";

jest.setTimeout(60_000);

let h: SshHost;
let client: Client;

beforeAll(async () => {
  h = await startSshHost();
  client = await dial(validateConnection(connectionTo(h)), []);
});

afterAll(async () => {
  client?.end();
  await h?.stop();
});

/** A copy of the bundle with one byte of `file` flipped, under the same manifest and name. */
async function corrupted(bundle: Bundle, file: string): Promise<Bundle> {
  const dir = await tempDir("corrupt-bundle");
  await fs.cp(bundle.dir, dir, { recursive: true });
  const data = await fs.readFile(path.join(dir, file));
  data[Math.floor(data.length / 2)] ^= 0x01;
  await fs.writeFile(path.join(dir, file), data);
  return { ...bundle, dir };
}

it("refuses an upload whose file differs from the manifest, naming it; nothing is installed or run", async () => {
  const bundle = await localBundle();
  expect(bundle.dir).toBe(path.join(REPO, "dist", "bundle"));
  expect(bundle.manifest.files.map((f) => f.path)).toContain("agent.js");
  await expect(startAgent(client, "root", "test host", await corrupted(bundle, "agent.js"))).rejects.toThrow(
    /test host: the agent uploaded to \S+ is not whole \(agent\.js: not the sha256 the manifest gives\); it is removed, and nothing of it ran/,
  );
  // Neither the final directory nor the temporary one is there, and no agent process started.
  expect(await inside(h, `ls -A ${ROOT_AGENTS} 2>/dev/null; true`)).toBe("");
  expect((await h.run(["pgrep", "-f", "agent.js"])).code).toBe(1);
});

it("installs the whole bundle, checked, and the agent answers", async () => {
  const bundle = await localBundle();
  const core = await startAgent(client, "root", "test host", bundle);
  try {
    expect(await core.version).toBe(bundle.manifest.version);
    expect(await inside(h, `ls -A ${ROOT_AGENTS}`)).toBe(bundle.name);
    // What is on the host is what the manifest says, file by file.
    for (const f of bundle.manifest.files) {
      expect((await inside(h, `sha256sum ${ROOT_AGENTS}/${bundle.name}/${f.path}`)).split(" ")[0]).toBe(f.sha256);
    }
  } finally {
    core.close();
    await core.ended.catch(() => undefined);
  }
});

it("an agent directory on a noexec mount is refused before any upload, naming the mount", async () => {
  // Before this check the agent was uploaded and started there, and failed on its first request with
  // koffi's "Cannot find the native Koffi module": a native module is not loaded from a noexec mount.
  await inside(h, `rm -rf ${ROOT_AGENTS}/* && mount -o remount,noexec ${ROOT_AGENTS}`);
  try {
    await expect(startAgent(client, "root", "test host")).rejects.toThrow(
      `test host: ${ROOT_AGENTS} is on ${ROOT_AGENTS} mounted noexec, where the agent's native module cannot be loaded: mount it without noexec, or give root a home on a filesystem that allows execution`,
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
      /test host: could not check the uploaded agent: sha256sum exited 126: .*[Pp]ermission denied/,
    );
    expect(await inside(h, `ls -A ${ROOT_AGENTS}`)).toBe("");
  } finally {
    await inside(h, "umount /usr/bin/sha256sum");
  }
});
