/**
 * The Node.js the agent brings to a host, and the other packages fetched from the npm registry when first
 * needed rather than installed with this one: the official binary in `node-linux-<arch>` (the pin and its
 * integrity are in node-runtime.json), and koffi's native module for the other architecture (the build).
 *
 * Each is fetched once by its tarball's address and integrity, so npm's cache answers when the registry
 * does not, checked against the integrity by pacote as it is read, and unpacked under the cache root
 * (`$PULUMI_LXC_CACHE`, or `~/.cache/pulumi-lxc`), where a machine that has it needs no registry at all.
 * Every write goes to a temporary name renamed into place: a fetch cut short is never taken for a package.
 */
import { createReadStream, createWriteStream, promises as fs } from "fs";
import os from "os";
import path from "path";
import { pipeline } from "stream/promises";
import { createGzip } from "zlib";
import { RootfsError } from "../../model/errors";
import { sha256Hex } from "../../host/digest";
import pins from "./node-runtime.json";

/** The architectures the agent runs on, as Node names them. */
export const ARCHES = ["x64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** The line of Node.js the agent brings (and the tests run on). */
export const AGENT_LINE = pins.agentLine;

export interface NodePin {
  line: string;
  version: string;
  arch: Arch;
  /** The npm package that carries the binary. */
  package: string;
  integrity: string;
}

export function cacheRoot(): string {
  return process.env.PULUMI_LXC_CACHE || path.join(os.homedir(), ".cache", "pulumi-lxc");
}

export function pinOf(line: string, arch: Arch): NodePin {
  const pin = (pins.lines as Record<string, { version: string; integrity: Record<Arch, string> } | undefined>)[line];
  if (!pin || !ARCHES.includes(arch))
    throw new RootfsError(
      `no Node.js ${line} for ${arch} is pinned; node-runtime.json has lines ${Object.keys(pins.lines).join(", ")} for ${ARCHES.join(", ")}`,
    );
  return { line, version: pin.version, arch, package: `node-linux-${arch}`, integrity: pin.integrity[arch] };
}

/** Where a pinned binary lives: `<cache root>/<cacheDir>` with node-runtime.json's layout. */
export function nodeDir(pin: NodePin): string {
  return path.join(cacheRoot(), pins.cacheDir.replace("{version}", pin.version).replace("{arch}", pin.arch));
}

/**
 * A package's tarball, from npm's cache or the registry. pacote checks it against `integrity`
 * (`sha512-<base64>`) as it reads, from the cache as from the registry, and refuses a mismatch (EINTEGRITY).
 */
async function fetchTarball(name: string, version: string, integrity: string, what: string): Promise<Buffer> {
  // Required here, as tar is below: they are large, and most uses of the provider never fetch anything.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pacote = require("pacote") as {
    tarball(spec: string, options: { integrity: string; resolved: string; cache: string }): Promise<Buffer>;
  };
  const resolved = `https://registry.npmjs.org/${name}/-/${name.split("/").pop()}-${version}.tgz`;
  // npm's own cache, named: pacote reads it by the integrity without it, but writes to it only when told,
  // and a machine with the registry down then has nothing to read.
  const cache = path.join(process.env.npm_config_cache || path.join(os.homedir(), ".npm"), "_cacache");
  return pacote.tarball(`${name}@${version}`, { integrity, resolved, cache }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "EINTEGRITY") throw new RootfsError(`${name}@${version} (${what}) is not the one pinned: ${e.message}`);
    throw new RootfsError(`could not fetch ${name}@${version} (${what}) from the npm registry or npm's cache: ${e.message}`);
  });
}

