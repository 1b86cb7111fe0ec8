/**
 * The agent on a host: installed once per version and content under `~/.cache/pulumi-lxc/agent/<version>-<hash>`
 * of the SSH user, uploaded over SFTP into a temporary directory that is renamed into place once every file
 * is checked, so a half-done upload is never taken for an agent. A host gets the files of dist/bundle (see
 * scripts/build-bundles.js) for its own architecture and libc and, on glibc, the Node.js that runs them
 * (runtime.ts): the host's own Node is never run there, so every host runs the version the tests ran. A
 * musl host (Alpine) runs the agent on its own Node, 22 or later: the official binaries are glibc builds.
 * Other versions are removed when a new one lands. A user other than root runs the agent through `sudo -n`,
 * as the storage core needs root.
 */
import { createHash } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import type { Client, SFTPWrapper } from "ssh2";
import { RootfsError } from "../../model/errors";
import { agentCore, AgentCore } from "./core";
import { open, run } from "./exec";
import { AGENT_LINE, ARCHES, type Arch, compressedNode, type CompressedNode, pinOf } from "./runtime";

type Libc = "glibc" | "musl";

export interface ManifestFile {
  path: string;
  sha256: string;
  /** A native module's architecture and libc: only such a host gets it. */
  arch?: Arch;
  libc?: Libc;
}

export interface Manifest {
  version: string;
  /** Each file a host may get, with its sha256, which the host checks before the upload is taken. */
  files: ManifestFile[];
}

export interface Bundle {
  dir: string;
  manifest: Manifest;
}

/** The bundle beside this code: dist/bundle, from dist/provider/src/adapters/remote or from the sources. */
export async function localBundle(): Promise<Bundle> {
  const candidates = [
    path.resolve(__dirname, "..", "..", "..", "..", "bundle"),
    path.resolve(__dirname, "..", "..", "..", "..", "dist", "bundle"),
  ];
  for (const dir of candidates) {
    const text = await fs.readFile(path.join(dir, "manifest.json"), "utf8").catch(() => null);
    if (text !== null) return { dir, manifest: JSON.parse(text) as Manifest };
  }
  throw new RootfsError(`internal: the agent bundle (dist/bundle/manifest.json) is missing; run npm run build`);
}

/** `uname -m` as Node names architectures. */
const UNAME_ARCH: Record<string, Arch> = { x86_64: "x64", aarch64: "arm64" };
/** The oldest glibc the official Node.js binaries run on. */
const MIN_GLIBC = [2, 28];
/** A musl host's own Node.js: the oldest line this project supports. */
const MIN_NODE_MAJOR = 22;

/** Where agents live on a host, under the SSH user's home: one directory per version and hash. */
const AGENTS = ".cache/pulumi-lxc/agent";

/** What one host gets: its files of the bundle and, on glibc, the runtime, under a name of its own. */
interface Install {
  bundle: Bundle;
  arch: Arch;
  libc: Libc;
  files: ManifestFile[];
  runtime?: CompressedNode;
  /** The directory's name on the host: the version and the start of a hash over the files and the runtime. */
  name: string;
}

/** The install for a host of `arch` and `libc`, named without fetching the runtime (its pin says which it is). */
export function installFor(bundle: Bundle, arch: Arch, libc: Libc): Omit<Install, "runtime"> {
  const files = bundle.manifest.files.filter((f) => (!f.arch || f.arch === arch) && (!f.libc || f.libc === libc));
  const hash = createHash("sha256");
  for (const f of files) hash.update(`${f.path}\0${f.sha256}\0`);
  if (libc === "glibc") hash.update(`node\0${pinOf(AGENT_LINE, arch).integrity}\0`);
  return { bundle, arch, libc, files, name: `${bundle.manifest.version}-${hash.digest("hex").slice(0, 16)}` };
}

