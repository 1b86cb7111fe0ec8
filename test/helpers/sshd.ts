/**
 * Real OpenSSH "hosts" for the remote-hosts tests: one sshd per host, on a free loopback port, with keys
 * made per run, each in a mount namespace of its own where a private filesystem (tmpfs, or btrfs in a
 * loop image) is mounted at lxcPath. An SSH session inherits sshd's namespace, so what the provider
 * writes at lxcPath over SSH lands on that host alone and is invisible to the test process, as on a
 * remote machine; `run` looks inside without SSH, so a test checks the result by another route than the
 * one under test. The agent's image cache is private to each host as well (a tmpfs of the namespace's own).
 *
 * No host has Node.js: every `node` this machine has (on PATH, in the usual places, the pinned ones in the
 * cache, this process's own) is covered with /dev/null in the host's namespace, so the agent runs on the
 * Node.js it brings, as on a stock LXC host. `hostNode` puts a Node.js of the host's own at /usr/bin/node,
 * and `hostShare` lays a directory over /usr/share (Debian's nodejs loads some of its builtins from there).
 */
import { ChildProcess, spawn } from "child_process";
import { promises as fs } from "fs";
import net from "net";
import os from "os";
import path from "path";
import { must, Ran, sh, tempDir } from "./env";

export interface SshHost {
  host: string;
  port: number;
  user: string;
  /** OpenSSH-format ed25519 private key text, authorized for root on this host, made per run. */
  privateKey: string;
  /** The host's public key line "ssh-ed25519 AAAA..." (no comment), for pinning. */
  hostKey: string;
  /** Inside the host's namespace a private filesystem is mounted here; from the test process, an empty directory. */
  lxcPath: string;
  /** sshd's log (-E), LogLevel VERBOSE. */
  logFile: string;
  /** sftp-server's log (-l INFO): one line per file closed, with the bytes written. */
  sftpLogFile: string;
  /** sshd's pid: the process that holds the namespace. */
  pid: number;
  /** The scratch directory under TEST_PREFIX that holds everything of this host; stop() removes it. */
  scratch: string;
  /** The private key's file, for OpenSSH's client (sshArgs). */
  keyFile: string;
  /** A known_hosts file that lists this host's key alone, for OpenSSH's client (sshArgs). */
  knownHostsFile: string;
  /** The btrfs image behind lxcPath (fs "btrfs" only). */
  image?: string;
  /** Runs argv inside the host's mount namespace (nsenter --target pid --mount), as root, without SSH. */
  run(argv: string[]): Promise<Ran>;
  /** How many SSH connections sshd accepted so far, counted from its log. */
  connections(): Promise<number>;
  /** The bytes written to this host over SFTP so far, counted by sftp-server on the host. */
  uploaded(): Promise<number>;
  /** Kills sshd and every process left in its namespace (so the namespace and its mounts go), removes the scratch dir. Idempotent. */
  stop(): Promise<void>;
}

/** Waits this long for sshd to listen, and for a namespace's processes and loop device to go. */
const DEADLINE_MS = 10_000;

/**
 * Where the provider installs its agent for root: each host gets a private one, as separate machines have,
 * and nothing a test does there reaches the root of the machine running the tests.
 */
export const ROOT_AGENTS = "/root/.cache/pulumi-lxc/agent";

/**
 * The image cache of the agent (host/download.ts's default: sshd passes its sessions no
 * LXC_ROOTFS_IMAGE_CACHE). Each host gets a private one too, so an image a host fetched is on that host
 * alone, and nothing reaches this machine's own cache.
 */
export const HOST_IMAGE_CACHE = "/var/cache/lxc-rootfs/images";

/**
 * Mounts the private filesystems (lxcPath, root's agent directory, the image cache), then becomes sshd. It runs after
 * unshare(1) made the namespace, so the mounts are the namespace's alone. `mount -o loop` sets autoclear:
 * the loop device goes with the last mount, which goes with the namespace, which goes with its last process.
 */
