/**
 * The agent on a host: installed once per version and content (the agent files of dist/bundle, see scripts/build-bundles.js)
 * under `~/.cache/pulumi-lxc/agent/<version>-<hash>` of the SSH user, uploaded over SFTP into a temporary
 * directory renamed into place, so a half-done upload is never taken for an agent. Other versions are
 * removed when a new one lands. It runs with the host's Node (20 or later); a user other than root runs
 * it through `sudo -n`, as the storage core needs root.
 */
import { promises as fs } from "fs";
import path from "path";
import type { Client, SFTPWrapper } from "ssh2";
import { RootfsError } from "../../model/errors";
import { agentCore, AgentCore } from "./core";
import { open, run } from "./exec";

export interface Manifest {
  version: string;
  arch: string;
  /** Each file the host gets, with its sha256, which the host checks before the upload is taken. */
  files: Array<{ path: string; sha256: string }>;
  /** Over every file's name and content: the directory's name on a host. */
  sha256: string;
}

export interface Bundle {
  dir: string;
  manifest: Manifest;
  /** The directory's name on a host: the version and the start of the hash. */
  name: string;
}

/** The bundle beside this code: dist/bundle, from dist/provider/src/adapters/remote or from the sources. */
export async function localBundle(): Promise<Bundle> {
  const candidates = [
    path.resolve(__dirname, "..", "..", "..", "..", "bundle"),
    path.resolve(__dirname, "..", "..", "..", "..", "dist", "bundle"),
  ];
  for (const dir of candidates) {
    const text = await fs.readFile(path.join(dir, "manifest.json"), "utf8").catch(() => null);
    if (text === null) continue;
    const manifest = JSON.parse(text) as Manifest;
    return { dir, manifest, name: `${manifest.version}-${manifest.sha256.slice(0, 16)}` };
  }
  throw new RootfsError(`internal: the agent bundle (dist/bundle/manifest.json) is missing; run npm run build`);
}

/** `uname -m` as Node names architectures. */
const UNAME_ARCH: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };
const MIN_NODE_MAJOR = 20;

/** Where agents live on a host, under the SSH user's home: one directory per version and hash. */
const AGENTS = ".cache/pulumi-lxc/agent";

/**
 * What the host has, read in one command: home, architecture, Node, sudo, whether this bundle is there,
 * and whether files in the agents' directory can be run (made if missing, as the upload would): on a
 * `noexec` mount the agent's native module cannot be loaded, so that is found out before an upload, with
 * the mount point. An installed bundle's directory is touched: other versions' cleanup leaves what was
 * used within a day.
 */
const PROBE = `
set -u
echo "home=$HOME"
echo "arch=$(uname -m)"
run=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then echo sudo=yes; run="sudo -n --"; else echo sudo=no; fi
fi
echo "node=$($run node -p process.versions.node 2>/dev/null)"
if [ -f "$HOME/$2/$1/manifest.json" ]; then touch "$HOME/$2/$1"; echo installed=yes; else echo installed=no; fi
(umask 077 && mkdir -p "$HOME/$2") 2>/dev/null
check="$HOME/$2/.exec-check.$$"
if printf '#!/bin/sh\nexit 0\n' >"$check" 2>/dev/null; then
  chmod 700 "$check"
  if "$check" 2>/dev/null; then echo exec=yes; else echo exec=no; echo "mount=$(df -P "$HOME/$2" | sed -nE '2s/^([^ ]+ +){5}//p')"; fi
  rm -f "$check"
fi
`;

interface Probe {
  home: string;
  arch: string;
  node: string;
  sudo?: "yes" | "no";
  installed: "yes" | "no";
  /** Absent when the directory could not be written (the upload then says why). */
  exec?: "yes" | "no";
  mount?: string;
}

