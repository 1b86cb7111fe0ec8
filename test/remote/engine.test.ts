/**
 * Rootfs on remote hosts through the real engine: two real sshds, each a host whose lxcPath the test
 * process cannot see, 20 rootfs over both with --parallel 20, one SSH connection per host per provider
 * process, a store change keeping a marker's bytes, drift, a host change replacing, a key rotation with no
 * diff, no key material in the state or the engine's output, and a destroy that leaves both hosts empty.
 */
import { promises as fs } from "fs";
import path from "path";
import { fingerprint } from "../../provider/src/adapters/remote/host-keys";
import { ed25519KeyPair, REPO } from "../helpers/env";
import { makeStack, TestStack } from "../helpers/pulumi";
import { connectionTo, inside, SshHost, startSshHost } from "../helpers/sshd";

// The compiled package, as a user gets it: what the engine's dynamic provider host will load.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const M = 2 ** 20;
const N = 20;
let a: SshHost;
let b: SshHost;
let t: TestStack;
/** What the program declares, by resource name: edited between runs. */
const desired = new Map<string, Record<string, unknown>>();
/** Every private key the program has held, for the search of the state and the output. */
const keys: string[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startSshHost({ fs: "btrfs", size: "2G" }), startSshHost({ size: "2G" })]);
  for (let i = 0; i < N; i++) {
    const h = i % 2 === 0 ? a : b;
    desired.set(`r${i}`, { container: `r${i}`, lxcPath: h.lxcPath, backingStore: "loop", size: "64M", connection: connectionTo(h) });
  }
  t = await makeStack("remote", async () => {
    const outs: Record<string, unknown> = {};
    for (const [name, args] of desired) outs[name] = new Rootfs(name, args).id;
    return outs;
  });
}, 120_000);

afterAll(async () => {
  await t?.destroy().catch(() => undefined);
  await Promise.all([a?.stop(), b?.stop()]);
});

const containersOn = async (h: SshHost) =>
  (await inside(h, `ls ${h.lxcPath}`))
    .split("\n")
    .filter((n) => /^r\d+$/.test(n))
    .sort();

