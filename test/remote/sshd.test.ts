/**
 * The sshd harness the remote-hosts tests stand on: real OpenSSH servers, each in a mount namespace of its
 * own. What a session writes at lxcPath stays on its host, the host key is really pinned, connections are
 * counted from sshd's log, SFTP and 20 channels on one connection work, and stop() leaves no process, mount
 * or loop device behind, even with a session still running.
 */
import { spawn } from "child_process";
import { promises as fs } from "fs";
import path from "path";
import { must, sh, tempDir } from "../helpers/env";
import { expectNoLeaks, attachedUnder } from "../helpers/leaks";
import { sshArgs, SshHost, startSshHost } from "../helpers/sshd";

jest.setTimeout(60_000);

const started: SshHost[] = [];
async function host(opts?: Parameters<typeof startSshHost>[0]): Promise<SshHost> {
  const h = await startSshHost(opts);
  started.push(h);
  return h;
}
const ssh = (h: SshHost, command: string) => sh([...sshArgs(h), command]);

afterEach(async () => {
  await Promise.all(started.map((h) => h.stop()));
});
afterAll(async () => {
  for (const h of started) {
    await expectNoLeaks(h.scratch);
    await expect(fs.access(h.scratch)).rejects.toMatchObject({ code: "ENOENT" });
  }
});

it("mounts a tmpfs at lxcPath that SSH sessions and run() see and the test process does not", async () => {
  const h = await host();
  const r = await ssh(h, `touch ${h.lxcPath}/marker && stat -f -c %T ${h.lxcPath}`);
  expect(r).toMatchObject({ code: 0, stdout: "tmpfs\n" });
  await expect(fs.access(path.join(h.lxcPath, "marker"))).rejects.toMatchObject({ code: "ENOENT" });
  expect(await fs.readdir(h.lxcPath)).toEqual([]);
  await expectNoLeaks(h.scratch);
  expect(await h.run(["ls", h.lxcPath])).toMatchObject({ code: 0, stdout: "marker\n" });
  expect(await fs.readlink(`/proc/${h.pid}/ns/mnt`)).not.toBe(await fs.readlink("/proc/self/ns/mnt"));
});

it("keeps two hosts started at once apart: each sees only what was written on it", async () => {
  const [a, b] = await Promise.all([host(), host()]);
  expect(a.port).not.toBe(b.port);
  expect(await fs.readlink(`/proc/${a.pid}/ns/mnt`)).not.toBe(await fs.readlink(`/proc/${b.pid}/ns/mnt`));
  expect(await ssh(a, `echo a > ${a.lxcPath}/only-a`)).toMatchObject({ code: 0 });
  expect(await ssh(b, `echo b > ${b.lxcPath}/only-b`)).toMatchObject({ code: 0 });
  // Each host sees its own file, and the other's lxcPath as the empty directory it is outside.
  expect(await ssh(a, `cat ${a.lxcPath}/only-a; ls -A ${b.lxcPath}`)).toMatchObject({ code: 0, stdout: "a\n" });
  expect(await ssh(b, `cat ${b.lxcPath}/only-b; ls -A ${a.lxcPath}`)).toMatchObject({ code: 0, stdout: "b\n" });
  expect(await b.run(["cat", path.join(a.lxcPath, "only-a")])).toMatchObject({ code: 1, stderr: expect.stringContaining("No such file") });
  expect(await a.run(["ls", "-A", a.lxcPath])).toMatchObject({ stdout: "only-a\n" });
  expect(await b.run(["ls", "-A", b.lxcPath])).toMatchObject({ stdout: "only-b\n" });
});

it("counts each accepted SSH connection from sshd's log", async () => {
  const h = await host();
  // The readiness probe connected without authenticating: it is not counted.
  const n = await h.connections();
  expect(n).toBe(0);
  expect(await ssh(h, "true")).toMatchObject({ code: 0 });
  expect(await h.connections()).toBe(n + 1);
  expect(await fs.readFile(h.logFile, "utf8")).toMatch(/Accepted publickey for root from 127\.0\.0\.1 port \d+ ssh2: ED25519/);
});

