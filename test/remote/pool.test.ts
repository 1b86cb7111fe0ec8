/**
 * The pool of connections, in this process as in a provider's, against a real sshd: concurrent calls
 * share one login, an agent that dies is replaced at the next call, a connection that pins another host
 * key is checked on its own, never served by a pooled one, and a dead port fails its call alone.
 */
import net from "net";
import path from "path";
import { validateConnection } from "../../provider/src/adapters/remote/connection";
import { remoteCore } from "../../provider/src/adapters/remote/pool";
import { REPO, sh } from "../helpers/env";
import { SshHost, startSshHost } from "../helpers/sshd";

let h: SshHost;
const connection = () => validateConnection({ host: h.host, port: h.port, privateKey: h.privateKey, hostKey: h.hostKey });
const ref = () => ({ container: "nothing-here", lxcPath: h.lxcPath });

/** The pids of the agents running in the host's namespace. */
async function agentsOnHost(): Promise<string[]> {
  const r = await h.run([
    "sh",
    "-c",
    `ns=$(readlink /proc/${h.pid}/ns/mnt); for p in $(pgrep -f '[n]ode .*agent[.]js'); do [ "$(readlink /proc/$p/ns/mnt)" = "$ns" ] && echo $p; done; true`,
  ]);
  return r.stdout.split("\n").filter(Boolean);
}

beforeAll(async () => {
  h = await startSshHost();
}, 60_000);
afterAll(() => h.stop());

it("20 concurrent calls through 20 cores of one connection share one login and one agent", async () => {
  const before = await h.connections();
  const results = await Promise.all(Array.from({ length: 20 }, () => remoteCore(connection()).inspect(ref())));
  expect(results).toEqual(Array(20).fill(null));
  expect((await h.connections()) - before).toBe(1);
  expect(await agentsOnHost()).toHaveLength(1);
});

it("an agent that dies leaves the pool: the next call logs in again and is served", async () => {
  const core = remoteCore(connection());
  expect(await core.inspect(ref())).toBeNull();
  const [pid] = await agentsOnHost();
  const before = await h.connections();
  await h.run(["kill", "-9", pid]);
  // The channel's close reaches this process; until then a call may still meet the dead agent.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await core.inspect(ref()).then(
      (r) => ({ ok: true as const, r }),
      (e: Error) => ({ ok: false as const, e }),
    );
    if (answer.ok) {
      expect(answer.r).toBeNull();
      break;
    }
    expect(answer.e.message).toMatch(/channel closed/);
    if (Date.now() > deadline) throw answer.e;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect((await h.connections()) - before).toBe(1);
  expect(await agentsOnHost()).not.toContain(pid);
});

it("a connection pinning another host key gets its own dial and is refused, while the right one is pooled", async () => {
  expect(await remoteCore(connection()).inspect(ref())).toBeNull();
  const otherKey = { ...connection(), hostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
  await expect(remoteCore(otherKey).inspect(ref())).rejects.toThrow(/host key refused/);
});

it("a port that never speaks SSH fails the call and nothing else: ssh2's later errors do not end the process", async () => {
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    // In a process of its own, as in a provider: the call fails, then the process must live on to exit 0.
    const script = `
      const { remoteCore } = require(${JSON.stringify(path.join(REPO, "dist/provider/src/adapters/remote/pool.js"))});
      const { validateConnection } = require(${JSON.stringify(path.join(REPO, "dist/provider/src/adapters/remote/connection.js"))});
      const c = validateConnection({ host: "127.0.0.1", port: ${port}, dialErrorLimit: 1, perDialTimeout: 1 });
      remoteCore(c).inspect({ container: "x", lxcPath: "/x" }).then(
        () => process.exit(3),
        (e) => { console.log(e.message); setTimeout(() => process.exit(0), 3000); },
      );`;
    const r = await sh([process.execPath, "-e", script]);
    expect(r.stdout).toContain(`ssh root@127.0.0.1:${port}: Timed out while waiting for handshake`);
    expect(r).toMatchObject({ code: 0, stderr: "" });
  } finally {
    silent.close();
  }
});
