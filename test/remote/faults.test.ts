/**
 * What goes wrong between Pulumi and a remote host, through the real engine and real sshds, with the
 * state and the hosts checked afterwards: a closed port, a port that never speaks SSH, a wrong host key,
 * the SSH session killed mid-update, an agent of another version on the host, a user without sudo, and
 * the path through a bastion.
 */
import { promises as fs } from "fs";
import net from "net";
import path from "path";
import { must, REPO, sh, tempDir } from "../helpers/env";
import { makeStack, TestStack } from "../helpers/pulumi";
import { connectionTo, inside, ROOT_AGENTS, SshHost, startSshHost } from "../helpers/sshd";
import { installFor, localBundle } from "../../provider/src/adapters/remote/install";
import { AGENT_LINE, cacheRoot, nodeBinary } from "../../provider/src/adapters/remote/runtime";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const M = 2 ** 20;
let a: SshHost;
let b: SshHost;
const stacks: TestStack[] = [];

/** A stack of one rootfs whose arguments the test edits between runs. */
async function oneRootfs(label: string, args: Record<string, unknown>): Promise<{ t: TestStack; args: Record<string, unknown> }> {
  const t = await makeStack(label, async () => {
    new Rootfs("r", args);
  });
  stacks.push(t);
  return { t, args };
}

/** The Rootfs resources the state holds. */
async function rootfsInState(t: TestStack): Promise<Array<{ outputs: Record<string, unknown> }>> {
  const state = await t.stack.exportStack();
  return (state.deployment.resources ?? []).filter((r: { type: string }) => r.type.endsWith("lxc:Rootfs"));
}

async function upFails(t: TestStack): Promise<{ message: string; seconds: number }> {
  const started = Date.now();
  const error = await t
    .run((onOutput) => t.stack.up({ onOutput }))
    .then(
      () => new Error("up succeeded"),
      (e: Error) => e,
    );
  return { message: error.message, seconds: (Date.now() - started) / 1000 };
}

beforeAll(async () => {
  [a, b] = await Promise.all([startSshHost({ size: "2G" }), startSshHost({ size: "1G" })]);
}, 60_000);

afterAll(async () => {
  for (const t of stacks) await t.destroy().catch(() => undefined);
  await Promise.all([a?.stop(), b?.stop()]);
});

describe("a host that cannot be reached", () => {
  it("a closed port: an error naming the host within the dial limits, nothing in the state", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const { t } = await oneRootfs("closed", {
      container: "r",
      lxcPath: a.lxcPath,
      backingStore: "dir",
      connection: { ...connectionTo(a), port: closed, dialErrorLimit: 3, perDialTimeout: 2 },
    });
    const { message, seconds } = await upFails(t);
    expect(message).toContain(`ssh root@127.0.0.1:${closed}: connect ECONNREFUSED`);
    expect(message).toContain("after 3 dials of at most 2 s");
    expect(seconds).toBeLessThan(30);
    expect(await rootfsInState(t)).toEqual([]);
  });

  it("a port that accepts but never speaks SSH: the dial times out, naming the host", async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const { t } = await oneRootfs("silent", {
        container: "r",
        lxcPath: a.lxcPath,
        backingStore: "dir",
        connection: { ...connectionTo(a), port, dialErrorLimit: 2, perDialTimeout: 2 },
      });
      const { message, seconds } = await upFails(t);
      expect(message).toContain(`ssh root@127.0.0.1:${port}: Timed out while waiting for handshake (after 2 dials of at most 2 s)`);
      expect(seconds).toBeGreaterThan(4);
      expect(seconds).toBeLessThan(40);
      expect(await rootfsInState(t)).toEqual([]);
    } finally {
      silent.close();
    }
  });

  it("a wrong host key: refused with the key line to pin, before any login, so nothing ran", async () => {
    const before = await a.connections();
    const { t } = await oneRootfs("hostkey", {
      container: "r",
      lxcPath: a.lxcPath,
      backingStore: "dir",
      connection: connectionTo(a, { hostKey: b.hostKey }),
    });
    const { message } = await upFails(t);
    expect(message).toContain(`host key refused: [127.0.0.1]:${a.port} presented ssh-ed25519 SHA256:`);
    expect(message).toContain(`set hostKey to "${a.hostKey}"`);
    expect(await a.connections()).toBe(before);
    expect(await inside(a, `ls -A ${a.lxcPath}`)).toBe("");
    expect(await rootfsInState(t)).toEqual([]);
  });
});