/**
 * What the host has, read in one command: home, architecture, libc (and glibc's version), sudo, which of
 * the given agent directories are there, and whether files in the agents' directory can be run (made if
 * missing, as the upload would): on a `noexec` mount neither Node nor the agent's native module can be
 * loaded, so that is found out before an upload, with the mount point. The host's Node is asked for its
 * version on musl alone: on glibc it is never run. An installed agent's directory is touched: other
 * versions' cleanup leaves what was used within a day.
 */
const PROBE = `
set -u
agents=$1
shift
echo "home=$HOME"
echo "arch=$(uname -m)"
run=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then echo sudo=yes; run="sudo -n --"; else echo sudo=no; fi
fi
if glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null); then
  echo libc=glibc
  echo "glibc=\${glibc#glibc }"
elif ls /lib/ld-musl-* >/dev/null 2>&1; then
  echo libc=musl
  echo "node=$($run node -p process.versions.node 2>/dev/null)"
fi
for name in "$@"; do
  if [ -f "$HOME/$agents/$name/manifest.json" ]; then touch "$HOME/$agents/$name"; echo "installed=$name"; fi
done
(umask 077 && mkdir -p "$HOME/$agents") 2>/dev/null
check="$HOME/$agents/.exec-check.$$"
if printf '#!/bin/sh\nexit 0\n' >"$check" 2>/dev/null; then
  chmod 700 "$check"
  if "$check" 2>/dev/null; then echo exec=yes; else echo exec=no; echo "mount=$(df -P "$HOME/$agents" | sed -nE '2s/^([^ ]+ +){5}//p')"; fi
  rm -f "$check"
fi
`;

interface Probe {
  home: string;
  arch: string;
  libc?: string;
  glibc?: string;
  node?: string;
  sudo?: "yes" | "no";
  /** The names asked about that are installed. */
  installed: string[];
  /** Absent when the directory could not be written (the upload then says why). */
  exec?: "yes" | "no";
  mount?: string;
}

/** Every install a host could need, by name: the probe says which of them it has. */
function candidates(bundle: Bundle): string[] {
  return ARCHES.flatMap((arch) => (["glibc", "musl"] as const).map((libc) => installFor(bundle, arch, libc).name));
}

async function probe(client: Client, bundle: Bundle, where: string): Promise<Probe> {
  const r = await run(client, ["sh", "-c", PROBE, "sh", AGENTS, ...candidates(bundle)]);
  const fields: Record<string, string> = {};
  const installed: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const [key, value] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
    if (key === "installed") installed.push(value);
    else if (key) fields[key] = value;
  }
  if (r.code !== 0 || !fields.home) throw new RootfsError(`${where}: could not read the host (sh exited ${r.code}): ${r.stderr.trim()}`);
  return { ...(fields as unknown as Probe), installed };
}

const atLeast = (version: string, min: number[]) => {
  const parts = version.split(".").map(Number);
  for (let i = 0; i < min.length; i++) if ((parts[i] ?? 0) !== min[i]) return (parts[i] ?? 0) > min[i];
  return true;
};

/** Refuses a host the agent cannot run on, saying what to change there; else what it gets. */
function checkHost(p: Probe, bundle: Bundle, user: string, where: string): Omit<Install, "runtime"> {
  if (p.exec === "no")
    throw new RootfsError(
      `${where}: ${path.posix.join(p.home, AGENTS)} is on ${p.mount || "a mount"} mounted noexec, where the agent and its Node.js cannot run: mount it without noexec, or give ${user} a home on a filesystem that allows execution`,
    );
  if (p.sudo === "no")
    throw new RootfsError(
      `${where}: ${user} is not root and cannot run sudo without a password (sudo -n); the agent needs root: allow it passwordless sudo, or connect as root`,
    );
  const arch = UNAME_ARCH[p.arch];
  if (!arch)
    throw new RootfsError(`${where}: the host is ${p.arch}; the agent runs on ${Object.keys(UNAME_ARCH).join(" and ")} hosts only`);
  if (p.libc === "glibc") {
    if (!/^\d+(\.\d+)*$/.test(p.glibc ?? "") || !atLeast(p.glibc!, MIN_GLIBC))
      throw new RootfsError(
        `${where}: the host's glibc is ${p.glibc || "of unknown version"}; the Node.js the agent brings needs glibc ${MIN_GLIBC.join(".")} or later (Debian 10, Ubuntu 20.04, RHEL 8 and later have it)`,
      );
    return installFor(bundle, arch, "glibc");
  }
  if (p.libc === "musl") {
    if (!p.node || !atLeast(p.node, [MIN_NODE_MAJOR]))
      throw new RootfsError(
        `${where}: on a musl host the agent runs on the host's own Node.js, ${MIN_NODE_MAJOR} or later${p.sudo ? " (on sudo's PATH)" : ""}; found ${p.node ? `Node.js ${p.node}` : "none"}: install nodejs (Alpine 3.21 and later package it)`,
      );
    return installFor(bundle, arch, "musl");
  }
  throw new RootfsError(
    `${where}: could not tell the host's libc (getconf GNU_LIBC_VERSION failed and there is no /lib/ld-musl-*); the agent runs on glibc or musl hosts`,
  );
}

