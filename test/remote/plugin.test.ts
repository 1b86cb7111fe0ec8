/**
 * The plugin `pulumi-resource-lxc` on a remote host, through the `pulumi` CLI and a program on the
 * generated Node.js SDK: the plan line read from the host under the resource, the connection secret in
 * the state, and a key rotation with no diff after which refresh and destroy log in with the new key
 * alone (the old one is no longer authorized).
 */
import { promises as fs } from "fs";
import path from "path";
import { fingerprint } from "../../provider/src/adapters/remote/host-keys";
import { ed25519KeyPair } from "../helpers/env";
import { CliProject, cliProject } from "../helpers/pulumi";
import { inside, SshHost, startSshHost } from "../helpers/sshd";

const PROJECT = path.join(__dirname, "fixtures", "plugin-remote");
const M = 2 ** 20;
let h: SshHost;
let work: string;
let pulumi: CliProject["pulumi"];
let cleanup: CliProject["cleanup"];

const ok = async (...args: string[]) => {
  const r = await pulumi(...args);
  if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}: ${r.text}`);
  return r.text;
};
/** The fingerprint of the key sshd accepted last. */
const lastAccepted = async (): Promise<string> => {
  const lines = (await fs.readFile(h.logFile, "utf8")).split("\n").filter((l) => l.includes("Accepted publickey"));
  return lines[lines.length - 1].trim().split(" ").pop() as string;
};

beforeAll(async () => {
  h = await startSshHost();
  ({ work, pulumi, cleanup } = await cliProject("plugin-remote", PROJECT, "remote"));
  await ok("stack", "init", "remote");
  for (const [k, v] of Object.entries({
    host: h.host,
    port: String(h.port),
    hostKey: h.hostKey,
    lxcPath: h.lxcPath,
    privateKeyFile: h.keyFile,
  }))
    await ok("config", "set", k, v);
}, 120_000);

afterAll(async () => {
  await pulumi("destroy", "--yes");
  await cleanup();
  await h.stop();
});

it("up on the host, with the connection secret in the state and the plan line read from the host", async () => {
  const up = await ok("up", "--yes");
  expect(up).toMatch(new RegExp(`id\\s*:\\s*"${h.host}:${h.lxcPath}/web"`));
  expect(Number(await inside(h, `stat -c %s ${h.lxcPath}/web/rootdev`))).toBe(64 * M);
  await expect(fs.access(path.join(h.lxcPath, "web"))).rejects.toThrow(/ENOENT/);

  const state = JSON.parse(await ok("stack", "export", "--stack", "remote"));
  const web = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("lxc:index:Rootfs::web"));
  expect(web.inputs.connection).toMatchObject({ ciphertext: expect.any(String) });
  expect(web.outputs.connection).toMatchObject({ ciphertext: expect.any(String) });
  const keyBody = h.privateKey.split("\n")[1];
  expect(JSON.stringify(state)).not.toContain(keyBody);

  await ok("config", "set", "backingStore", "dir");
  const preview = await ok("preview");
  expect(preview).toMatch(/rootfs .*\/web: copy \d+ MiB file by file from loop ext4 64(\.0)? MiB into a new dir/);
  expect(preview + up).not.toContain(keyBody);
  await ok("up", "--yes");
  expect(await inside(h, `ls ${h.lxcPath}/web`)).toMatch(/^rootfs$/m);
});

it("a rotated key: no diff, then refresh and destroy log in with the new key alone", async () => {
  const rotated = ed25519KeyPair();
  const newKeyFile = path.join(work, "rotated_ed25519");
  await fs.writeFile(newKeyFile, rotated.private, { mode: 0o600 });
  await fs.appendFile(path.join(h.scratch, "authorized_keys"), `${rotated.public}\n`);
  await ok("config", "set", "privateKeyFile", newKeyFile);
  expect(await ok("preview", "--expect-no-changes")).toMatch(/2 unchanged/);
  await ok("up", "--yes", "--expect-no-changes");

  // Only the new key is authorized now: anything still using the old one would fail to log in.
  await fs.writeFile(path.join(h.scratch, "authorized_keys"), `${rotated.public}\n`);
  const newKey = fingerprint(Buffer.from(rotated.public.split(" ")[1], "base64"));
  await ok("refresh", "--yes");
  expect(await lastAccepted()).toBe(newKey);
  await ok("destroy", "--yes");
  expect(await lastAccepted()).toBe(newKey);
  expect(await inside(h, `ls -A ${h.lxcPath}`)).toBe("");
});
