/**
 * OCI images on the host, as LXC's oci template has them: skopeo reads the reference (a layout, an
 * archive, a registry) and copies the image into a layout of this tool's image cache, keyed by its
 * manifest's sha256; umoci unpacks that layout, checking every blob against its digest as it reads it.
 * A copy lands in a private temporary layout, is checked, and only then renamed into the cache: a layout
 * under a digest's name holds that manifest.
 */
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, RootfsError, ToolFailed } from "../model/errors";
import { OciPlatform, OciRef, OciRunConfig, platformManifest, runConfigOf } from "../model/oci";
import { evictImages, imageCacheDir, newPartPath } from "./download";
import { imageHash, sha256Hex } from "./digest";
import { readSmallFile } from "./paths";
import type { ByteProgress } from "../model/progress";
import { onPath, processReadBytes, Runner } from "./run";

/** The tag this tool gives the one image of each cached layout. */
export const CACHED_TAG = "rootfs";

/** A digest as this tool takes one from an image (a manifest, an index, a layer): sha256, 64 lowercase hex digits. */
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The digest, checked for its form: it names a directory of the cache and files in it, and it comes from
 * the image (a registry's index, a layout's manifest), which could spell a path out of the cache with it.
 */
function checkedDigest(digest: unknown, what: string): string {
  if (typeof digest !== "string" || !DIGEST.test(digest))
    throw new RootfsError(
      `the OCI image names its ${what} by ${JSON.stringify(digest)?.slice(0, 100)}, not a sha256 digest. Nothing was changed.`,
    );
  return digest;
}

const TOOLS = [
  { tool: "skopeo", pkg: "skopeo" },
  { tool: "umoci", pkg: "umoci" },
];

/** Refuses, before anything is made, a host without skopeo or umoci, naming the Debian package. */
export async function requireOciTools(): Promise<void> {
  for (const { tool, pkg } of TOOLS) {
    if (!(await onPath(tool)))
      throw new RootfsError(
        `an OCI image is read with skopeo and unpacked with umoci, and ${tool} is not installed on the host: install ${pkg}`,
      );
  }
}

/** skopeo's failure as an error naming the reference, with skopeo's last line; any other error as it is. */
function skopeoFailure(ref: OciRef, e: unknown): unknown {
  if (!(e instanceof ToolFailed)) return e;
  const last = e.stderr.trim().split("\n").pop() ?? "";
  return new InvalidInput(
    "source.url",
    ref.ref,
    `an OCI image skopeo can read; it says: ${last.replace(/^time="[^"]*" level=\w+ msg=/, "") || `exit ${e.exitCode}`}`,
  );
}

/** An image's manifest is small: OCI's registries take at most 4 MiB. */
const MAX_MANIFEST = 4 * 2 ** 20;

/** An OCI architecture's name for Node's. */
const OCI_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64" };

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: OciPlatform;
  annotations?: Record<string, string>;
}

/** What the reference names for this host: its manifest's digest, and the bytes a copy fetches when the manifest says. */
export interface OciHead {
  /** `sha256:<hex>` of the manifest for this host's platform: what `sha256` pins and `sourceDigest` records. */
  digest: string;
  /** Of an index (a multi-platform image): its own digest, for a message that tells the two apart. */
  indexDigest?: string;
  fetchBytes: number | null;
}

/**
 * Asks skopeo for the manifest the reference names (`inspect --raw`), without copying anything: a preview.
 * An index (a multi-platform image) gives the manifest of this host's platform, as a copy takes it.
 */
export async function inspectOci(run: Runner, ref: OciRef, tmpdir: string): Promise<OciHead> {
  // The manifest's bytes as skopeo prints them, hashed as they are (never decoded and encoded again).
  const chunks: Buffer[] = [];
  let size = 0;
  await run(["skopeo", "--tmpdir", tmpdir, "inspect", "--raw", ref.ref], {
    onStdout: (chunk) => {
      size += chunk.length;
      if (size <= MAX_MANIFEST) chunks.push(chunk);
    },
  }).catch((e: unknown) => {
    throw skopeoFailure(ref, e);
  });
  if (size > MAX_MANIFEST)
    throw new RootfsError(`the manifest ${ref.ref} names is ${size} bytes, more than an image's manifest. Nothing was changed.`);
  const raw = Buffer.concat(chunks);
  const digest = `sha256:${imageHash().hash.update(raw).digest("hex")}`;
  let doc: { manifests?: Descriptor[]; layers?: Descriptor[]; config?: Descriptor };
  try {
    doc = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new RootfsError(`what skopeo prints as the manifest ${ref.ref} names is not JSON. Nothing was changed.`);
  }
  if (!Array.isArray(doc.manifests)) {
    const sizes = [doc.config, ...(doc.layers ?? [])].map((d) => d?.size);
    return { digest, fetchBytes: sizes.every((s) => typeof s === "number") ? sizes.reduce((a, b) => a! + b!, 0)! : null };
  }
  const arch = OCI_ARCH[process.arch] ?? process.arch;
  const mine = platformManifest(doc.manifests, arch);
  if (!mine) throw new InvalidInput("source.url", ref.ref, `an OCI image for linux/${arch}, and its index lists none`);
  return { digest: checkedDigest(mine.digest, "manifest for this platform"), indexDigest: digest, fetchBytes: null };
}