describe("a session that dies", () => {
  it("killed mid-update: the agent finishes the move, the data is intact, and the next up converges", async () => {
    await inside(a, `mkdir -p ${a.lxcPath}/seed && head -c 300M /dev/urandom > ${a.lxcPath}/seed/big`);
    const marker = (await inside(a, `sha256sum ${a.lxcPath}/seed/big`)).split(" ")[0];
    const { t, args } = await oneRootfs("killed", {
      container: "k",
      lxcPath: a.lxcPath,
      backingStore: "loop",
      size: "512M",
      from: `dir:${a.lxcPath}/seed`,
      connection: connectionTo(a),
    });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    args.backingStore = "dir";
    delete args.size;
    const up = upFails(t);
    // The copy is under way when the new tree appears; then every SSH session on the host is killed.
    const deadline = Date.now() + 60_000;
    while (!(await inside(a, `ls ${a.lxcPath}/k`)).includes("lxc-rootfs-new")) {
      if (Date.now() > deadline) throw new Error("the move never started");
      await new Promise((r) => setTimeout(r, 20));
    }
    // Only this host's sessions: the processes named sshd in its namespace, its listener spared.
    await inside(
      a,
      `ns=$(readlink /proc/${a.pid}/ns/mnt); for p in $(pgrep -x sshd); do [ "$p" = ${a.pid} ] && continue; [ "$(readlink /proc/$p/ns/mnt)" = "$ns" ] && kill -9 "$p"; done; true`,
    );
    const { message } = await up;
    expect(message).toMatch(/channel closed|Connection lost|ECONNRESET|No response/i);
    // The agent finishes what was in flight on its own; wait for it to go.
    const finishing = Date.now() + 120_000;
    while ((await a.run(["pgrep", "-f", "agent.js"])).code === 0) {
      if (Date.now() > finishing) throw new Error("the agent did not finish within 2 minutes");
      await new Promise((r) => setTimeout(r, 100));
    }
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.summary.result).toBe("succeeded");
    expect((await rootfsInState(t))[0].outputs.backingStore).toBe("dir");
    expect((await inside(a, `sha256sum ${a.lxcPath}/k/rootfs/big`)).split(" ")[0]).toBe(marker);
    expect(await inside(a, `ls -A ${a.lxcPath}/k`)).not.toMatch(/rootdev|lxc-rootfs-(new|old)/);
  });
});