it("mounts btrfs from a loop image in the namespace, and stop() ends a live session and frees the loop device", async () => {
  const h = await host({ fs: "btrfs", size: "512M" });
  expect(await ssh(h, `stat -f -c %T ${h.lxcPath}`)).toMatchObject({ code: 0, stdout: "btrfs\n" });
  const source = (await h.run(["findmnt", "-n", "-o", "SOURCE", h.lxcPath])).stdout.trim();
  expect(source).toMatch(/^\/dev\/loop\d+$/);
  expect(await attachedUnder(h.scratch)).toEqual([`loop ${source} ${h.image}`]);
  // A session still running when the host stops: it holds the namespace, and so the mount, unless killed too.
  const session = spawn(sshArgs(h)[0], [...sshArgs(h).slice(1), `cd ${h.lxcPath} && echo in && exec sleep 300`], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const ended = new Promise<number | null>((resolve) => session.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    session.stdout!.on("data", (d) => String(d).includes("in") && resolve());
    session.on("close", (code) => reject(new Error(`the session ended early, exit ${code}`)));
  });
  await h.stop();
  expect(await ended).toBe(255);
  await expectNoLeaks(h.scratch);
  expect(await must(["losetup", "-a"])).not.toContain(h.scratch);
  expect(await fs.readFile("/proc/self/mountinfo", "utf8")).not.toContain(h.scratch);
  await expect(fs.access(h.scratch)).rejects.toMatchObject({ code: "ENOENT" });
  await expect(fs.access(`/proc/${h.pid}`)).rejects.toMatchObject({ code: "ENOENT" });
  await h.stop();
});

it("pins the host key: sshd presents hostKey, and the client refuses a host known with another key", async () => {
  const h = await host();
  const scanned = await must(["ssh-keyscan", "-t", "ed25519", "-p", String(h.port), h.host]);
  expect(scanned.trim()).toBe(`[127.0.0.1]:${h.port} ${h.hostKey}`);
  expect(h.hostKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
  const before = await h.connections();
  const other = await tempDir("sshd-other");
  try {
    await must(["ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-f", path.join(other, "key")]);
    const otherKey = (await fs.readFile(path.join(other, "key.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    await fs.writeFile(path.join(other, "known_hosts"), `[127.0.0.1]:${h.port} ${otherKey}\n`);
    const wrong = sshArgs(h).map((a) =>
      a.startsWith("UserKnownHostsFile=") ? `UserKnownHostsFile=${path.join(other, "known_hosts")}` : a,
    );
    expect(wrong).not.toEqual(sshArgs(h));
    const r = await sh([...wrong, "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Host key verification failed");
  } finally {
    await fs.rm(other, { recursive: true, force: true });
  }
  expect(await h.connections()).toBe(before);
  expect(await ssh(h, "true")).toMatchObject({ code: 0 });
  expect(await h.connections()).toBe(before + 1);
});

it("serves SFTP into the namespace, and 20 sessions at once on one connection", async () => {
  const h = await host();
  const local = path.join(h.scratch, "upload");
  await fs.writeFile(local, "agent bytes\n");
  // scp speaks SFTP by default since OpenSSH 9.0; -s says so explicitly. Its port option is -P.
  const options = sshArgs(h)
    .slice(1, -1)
    .map((a) => (a === "-p" ? "-P" : a));
  expect(await sh(["scp", "-s", ...options, local, `${h.user}@${h.host}:${h.lxcPath}/agent`])).toMatchObject({ code: 0 });
  expect(await h.run(["cat", path.join(h.lxcPath, "agent")])).toMatchObject({ code: 0, stdout: "agent bytes\n" });
  expect(await fs.readFile(h.logFile, "utf8")).toMatch(/Starting session: subsystem 'sftp' for root/);

  // One master connection, 20 sessions multiplexed over it at the same time. With sshd's default MaxSessions
  // of 10, the client opens a connection of its own for each refused session: connections() would grow.
  const control = path.join(h.scratch, "control");
  const base = sshArgs(h);
  const master = spawn(base[0], [...base.slice(1, -1), "-M", "-N", "-S", control, base[base.length - 1]], { stdio: "ignore" });
  const masterEnded = new Promise<void>((resolve) => master.on("close", () => resolve()));
  try {
    const deadline = Date.now() + 10_000;
    while ((await sh([...base.slice(0, -1), "-S", control, "-O", "check", base[base.length - 1]])).code !== 0) {
      if (Date.now() > deadline) throw new Error("the SSH master connection did not come up within 10 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = await h.connections();
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sh([...base.slice(0, -1), "-S", control, base[base.length - 1], `sleep 1; echo ${i} > ${h.lxcPath}/s${i}; echo ${i}`]),
      ),
    );
    expect(runs.map((r) => [r.code, r.stdout.trim()])).toEqual(Array.from({ length: 20 }, (_, i) => [0, String(i)]));
    expect(await h.connections()).toBe(before);
    expect((await h.run(["ls", h.lxcPath])).stdout.split("\n").filter((f) => /^s\d+$/.test(f))).toHaveLength(20);
  } finally {
    master.kill("SIGTERM");
    await masterEnded;
  }
});