function sftpOf(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

function succeeds(fn: (cb: (err: Error | null | undefined) => void) => void): Promise<boolean> {
  return call(fn).then(
    () => true,
    () => false,
  );
}

async function mkdirs(sftp: SFTPWrapper, dir: string, from: string): Promise<void> {
  let at = from;
  for (const part of path.posix.relative(from, dir).split("/")) {
    at = path.posix.join(at, part);
    const where = at;
    if (!(await succeeds((cb) => sftp.stat(where, cb)))) await call((cb) => sftp.mkdir(where, { mode: 0o700 }, cb));
  }
}

/**
 * On the host, in one command: each file's sha256 (coreutils' or busybox's sha256sum), then, when node.gz
 * was sent, the Node.js it holds unpacked with gzip and hashed in the same pass. Only the binary's sha256
 * is checked for the runtime: a byte changed on the way either stops gzip or changes the binary.
 */
const CHECK = `cd "$1" && shift && sha256sum -- "$@" || exit
[ ! -f node.gz ] || { gzip -dc node.gz | tee node | sha256sum && chmod 755 node && rm node.gz; }`;

/**
 * Refuses an upload the host does not read back as expected: a file cut short or changed on the way is
 * named, the upload is removed, and nothing of it runs.
 */
async function verifyUpload(client: Client, dir: string, install: Install, where: string): Promise<void> {
  const { files, runtime } = install;
  const r = await run(client, ["sh", "-c", CHECK, "sh", dir, ...files.map((f) => f.path)]);
  // One line a file, in the order given, each starting with the sum (the name after it is not read back:
  // GNU's escapes some names); then the binary's, from standard input.
  const sums = r.stdout.split("\n").map((l) => l.split(" ")[0]);
  if (r.code !== 0 && !r.stdout)
    throw new RootfsError(`${where}: could not check the uploaded agent: sha256sum exited ${r.code}: ${r.stderr.trim()}`);
  let wrong = files.filter((f, i) => sums[i] !== f.sha256).map((f) => f.path);
  if (!wrong.length && runtime && sums[files.length] !== runtime.sha256) wrong = ["node.gz"];
  if (r.code !== 0 || wrong.length) {
    const why = `${wrong.join(", ") || r.stderr.trim()}: not the sha256 expected`;
    throw new RootfsError(`${where}: the agent uploaded to ${dir} is not whole (${why}); it is removed, and nothing of it ran`);
  }
}

/**
 * Uploads the host's files to `<root>/<name>.tmp-<pid>-<time>` and checks each there; on glibc, node.gz too,
 * unpacked with gzip and the binary's sha256 checked. The manifest goes last, and the directory is
 * renamed to `<root>/<name>`. A directory of that name without a manifest (a removal cut short) is removed
 * first; one with a manifest was put there by another process meanwhile, and serves as well.
 */
async function upload(client: Client, install: Install, home: string, where: string): Promise<void> {
  const root = path.posix.join(home, AGENTS);
  const final = path.posix.join(root, install.name);
  const temporary = `${final}.tmp-${process.pid}-${Date.now()}`;
  const { bundle, runtime } = install;
  const sent = install.files.map((f) => ({ path: f.path, local: path.join(bundle.dir, f.path) }));
  if (runtime) sent.push({ path: "node.gz", local: runtime.gz });
  const manifest = {
    version: bundle.manifest.version,
    arch: install.arch,
    libc: install.libc,
    files: [...install.files, ...(runtime ? [{ path: "node", sha256: runtime.sha256, node: runtime.pin.version }] : [])],
  };
  let sftp: SFTPWrapper | undefined;
  let renamed = false;
  try {
    sftp = await sftpOf(client);
    const session = sftp;
    // The probe made the agents' directory.
    await mkdirs(session, temporary, root);
    for (const file of sent) await mkdirs(session, path.posix.dirname(path.posix.join(temporary, file.path)), temporary);
    // All at once: the small files travel while node.gz does.
    await Promise.all(sent.map((file) => call((cb) => session.fastPut(file.local, path.posix.join(temporary, file.path), cb))));
    await verifyUpload(client, temporary, install, where);
    // The manifest goes last: its presence is what says the directory is whole.
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    await call((cb) => session.writeFile(path.posix.join(temporary, "manifest.json"), text, cb));
    const whole = () => succeeds((cb) => session.stat(path.posix.join(final, "manifest.json"), cb));
    renamed = await succeeds((cb) => session.rename(temporary, final, cb));
    if (!renamed && !(await whole())) {
      await run(client, ["rm", "-rf", "--", final]);
      renamed = await succeeds((cb) => session.rename(temporary, final, cb));
      if (!renamed && !(await whole())) throw new RootfsError(`${where}: could not move the uploaded agent into ${final}`);
    }
  } catch (e) {
    if (e instanceof RootfsError) throw e;
    throw new RootfsError(`${where}: uploading the agent failed: ${(e as Error).message}`);
  } finally {
    sftp?.end();
    // A failed or superfluous upload.
    if (!renamed) await run(client, ["rm", "-rf", "--", temporary]).catch(() => undefined);
  }
  // Other versions not used for a day (a probe touches the one it finds), and uploads left half-done: not
  // waited for, since nothing depends on it (a removal cut short is redone by the next upload's).
  void run(client, [
    "find",
    root,
    "-mindepth",
    "1",
    "-maxdepth",
    "1",
    "-type",
    "d",
    "!",
    "-name",
    install.name,
    "-mmin",
    "+1440",
    "-exec",
    "rm",
    "-rf",
    "--",
    "{}",
    "+",
  ]).catch(() => undefined);
}

export interface AgentOptions {
  /** The bundle: the one beside this code unless a test gives another. */
  bundle?: Bundle;
  /** The runtime a glibc host gets: the pinned one unless a test gives another. */
  runtime?: (arch: Arch) => Promise<CompressedNode>;
}

/**
 * Installs the agent where it is missing and starts it: a core served by the host over this connection,
 * on the Node.js it brought (glibc) or the host's own (musl).
 */
export async function startAgent(client: Client, user: string, where: string, options: AgentOptions = {}): Promise<AgentCore> {
  const bundle = options.bundle ?? (await localBundle());
  const host = await probe(client, bundle, where);
  const wanted = checkHost(host, bundle, user, where);
  const dir = path.posix.join(host.home, AGENTS, wanted.name);
  if (!host.installed.includes(wanted.name)) {
    const runtime = wanted.libc === "glibc" ? await (options.runtime ?? compressedNode)(wanted.arch) : undefined;
    await upload(client, { ...wanted, runtime }, host.home, where);
  }
  const node = wanted.libc === "glibc" ? path.posix.join(dir, "node") : "node";
  const channel = await open(client, [...(host.sudo ? ["sudo", "-n", "--"] : []), node, path.posix.join(dir, "agent.js")]);
  return agentCore({ stdin: channel, stdout: channel, stderr: channel.stderr }, where);
}