async function probe(client: Client, bundle: Bundle, where: string): Promise<Probe> {
  const r = await run(client, ["sh", "-c", PROBE, "sh", bundle.name, AGENTS]);
  const fields = Object.fromEntries(r.stdout.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  if (r.code !== 0 || !fields.home) throw new RootfsError(`${where}: could not read the host (sh exited ${r.code}): ${r.stderr.trim()}`);
  return fields as unknown as Probe;
}

/** Refuses a host the agent cannot run on, saying what to change there. */
function checkHost(p: Probe, bundle: Bundle, user: string, where: string): void {
  if (p.exec === "no")
    throw new RootfsError(
      `${where}: ${path.posix.join(p.home, AGENTS)} is on ${p.mount || "a mount"} mounted noexec, where the agent's native module cannot be loaded: mount it without noexec, or give ${user} a home on a filesystem that allows execution`,
    );
  if (p.sudo === "no")
    throw new RootfsError(
      `${where}: ${user} is not root and cannot run sudo without a password (sudo -n); the agent needs root: allow it passwordless sudo, or connect as root`,
    );
  const arch = UNAME_ARCH[p.arch] ?? p.arch;
  if (arch !== bundle.manifest.arch)
    throw new RootfsError(`${where}: the host is ${p.arch}; this provider's agent is built for ${bundle.manifest.arch} hosts only`);
  const major = Number(p.node.split(".")[0]);
  if (!p.node || !(major >= MIN_NODE_MAJOR))
    throw new RootfsError(
      `${where}: the agent needs Node.js ${MIN_NODE_MAJOR} or later on the host${p.sudo ? " (on sudo's PATH)" : ""}; found ${p.node ? `Node.js ${p.node}` : "none"}: install nodejs ${MIN_NODE_MAJOR} or later (Debian 13 ships it; NodeSource packages it for older releases)`,
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
 * Refuses an upload whose files the host does not read back as the manifest's: each file's sha256, taken
 * on the host by coreutils' or busybox's sha256sum, against the manifest. A file cut short or changed on
 * the way is named; nothing of the upload runs.
 */
async function verifyUpload(client: Client, bundle: Bundle, dir: string, where: string): Promise<void> {
  const { files } = bundle.manifest;
  const r = await run(client, ["sh", "-c", 'cd "$1" && shift && exec sha256sum -- "$@"', "sh", dir, ...files.map((f) => f.path)]);
  // One line a file, in the order given, each starting with the sum (the name after it is not read back:
  // GNU's escapes some names).
  const sums = r.stdout.split("\n").map((l) => l.split(" ")[0]);
  if (r.code !== 0 && !r.stdout)
    throw new RootfsError(`${where}: could not check the uploaded agent: sha256sum exited ${r.code}: ${r.stderr.trim()}`);
  const wrong = files.filter((f, i) => sums[i] !== f.sha256).map((f) => f.path);
  if (r.code !== 0 || wrong.length) {
    const why = `${wrong.join(", ") || r.stderr.trim()}: not the sha256 the manifest gives`;
    throw new RootfsError(`${where}: the agent uploaded to ${dir} is not whole (${why}); it is removed, and nothing of it ran`);
  }
}

/**
 * Uploads the bundle to `<root>/<name>.tmp-<pid>-<time>`, checks every file there against the manifest,
 * then renames it to `<root>/<name>`. A directory of that name without a manifest (a removal cut short)
 * is removed first; one with a manifest was put there by another process meanwhile, and serves as well.
 */
async function upload(client: Client, bundle: Bundle, home: string, where: string): Promise<void> {
  const root = path.posix.join(home, AGENTS);
  const final = path.posix.join(root, bundle.name);
  const temporary = `${final}.tmp-${process.pid}-${Date.now()}`;
  let sftp: SFTPWrapper | undefined;
  try {
    sftp = await sftpOf(client);
    const session = sftp;
    await mkdirs(session, temporary, home);
    for (const file of bundle.manifest.files) {
      const target = path.posix.join(temporary, file.path);
      await mkdirs(session, path.posix.dirname(target), temporary);
      await call((cb) => session.fastPut(path.join(bundle.dir, file.path), target, cb));
    }
    await verifyUpload(client, bundle, temporary, where);
    // The manifest goes last: its presence is what says the directory is whole.
    await call((cb) => session.fastPut(path.join(bundle.dir, "manifest.json"), path.posix.join(temporary, "manifest.json"), cb));
    const whole = () => succeeds((cb) => session.stat(path.posix.join(final, "manifest.json"), cb));
    if (!(await succeeds((cb) => session.rename(temporary, final, cb))) && !(await whole())) {
      await run(client, ["rm", "-rf", "--", final]);
      if (!(await succeeds((cb) => session.rename(temporary, final, cb))) && !(await whole()))
        throw new RootfsError(`${where}: could not move the uploaded agent into ${final}`);
    }
  } catch (e) {
    if (e instanceof RootfsError) throw e;
    throw new RootfsError(`${where}: uploading the agent failed: ${(e as Error).message}`);
  } finally {
    sftp?.end();
    // Gone when renamed; otherwise a failed or superfluous upload.
    await run(client, ["rm", "-rf", "--", temporary]).catch(() => undefined);
  }
  // Other versions not used for a day (a probe touches the one it finds), and uploads left half-done.
  await run(client, [
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
    bundle.name,
    "-mmin",
    "+1440",
    "-exec",
    "rm",
    "-rf",
    "--",
    "{}",
    "+",
  ]);
}

/**
 * Installs the agent where it is missing and starts it: a core served by the host over this connection.
 * `bundle`: the one beside this code, unless a test gives another.
 */
export async function startAgent(client: Client, user: string, where: string, bundle?: Bundle): Promise<AgentCore> {
  bundle ??= await localBundle();
  const host = await probe(client, bundle, where);
  checkHost(host, bundle, user, where);
  if (host.installed === "no") await upload(client, bundle, host.home, where);
  const agent = path.posix.join(host.home, AGENTS, bundle.name, "agent.js");
  const channel = await open(client, [...(host.sudo ? ["sudo", "-n", "--"] : []), "node", agent]);
  return agentCore({ stdin: channel, stdout: channel, stderr: channel.stderr }, where);
}