const WRAPPER = `set -e
fs=$1 size=$2 mp=$3 image=$4 agents=$5 nodes=$6 hostnode=$7 hostshare=$8 imagecache=$9
shift 9
if [ "$fs" = btrfs ]; then mount -o loop "$image" "$mp"; else mount -t tmpfs -o "size=$size,mode=0755" tmpfs "$mp"; fi
mkdir -p "$agents"
mount -t tmpfs -o mode=0700 tmpfs "$agents"
(umask 077; mkdir -p "$imagecache")
mount -t tmpfs -o mode=0700 tmpfs "$imagecache"
for node in $nodes; do mount --bind /dev/null "$node"; done
if [ -n "$hostnode" ]; then mount --bind "$hostnode" /usr/bin/node; fi
if [ -n "$hostshare" ]; then mount -t overlay overlay -o "lowerdir=$hostshare:/usr/share" /usr/share; fi
exec "$@"`;

/** Every Node.js binary of this machine, by its real path: what a host's namespace covers. */
async function nodeBinaries(): Promise<string[]> {
  const cache = process.env.PULUMI_LXC_CACHE || path.join(os.homedir(), ".cache", "pulumi-lxc");
  const cached = (await fs.readdir(cache).catch(() => [] as string[]))
    .filter((d) => d.startsWith("node-"))
    .map((d) => path.join(cache, d, "bin", "node"));
  const onPath = (process.env.PATH ?? "").split(":").flatMap((d) => [path.join(d, "node"), path.join(d, "nodejs")]);
  const all = [process.execPath, "/usr/bin/node", "/usr/bin/nodejs", "/usr/local/bin/node", ...onPath, ...cached];
  const real = await Promise.all(all.map((f) => fs.realpath(f).catch(() => null)));
  return [...new Set(real.filter((f): f is string => f !== null && !/\s/.test(f)))];
}