const layoutOf = (digest: string) => path.join(imageCacheDir(), `oci-${checkedDigest(digest, "manifest").slice(7)}`);
const blobOf = (layout: string, digest: unknown, what: string) => path.join(layout, "blobs", ...checkedDigest(digest, what).split(":"));

/** A cached image, as read from its layout: the manifest's blobs and the config. */
export interface OciLayout {
  layout: string;
  digest: string;
  /** The layers' blob files, in order, and their bytes. */
  layers: { file: string; size: number }[];
  config: OciRunConfig;
}

/**
 * The cached layout of the manifest `digest` names, checked: its tag names that manifest, the manifest's
 * bytes hash to it, and the config's to the config's digest. (umoci checks each layer's blob as it unpacks it.) Its use is recorded for
 * eviction. Null when there is none, or it does not check (it is dropped).
 */
export async function cachedOci(digest: string): Promise<OciLayout | null> {
  const layout = layoutOf(digest);
  const st = await fs.lstat(layout).catch(() => null);
  if (!st?.isDirectory()) return null;
  const found = await readLayout(layout).catch(() => null);
  if (found?.digest !== digest) {
    await fs.rm(layout, { recursive: true, force: true });
    return null;
  }
  const now = new Date();
  await fs.utimes(layout, now, now);
  return found;
}

/** A blob's JSON, after its bytes are checked against its digest. */
async function readBlob<T>(layout: string, digest: unknown, what: string): Promise<T> {
  const file = blobOf(layout, digest, what);
  if ((await sha256Hex(file)) !== checkedDigest(digest, what).slice(7)) throw new RootfsError(`${file} does not hash to ${String(digest)}`);
  return JSON.parse((await fs.readFile(file)).toString("utf8")) as T;
}

async function readLayout(layout: string): Promise<OciLayout> {
  const index = JSON.parse((await readSmallFile(path.join(layout, "index.json"))) ?? "{}") as { manifests?: Descriptor[] };
  const entry = index.manifests?.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === CACHED_TAG);
  if (!entry) throw new RootfsError(`${layout} has no image tagged ${CACHED_TAG}`);
  const manifest = await readBlob<{ config: Descriptor; layers: Descriptor[] }>(layout, entry.digest, "manifest");
  const config = await readBlob<{ config?: unknown }>(layout, manifest.config?.digest, "config");
  const layers = await Promise.all(
    (manifest.layers ?? []).map(async (l) => {
      const file = blobOf(layout, l.digest, "layer");
      const st = await fs.lstat(file);
      if (!st.isFile()) throw new RootfsError(`${file} is not a regular file`);
      return { file, size: st.size };
    }),
  );
  return { layout, digest: entry.digest, layers, config: runConfigOf(config.config) };
}

/**
 * Copies the image into the cache with skopeo, keeping its digests, and returns the cached layout. The copy
 * is refused, and nothing kept, when its manifest is not `expect` (when the caller pins one).
 */
export async function fetchOci(
  run: Runner,
  ref: OciRef,
  expect: string | null,
  tmpdir: string,
  progress?: ByteProgress,
): Promise<OciLayout> {
  const part = await newPartPath("oci-");
  try {
    // Its progress: what skopeo has read, from the registry's connection or the source's files.
    await run(["skopeo", "--tmpdir", tmpdir, "copy", "--quiet", "--preserve-digests", ref.ref, `oci:${part}:${CACHED_TAG}`], {
      onSpawn: (pid) => progress?.measure(() => processReadBytes(pid)),
    }).catch((e: unknown) => {
      throw skopeoFailure(ref, e);
    });
    const copied = await readLayout(part);
    if (expect && expect !== copied.digest)
      throw new InvalidInput(
        "source.sha256",
        expect.slice(7),
        `the sha256 of the manifest ${ref.ref} names, which is now ${copied.digest}`,
      );
    const layout = layoutOf(copied.digest);
    // Another create may have cached the same image meanwhile: its layout is as good as this one.
    await fs.rename(part, layout).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
      await fs.rm(part, { recursive: true, force: true });
    });
    await evictImages(layout);
    return { ...copied, layout, layers: copied.layers.map((l) => ({ ...l, file: path.join(layout, path.relative(part, l.file)) })) };
  } finally {
    await fs.rm(part, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with a private directory in the image cache for skopeo's temporary files (an oci-archive is
 * unpacked whole into one, by an inspect as by a copy), removed after; a killed run's is swept with the
 * cache's other `.part-` leftovers, rather than left in /var/tmp for good.
 */
export async function withSkopeoTmp<T>(fn: (tmpdir: string) => Promise<T>): Promise<T> {
  const tmpdir = await newPartPath("tmp-");
  await fs.mkdir(tmpdir, { mode: 0o700 });
  try {
    return await fn(tmpdir);
  } finally {
    await fs.rm(tmpdir, { recursive: true, force: true });
  }
}