describe("the agent and the user on the host", () => {
  it("an agent of another version unused for a day is replaced; one used recently is left to its provider", async () => {
    // Root's agent directory is the host's own (a tmpfs in its namespace): a host that has older agents.
    await inside(
      b,
      `rm -rf ${ROOT_AGENTS}/* && mkdir ${ROOT_AGENTS}/0.0.0-0000000000000000 ${ROOT_AGENTS}/0.0.1-1111111111111111 && echo '{}' > ${ROOT_AGENTS}/0.0.0-0000000000000000/manifest.json && touch -d '2 days ago' ${ROOT_AGENTS}/0.0.0-0000000000000000`,
    );
    const { t } = await oneRootfs("stale", { container: "s", lxcPath: b.lxcPath, backingStore: "dir", connection: connectionTo(b) });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    const { name } = installFor(await localBundle(), process.arch as "x64", "glibc");
    expect((await inside(b, `ls ${ROOT_AGENTS}`)).split("\n").sort()).toEqual([name, "0.0.1-1111111111111111"].sort());
    expect(await inside(b, `test -d ${b.lxcPath}/s/rootfs && echo made`)).toBe("made");
  });

  it("a host with Debian 12's Node.js 18 as its node: the agent runs on the one it brings, and the host's is never run", async () => {
    // Debian's own build (scripts/setup-test-host.sh unpacks its packages into the cache), run through a
    // wrapper at /usr/bin/node that leaves a mark whenever it runs at all. Its externalized builtins load
    // from /usr/share/nodejs, laid over the host's /usr/share.
    const cache = cacheRoot();
    const debian = (await fs.readdir(cache))
      .filter((d) => d.startsWith("debian-nodejs-18."))
      .sort()
      .pop();
    if (!debian) throw new Error(`no Debian nodejs 18 in ${cache}: scripts/setup-test-host.sh unpacks it`);
    const root = path.join(cache, debian);
    const scratch = await tempDir("old-node");
    const mark = path.join(scratch, "ran");
    const old = path.join(scratch, "node");
    await fs.writeFile(
      old,
      `#!/bin/sh\necho "$@" >>${mark}\nLD_LIBRARY_PATH=${root}/usr/lib/x86_64-linux-gnu exec ${root}/usr/bin/node "$@"\n`,
      { mode: 0o755 },
    );
    const h = await startSshHost({ hostNode: old, hostShare: path.join(root, "usr", "share") });
    try {
      // fetch is one of the builtins Debian loads from /usr/share/nodejs: the whole of Debian's Node runs.
      expect(await inside(h, `node -p "process.version + ' ' + typeof fetch"`)).toMatch(/^v18\.\d+\.\d+ function$/);
      expect(await fs.readFile(mark, "utf8")).toContain("-p"); // the mark works
      await fs.rm(mark, { force: true });
      const { t } = await oneRootfs("oldnode", { container: "n", lxcPath: h.lxcPath, backingStore: "dir", connection: connectionTo(h) });
      await t.run((onOutput) => t.stack.up({ onOutput }));
      expect(await inside(h, `test -d ${h.lxcPath}/n/rootfs && echo made`)).toBe("made");
      expect(await fs.readFile(mark, "utf8").catch(() => "never ran")).toBe("never ran");
      // Every other node of the host is covered, so what ran the agent is the Node.js it brought.
      const { name } = installFor(await localBundle(), process.arch as "x64", "glibc");
      const brought = await nodeBinary(AGENT_LINE, process.arch as "x64");
      expect((await inside(h, `sha256sum ${ROOT_AGENTS}/${name}/node`)).split(" ")[0]).toBe(brought.sha256);
      // Destroyed while its host is up (afterAll's destroy would find the host gone).
      await t.destroy();
      expect(await inside(h, `ls -A ${h.lxcPath}`)).toBe("");
      expect(await fs.readFile(mark, "utf8").catch(() => "never ran")).toBe("never ran");
    } finally {
      await h.stop();
    }
  });

  describe("a user other than root", () => {
    const USERS = { sudoer: "lxcrootfs-sudo", plain: "lxcrootfs-nosudo" };
    const SUDOERS = "/etc/sudoers.d/pulumi-lxc-test";
    beforeAll(async () => {
      for (const user of Object.values(USERS)) {
        await sh(["userdel", "-r", user]);
        await must(["useradd", "-m", "-d", path.join("/home", user), "-s", "/bin/sh", user]);
        // A locked password (useradd's "!") makes sshd refuse the account without PAM; "*" allows keys only.
        await must(["usermod", "-p", "*", user]);
      }
      await fs.writeFile(SUDOERS, `${USERS.sudoer} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
    });
    afterAll(async () => {
      await fs.rm(SUDOERS, { force: true });
      for (const user of Object.values(USERS)) await sh(["userdel", "-r", user]);
    });

    it("with passwordless sudo, the agent runs as root", async () => {
      const { t } = await oneRootfs("sudo", {
        container: "u",
        lxcPath: b.lxcPath,
        backingStore: "loop",
        size: "64M",
        connection: connectionTo(b, { user: USERS.sudoer }),
      });
      await t.run((onOutput) => t.stack.up({ onOutput }));
      expect(await inside(b, `stat -c %U:%s ${b.lxcPath}/u/rootdev`)).toBe(`root:${64 * M}`);
      expect(await fs.readdir(path.join("/home", USERS.sudoer, ".cache", "pulumi-lxc", "agent"))).toHaveLength(1);
      expect(await b.run(["grep", "-c", `Accepted publickey for ${USERS.sudoer}`, b.logFile])).toMatchObject({ stdout: "1\n" });
    });

    it("without it, the error says so and nothing is made", async () => {
      const { t } = await oneRootfs("nosudo", {
        container: "v",
        lxcPath: b.lxcPath,
        backingStore: "dir",
        connection: connectionTo(b, { user: USERS.plain }),
      });
      const { message } = await upFails(t);
      expect(message).toContain(`${USERS.plain} is not root and cannot run sudo without a password (sudo -n)`);
      expect(await inside(b, `ls -A ${b.lxcPath}`)).not.toContain("v");
      expect(await rootfsInState(t)).toEqual([]);
    });
  });

  it("through a bastion: a host name only the bastion can resolve", async () => {
    // The bastion's namespace gets an /etc/hosts of its own: only it knows the target's name.
    const hostsFile = path.join(a.scratch, "hosts");
    await fs.writeFile(hostsFile, "127.0.0.1 localhost\n127.0.0.1 lxc-target.internal\n");
    await must(["nsenter", "--target", String(a.pid), "--mount", "mount", "--bind", hostsFile, "/etc/hosts"]);
    const before = [await a.connections(), await b.connections()];
    const { t } = await oneRootfs("bastion", {
      container: "j",
      lxcPath: b.lxcPath,
      backingStore: "dir",
      connection: { ...connectionTo(b), host: "lxc-target.internal", proxy: connectionTo(a) },
    });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(await inside(b, `test -d ${b.lxcPath}/j/rootfs && echo made`)).toBe("made");
    expect([(await a.connections()) - before[0], (await b.connections()) - before[1]]).toEqual([1, 1]);
    expect((await rootfsInState(t))[0]).toBeDefined();
  });
});