describe("remote hosts through the engine", () => {
  it("up makes 20 rootfs over two hosts, with one SSH connection per host", async () => {
    const before = [await a.connections(), await b.connections()];
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput, parallel: 20 }));
    expect(result.summary.resourceChanges).toEqual({ create: N + 1 });
    expect(await containersOn(a)).toEqual([...desired.keys()].filter((_, i) => i % 2 === 0).sort());
    expect(await containersOn(b)).toEqual([...desired.keys()].filter((_, i) => i % 2 === 1).sort());
    // Each image is real on its host: ext4, 64 MiB, sparse.
    expect(await inside(a, `blkid -o value -s TYPE ${a.lxcPath}/r0/rootdev`)).toBe("ext4");
    expect(Number(await inside(b, `stat -c %s ${b.lxcPath}/r1/rootdev`))).toBe(64 * M);
    // The test process sees none of it: nothing ran locally.
    expect(await fs.readdir(a.lxcPath)).toEqual([]);
    expect(await fs.readdir(b.lxcPath)).toEqual([]);
    expect(result.outputs.r0.value).toBe(`${a.host}:${a.lxcPath}/r0`);
    expect([(await a.connections()) - before[0], (await b.connections()) - before[1]]).toEqual([1, 1]);
  });

  it("a preview and a refresh show no changes, and a refresh opens one connection per host", async () => {
    const { result: preview } = await t.run((onOutput) => t.stack.preview({ onOutput, parallel: 20 }));
    expect(preview.changeSummary).toEqual({ same: N + 1 });
    const before = [await a.connections(), await b.connections()];
    const { result: refresh } = await t.run((onOutput) => t.stack.refresh({ onOutput, parallel: 20 }));
    expect(refresh.summary.resourceChanges).toEqual({ same: N + 1 });
    expect([(await a.connections()) - before[0], (await b.connections()) - before[1]]).toEqual([1, 1]);
  });

  it("loop → btrfs on one host keeps a marker's bytes, and the preview read the plan from that host", async () => {
    await inside(a, `mkdir -p ${a.lxcPath}/seed && head -c 3M /dev/urandom > ${a.lxcPath}/seed/marker`);
    const marker = (await inside(a, `sha256sum ${a.lxcPath}/seed/marker`)).split(" ")[0];
    desired.set("m", {
      container: "m",
      lxcPath: a.lxcPath,
      backingStore: "loop",
      size: "64M",
      from: `dir:${a.lxcPath}/seed`,
      connection: connectionTo(a),
    });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    desired.set("m", { container: "m", lxcPath: a.lxcPath, backingStore: "btrfs", connection: connectionTo(a) });
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toMatch(/rootfs .*\/m: copy [3-9] MiB file by file from loop ext4 64(\.0)? MiB into a new btrfs/);
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.summary.resourceChanges).toMatchObject({ update: 1 });
    expect(
      await inside(a, `stat -f -c %T ${a.lxcPath}/m/rootfs && btrfs subvolume show ${a.lxcPath}/m/rootfs >/dev/null && echo subvolume`),
    ).toBe("btrfs\nsubvolume");
    expect((await inside(a, `sha256sum ${a.lxcPath}/m/rootfs/marker`)).split(" ")[0]).toBe(marker);
    expect(await inside(a, `test -e ${a.lxcPath}/m/rootdev && echo left || echo gone`)).toBe("gone");
  });

  it("refresh sees a resize made out of band on the host", async () => {
    await inside(b, `truncate -s 96M ${b.lxcPath}/r1/rootdev`);
    await t.run((onOutput) => t.stack.refresh({ onOutput }));
    const state = await t.stack.exportStack();
    const r1 = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("::r1"));
    expect(r1.outputs.sizeBytes).toBe(96 * M);
  });

  it("a host change replaces the rootfs: made on the new host, deleted from the old", async () => {
    desired.set("r2", { ...desired.get("r2"), lxcPath: b.lxcPath, connection: connectionTo(b) });
    const { result: preview } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(preview.changeSummary).toMatchObject({ replace: 1 });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(await containersOn(b)).toContain("r2");
    expect(await containersOn(a)).not.toContain("r2");
  });

  it("a rotated key shows no diff, and the next update logs in with it", async () => {
    const rotated = ed25519KeyPair();
    keys.push(rotated.private);
    await fs.appendFile(path.join(a.scratch, "authorized_keys"), `${rotated.public}\n`);
    for (const [name, args] of desired) {
      if ((args.connection as { port: number }).port === a.port)
        desired.set(name, { ...args, connection: connectionTo(a, { privateKey: rotated.private }) });
    }
    const { result } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(result.changeSummary).toEqual({ same: desired.size + 1 });
    // An update logs in with the key of the program: sshd names the key it accepted. (Refresh and destroy
    // of the dynamic provider get the state's outputs alone, so they use the key of the last update.)
    desired.set("r0", { ...desired.get("r0"), size: "80M" });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    const accepted = (await fs.readFile(a.logFile, "utf8")).split("\n").filter((l) => l.includes("Accepted publickey"));
    expect(accepted[accepted.length - 1]).toContain(fingerprint(Buffer.from(rotated.public.split(" ")[1], "base64")));
  });

  it("no key material reaches the state file or the engine's output", async () => {
    const body = (key: string) => key.split("\n").find((l) => l.length > 40 && !l.startsWith("-----")) as string;
    const stateDir = path.join(t.dir, "state");
    const files = await fs.readdir(stateDir, { recursive: true });
    let state = "";
    for (const f of files) {
      const p = path.join(stateDir, String(f));
      if ((await fs.stat(p)).isFile()) state += await fs.readFile(p, "utf8");
    }
    expect(state).toContain("r0");
    for (const key of [a.privateKey, b.privateKey, ...keys]) {
      expect(state).not.toContain(body(key));
      expect(t.output.join("")).not.toContain(body(key));
    }
  });

  it("destroy leaves nothing on either host", async () => {
    await t.run((onOutput) => t.stack.destroy({ onOutput, parallel: 20 }));
    expect(await containersOn(a)).toEqual([]);
    expect(await containersOn(b)).toEqual([]);
    expect(await inside(a, `ls ${a.lxcPath} | grep -v '^seed$' || true`)).toBe("");
    for (const h of [a, b]) expect(await inside(h, `losetup -a | grep -F ${h.lxcPath} || true`)).toBe("");
  });
});
