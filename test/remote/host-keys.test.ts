/**
 * Host key checks against OpenSSH's own files and output: keys and fingerprints made by ssh-keygen,
 * known_hosts lines hashed by `ssh-keygen -H`, ports, wildcards, negations and @revoked.
 */
import { promises as fs } from "fs";
import path from "path";
import { fingerprint, judgeHostKey, keyFromBlob, parseKnownHosts, PresentedKey } from "../../provider/src/adapters/remote/host-keys";
import { must, tempDir } from "../helpers/env";

let dir: string;
let key: PresentedKey;
let other: PresentedKey;
let line: string;

async function makeKey(name: string): Promise<{ key: PresentedKey; line: string }> {
  await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.join(dir, name)]);
  const pub = (await fs.readFile(path.join(dir, `${name}.pub`), "utf8")).trim();
  return { key: keyFromBlob(Buffer.from(pub.split(" ")[1], "base64")), line: pub };
}

beforeAll(async () => {
  dir = await tempDir("hostkeys");
  ({ key, line } = await makeKey("host"));
  ({ key: other } = await makeKey("other"));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const judge = (knownHosts: string, host = "web.lab", port = 22, hostKey?: string) =>
  judgeHostKey(host, port, key, { hostKey, knownHosts: parseKnownHosts(knownHosts) });
const b64 = (k: PresentedKey) => k.blob.toString("base64");

it("reads the key type from the blob and prints the fingerprint ssh-keygen -l prints", async () => {
  expect(key.type).toBe("ssh-ed25519");
  const printed = await must(["ssh-keygen", "-l", "-f", path.join(dir, "host.pub")]);
  expect(printed.split(" ")[1]).toBe(fingerprint(key.blob));
});

it("accepts the pinned hostKey, as a key line or a fingerprint, and refuses another with the line to pin", () => {
  expect(judge("", "web.lab", 22, line)).toEqual({ ok: true });
  expect(judge("", "web.lab", 22, fingerprint(key.blob))).toEqual({ ok: true });
  const refused = judge(`web.lab ssh-ed25519 ${b64(key)}`, "web.lab", 22, `ssh-ed25519 ${b64(other)}`);
  expect(refused).toEqual({ ok: false, reason: expect.stringContaining(`not the pinned hostKey`) });
  expect(JSON.stringify(refused)).toContain(`web.lab ssh-ed25519 ${b64(key)}`);
});

it("accepts a host listed in known_hosts, plain or hashed by ssh-keygen -H, on port 22 or another", async () => {
  const file = path.join(dir, "known_hosts");
  await fs.writeFile(file, `web.lab ssh-ed25519 ${b64(key)}\n[web.lab]:2222 ssh-ed25519 ${b64(key)}\n`);
  expect(judge(await fs.readFile(file, "utf8"))).toEqual({ ok: true });
  await must(["ssh-keygen", "-H", "-f", file]);
  const hashed = await fs.readFile(file, "utf8");
  expect(hashed).not.toContain("web.lab");
  expect(judge(hashed)).toEqual({ ok: true });
  expect(judge(hashed, "WEB.lab", 2222)).toEqual({ ok: true });
  expect(judge(hashed, "web.lab", 2200)).toMatchObject({
    ok: false,
    reason: expect.stringMatching(/^\[web\.lab\]:2200 is not in known_hosts/),
  });
  // ssh-keygen -F finds the hashed entries the same way.
  expect(await must(["ssh-keygen", "-F", "[web.lab]:2222", "-f", file])).toContain("ssh-ed25519");
});

it("refuses an unknown host, a changed key and a revoked one, saying which and giving the line to pin", () => {
  expect(judge("")).toMatchObject({ ok: false, reason: expect.stringContaining(`add to known_hosts: web.lab ssh-ed25519 ${b64(key)}`) });
  expect(judge(`web.lab ssh-ed25519 ${b64(other)}`)).toMatchObject({
    ok: false,
    reason: expect.stringMatching(/not the key known_hosts lists for it/),
  });
  expect(judge(`web.lab ssh-ed25519 ${b64(key)}\n@revoked * ssh-ed25519 ${b64(key)}`)).toMatchObject({
    ok: false,
    reason: expect.stringMatching(/@revoked/),
  });
});

it("matches wildcards and negations as OpenSSH does, in any case", () => {
  expect(judge(`*.lab ssh-ed25519 ${b64(key)}`)).toEqual({ ok: true });
  expect(judge(`!BAD.lab,*.lab ssh-ed25519 ${b64(key)}`, "bad.lab")).toMatchObject({ ok: false });
  expect(judge(`!bad.lab,*.LAB ssh-ed25519 ${b64(key)}`, "Web.Lab")).toEqual({ ok: true });
  expect(judge(`web.la? ssh-ed25519 ${b64(key)}`)).toEqual({ ok: true });
  expect(judge(`web.lab.evil ssh-ed25519 ${b64(key)}`)).toMatchObject({ ok: false });
});