/** Writes to a fresh temporary directory beside `final`, then renames it into place (or takes one another process put there). */
async function intoPlace(final: string, make: (temporary: string) => Promise<void>): Promise<void> {
  await fs.mkdir(path.dirname(final), { recursive: true });
  const temporary = `${final}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.mkdir(temporary);
    await make(temporary);
    await fs.rename(temporary, final).catch(async (e: NodeJS.ErrnoException) => {
      if (!(await exists(final))) throw e;
    });
  } finally {
    await fs.rm(temporary, { recursive: true, force: true });
  }
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

/**
 * A package unpacked under `<cache root>/npm/<name>@<version>/package`, fetched on first use.
 * `only`: the paths inside the package to unpack (all when absent).
 */
export async function cachedPackage(name: string, version: string, integrity: string, what: string, only?: string[]): Promise<string> {
  const dir = path.join(cacheRoot(), "npm", `${name}@${version}`);
  const done = path.join(dir, "package");
  if (await exists(done)) return done;
  const data = await fetchTarball(name, version, integrity, what);
  await intoPlace(dir, async (temporary) => {
    // An entry is unpacked when it is one of `only`, inside one, or a directory on the way to one.
    const inside = (entry: string, dir: string) => entry.startsWith(`${dir.replace(/\/$/, "")}/`);
    const filter =
      only && ((p: string) => only.some((o) => p === `package/${o}` || inside(p, `package/${o}`) || inside(`package/${o}`, p)));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tar = require("tar") as typeof import("tar");
    const unpack = tar.x({ cwd: temporary, strict: true, ...(filter ? { filter } : {}) });
    await pipeline(async function* () {
      yield data;
    }, unpack);
  });
  return done;
}

/**
 * The part `only` of a Node.js package, unpacked afresh: its unpacked copy is only a step (the binary and
 * the headers are moved out of it, and it is removed), so one left by a process that died holds some other
 * part, or none.
 */
async function nodePackage(pin: NodePin, what: string, only: string[]): Promise<string> {
  await fs.rm(path.join(cacheRoot(), "npm", `${pin.package}@${pin.version}`), { recursive: true, force: true });
  return cachedPackage(pin.package, pin.version, pin.integrity, what, only);
}

export interface NodeBinary {
  pin: NodePin;
  /** The binary itself. */
  path: string;
  sha256: string;
}

/** The pinned Node.js binary for `arch`, from the cache, or fetched and kept there (`<dir>/bin/node`). */
export async function nodeBinary(line: string, arch: Arch): Promise<NodeBinary> {
  const pin = pinOf(line, arch);
  const dir = nodeDir(pin);
  const described = path.join(dir, "node.json");
  const known = await fs.readFile(described, "utf8").then(
    (t) => JSON.parse(t) as { version: string; sha256: string },
    () => null,
  );
  if (known?.version === pin.version) return { pin, path: path.join(dir, "bin", "node"), sha256: known.sha256 };
  // A directory without its description is one a removal or an older layout left: made again.
  await fs.rm(dir, { recursive: true, force: true });
  const from = await nodePackage(pin, `Node.js ${pin.version} for ${arch}`, ["bin/node"]);
  await intoPlace(dir, async (temporary) => {
    await fs.mkdir(path.join(temporary, "bin"));
    const binary = path.join(temporary, "bin", "node");
    await fs.copyFile(path.join(from, "bin", "node"), binary);
    await fs.chmod(binary, 0o755);
    await fs.writeFile(path.join(temporary, "node.json"), `${JSON.stringify({ version: pin.version, sha256: await sha256Hex(binary) })}\n`);
  });
  // The package's copy is no longer needed: the binary is 100+ MB.
  await fs.rm(path.dirname(from), { recursive: true, force: true });
  const made = JSON.parse(await fs.readFile(described, "utf8")) as { sha256: string };
  return { pin, path: path.join(dir, "bin", "node"), sha256: made.sha256 };
}

/**
 * The pinned Node.js's C headers, unpacked beside its binary (`<dir>/include/node`), so that `<dir>` is a
 * prefix node-gyp takes as `--nodedir`: native modules (ssh2's crypto) are built for this Node, not for the
 * one that ran `npm ci`, without node-gyp's download from nodejs.org. Only the build asks: 67 MB of headers
 * are no use to a machine that only uploads the agent.
 */
export async function nodeHeaders(line: string, arch: Arch): Promise<string> {
  const { pin } = await nodeBinary(line, arch);
  const dir = nodeDir(pin);
  if (await exists(path.join(dir, "include", "node", "node_version.h"))) return dir;
  const from = await nodePackage(pin, `Node.js ${pin.version}'s headers`, ["include/node"]);
  await intoPlace(path.join(dir, "include"), (temporary) => fs.rename(path.join(from, "include", "node"), path.join(temporary, "node")));
  await fs.rm(path.dirname(from), { recursive: true, force: true });
  return dir;
}

export interface CompressedNode extends NodeBinary {
  /** node.gz beside the binary: what an upload sends (the host checks the binary it unpacks). */
  gz: string;
}

const compressed = new Map<Arch, Promise<CompressedNode>>();

/**
 * The agent's Node.js for `arch`, gzipped once (gzip -9: every host has gzip; xz saves a third of the bytes
 * but takes ten times as long to make and three times as long to unpack, see docs/remote.md).
 */
export function compressedNode(arch: Arch): Promise<CompressedNode> {
  let made = compressed.get(arch);
  if (!made) {
    made = makeCompressed(arch);
    made.catch(() => compressed.delete(arch));
    compressed.set(arch, made);
  }
  return made;
}

async function makeCompressed(arch: Arch): Promise<CompressedNode> {
  const binary = await nodeBinary(AGENT_LINE, arch);
  const gz = path.join(path.dirname(path.dirname(binary.path)), "node.gz");
  const described = `${gz}.json`;
  const known = await fs.readFile(described, "utf8").then(
    (t) => JSON.parse(t) as { of: string },
    () => null,
  );
  if (known?.of === binary.sha256 && (await exists(gz))) return { ...binary, gz };
  const temporary = `${gz}.tmp-${process.pid}-${Date.now()}`;
  try {
    await pipeline(createReadStream(binary.path), createGzip({ level: 9 }), createWriteStream(temporary));
    await fs.rename(temporary, gz);
    // node.gz.json says which binary node.gz holds: a new pin makes it again.
    await fs.writeFile(described, `${JSON.stringify({ of: binary.sha256 })}\n`);
    return { ...binary, gz };
  } finally {
    await fs.rm(temporary, { force: true });
  }
}