export async function startSshHost(
  opts: { fs?: "tmpfs" | "btrfs"; size?: string; hostNode?: string; hostShare?: string } = {},
): Promise<SshHost> {
  const kind = opts.fs ?? "tmpfs";
  const size = opts.size ?? "512M";
  await refuseLockedRoot();
  // sshd refuses to start without its privilege separation directory; Debian makes it only in the unit.
  await fs.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const scratch = await tempDir("sshd");
  try {
    const lxcPath = path.join(scratch, "lxc");
    const logFile = path.join(scratch, "sshd.log");
    // sftp-server runs as the user logging in, who may not be root: the log is writable by anyone.
    const sftpLogFile = path.join(scratch, "sftp.log");
    await fs.writeFile(sftpLogFile, "", { mode: 0o666 });
    await fs.chmod(sftpLogFile, 0o666);
    const hostKeyFile = path.join(scratch, "host_ed25519");
    const keyFile = path.join(scratch, "client_ed25519");
    const authorized = path.join(scratch, "authorized_keys");
    const pidFile = path.join(scratch, "sshd.pid");
    const config = path.join(scratch, "sshd_config");
    const knownHostsFile = path.join(scratch, "known_hosts");
    await fs.mkdir(lxcPath);
    await Promise.all([
      must(["ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-C", "", "-f", hostKeyFile]),
      must(["ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-C", "", "-f", keyFile]),
    ]);
    await fs.copyFile(`${keyFile}.pub`, authorized);
    // sshd reads authorized_keys as the user logging in, so a user other than root must reach it: the
    // scratch directory may be crossed (not listed) by anyone; the private keys in it stay 0600.
    await fs.chmod(scratch, 0o711);
    await fs.chmod(authorized, 0o644);
    const hostKey = (await fs.readFile(`${hostKeyFile}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
    let image: string | undefined;
    if (kind === "btrfs") {
      image = path.join(scratch, "btrfs.img");
      await must(["truncate", "-s", size, image]);
      await must(["mkfs.btrfs", "-q", "-f", image]);
    }

    // A port another process takes between our probe and sshd's bind makes sshd exit: try a new one.
    let started: { port: number; pid: number } | undefined;
    for (let attempt = 1; !started; attempt++) {
      const port = await freePort();
      await fs.writeFile(config, sshdConfig({ port, hostKeyFile, authorized, pidFile, sftpLogFile }));
      const check = await sh(["/usr/sbin/sshd", "-t", "-f", config]);
      if (check.code !== 0) throw new Error(`sshd -t -f ${config} exited ${check.code}: ${check.stderr}`);
      await fs.rm(pidFile, { force: true });
      try {
        const nodes = await nodeBinaries();
        started = {
          port,
          pid: await launch({
            kind,
            size,
            lxcPath,
            image,
            config,
            logFile,
            pidFile,
            port,
            nodes,
            hostNode: opts.hostNode,
            hostShare: opts.hostShare,
          }),
        };
      } catch (e) {
        const log = await fs.readFile(logFile, "utf8").catch(() => "");
        if (attempt >= 3 || !/Address already in use/.test(log)) throw e;
      }
    }
    const { port, pid } = started;
    const ns = await fs.readlink(`/proc/${pid}/ns/mnt`);
    await fs.writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostKey}\n`);

    let stopping: Promise<void> | undefined;
    return {
      host: "127.0.0.1",
      port,
      user: "root",
      privateKey: await fs.readFile(keyFile, "utf8"),
      hostKey,
      lxcPath,
      logFile,
      sftpLogFile,
      pid,
      scratch,
      keyFile,
      knownHostsFile,
      image,
      run: (argv) => sh(["nsenter", "--target", String(pid), "--mount", "--", ...argv]),
      async connections() {
        const log = await fs.readFile(logFile, "utf8");
        return log.split("\n").filter((l) => /Accepted (publickey|password) for /.test(l)).length;
      },
      async uploaded() {
        const log = await fs.readFile(sftpLogFile, "utf8");
        return [...log.matchAll(/ bytes read \d+ written (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      },
      stop() {
        stopping ??= stopHost(pid, ns, scratch, image);
        return stopping;
      },
    };
  } catch (e) {
    // Nothing started, or what started is dead (launch kills it on failure): the scratch dir is all there is.
    await fs.rm(scratch, { recursive: true, force: true });
    throw e;
  }
}

/** The connection a Rootfs gives to reach `h` as root with its key, the host key pinned; `more` overrides. */
export function connectionTo(h: SshHost, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: h.host, port: h.port, privateKey: h.privateKey, hostKey: h.hostKey, ...more };
}

/** Runs a shell script inside the host's namespace (not over SSH); its stdout, trimmed, or an error. */
export async function inside(h: SshHost, script: string): Promise<string> {
  const r = await h.run(["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The argv prefix of OpenSSH's client for this host: its key, its host key pinned, no prompts, no user config. */
export function sshArgs(h: SshHost): string[] {
  return [
    "ssh",
    "-F",
    "none",
    "-i",
    h.keyFile,
    "-p",
    String(h.port),
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    `UserKnownHostsFile=${h.knownHostsFile}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    `${h.user}@${h.host}`,
  ];
}

function sshdConfig(c: { port: number; hostKeyFile: string; authorized: string; pidFile: string; sftpLogFile: string }): string {
  return [
    `Port ${c.port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${c.hostKeyFile}`,
    `PidFile ${c.pidFile}`,
    `AuthorizedKeysFile ${c.authorized}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    // The scratch dir lies under /tmp, which is world-writable: StrictModes would refuse the keys in it.
    "StrictModes no",
    "LogLevel VERBOSE",
    // The remote-hosts feature uploads its agent with SFTP. Debian's sftp-server, not internal-sftp: its
    // log (-e: to stderr, here a file) counts the bytes each upload writes; internal-sftp's goes to syslog.
    `Subsystem sftp /usr/lib/openssh/sftp-server -e -l INFO 2>>${c.sftpLogFile}`,
    // 20 resources in parallel open as many channels on one connection, or as many connections at once.
    "MaxSessions 64",
    "MaxStartups 64:30:128",
    "UseDNS no",
    "",
  ].join("\n");
}

/**
 * Starts `unshare --mount --propagation private sh -c WRAPPER ... sshd -D -E log` and waits until the port
 * takes TCP and sshd has written its pid file. unshare and sh exec, so the child's pid is sshd's.
 * setpriv --pdeathsig: if the test process dies, sshd dies too, and with it the namespace and its loop device.
 */
async function launch(o: {
  kind: string;
  size: string;
  lxcPath: string;
  image?: string;
  config: string;
  logFile: string;
  pidFile: string;
  port: number;
  nodes: string[];
  hostNode?: string;
  hostShare?: string;
}): Promise<number> {
  // The wrapper's own errors (a mount that fails) land in sshd's log, so one file tells the whole story.
  const log = await fs.open(o.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "setpriv",
        "--pdeathsig",
        "KILL",
        "sh",
        "-c",
        WRAPPER,
        "sh",
        o.kind,
        o.size,
        o.lxcPath,
        o.image ?? "",
        ROOT_AGENTS,
        o.nodes.join("\n"),
        o.hostNode ?? "",
        o.hostShare ?? "",
        HOST_IMAGE_CACHE,
        "/usr/sbin/sshd",
        "-D",
        "-E",
        o.logFile,
        "-f",
        o.config,
      ],
      { stdio: ["ignore", log.fd, log.fd] },
    );
  } finally {
    await log.close();
  }
  const pid = child.pid;
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on("error", (e) => ((exit = String(e)), resolve()));
    child.on("exit", (code, signal) => ((exit = `exited ${code ?? signal}`), resolve()));
  });
  // No pid: spawn failed, and says why in an "error" event still to come.
  if (pid === undefined) await exited;
  const deadline = Date.now() + DEADLINE_MS;
  while (exit === undefined && pid !== undefined) {
    const written = await fs.readFile(o.pidFile, "utf8").catch(() => "");
    if (written.trim() === String(pid) && (await accepts(o.port))) return pid;
    if (Date.now() > deadline) break;
    await sleep(50);
  }
  const why = exit ?? `did not listen on 127.0.0.1:${o.port} with its pid file written within ${DEADLINE_MS / 1000} s`;
  if (exit === undefined) {
    child.kill("SIGKILL");
    await exited;
  }
  throw new Error(`sshd ${why}; its log:\n${await fs.readFile(o.logFile, "utf8").catch(() => "")}`);
}

/** Kills every process in sshd's namespace (sessions outlive the listener), waits for them and the loop device, removes the scratch dir. */
async function stopHost(pid: number, ns: string, scratch: string, image: string | undefined): Promise<void> {
  // The listener first, politely, so that it stops accepting; then whatever is left, by force.
  signal(pid, "SIGTERM");
  for (const deadline = Date.now() + 2000; Date.now() < deadline && (await inNamespace(ns)).includes(pid);) await sleep(50);
  const deadline = Date.now() + DEADLINE_MS;
  for (let left = await inNamespace(ns); left.length; left = await inNamespace(ns)) {
    if (Date.now() > deadline) throw new Error(`processes ${left.join(" ")} of sshd ${pid}'s namespace survived SIGKILL`);
    for (const p of left) signal(p, "SIGKILL");
    await sleep(50);
  }
  if (image !== undefined) {
    // The kernel drops an autoclear loop device after the namespace's mount goes, which is not at once.
    const deadline = Date.now() + DEADLINE_MS;
    while ((await must(["losetup", "-j", image])).trim()) {
      if (Date.now() > deadline) throw new Error(`a loop device over ${image} is still attached after sshd's namespace ended`);
      await sleep(50);
    }
  }
  await fs.rm(scratch, { recursive: true, force: true });
}

/** The pids whose mount namespace is `ns` (a /proc/PID/ns/mnt link such as "mnt:[4026532]"). */
async function inNamespace(ns: string): Promise<number[]> {
  const pids = (await fs.readdir("/proc")).filter((e) => /^\d+$/.test(e));
  const links = await Promise.all(pids.map((p) => fs.readlink(`/proc/${p}/ns/mnt`).catch(() => undefined)));
  // A zombie has no namespace link any more, so a process counted here is still alive.
  return pids.filter((_, i) => links[i] === ns).map(Number);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** A port the kernel just handed out on 127.0.0.1, free at the moment it is returned. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("connect", () => (socket.destroy(), resolve(true)));
    socket.on("error", () => resolve(false));
  });
}

/**
 * With UsePAM no, sshd refuses every login, keys included, to an account whose password is locked with
 * "!" (as `passwd -l` leaves it); "*" is not locked. Say so at once rather than as a failed ssh later.
 */
async function refuseLockedRoot(): Promise<void> {
  const shadow = await fs.readFile("/etc/shadow", "utf8");
  const root = shadow.split("\n").find((l) => l.startsWith("root:"));
  if (root?.split(":")[1].startsWith("!")) {
    throw new Error(
      "root's password is locked with '!' in /etc/shadow: sshd (UsePAM no) refuses root even with a key; `usermod -p '*' root` fixes it",
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
