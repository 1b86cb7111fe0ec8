/**
 * `source`: the OS image a create unpacks, found and checked on the host before anything is made. The
 * create's preview runs the same checks, so a wrong path, digest or format fails the preview.
 */
import { promises as fs } from "fs";
import path from "path";
import { fileURLToPath } from "url";
import { InvalidInput, RootfsError } from "../model/errors";
import { ImageShape } from "../model/plans";
import { ImageSource } from "../model/requests";
import { OpContext } from "../drivers/types";
import { CompressionName, compressionOf, readTarMembers, requireDecompressor, tarStreamBytes } from "../host/archive";
import { digestOf } from "../host/digest";
import { imageSourceOf } from "../model/images";
import { LxcImageMeta, lxcImageMetaOf } from "../model/lxc-meta";
import { OciRef, ociConfigLines, ociRefOf } from "../model/oci";
import { cachedOci, fetchOci, inspectOci, OciLayout, requireOciTools, withSkopeoTmp } from "../host/oci";
import { withProgress } from "./progress";
import { imageNameOf, isRemoteUrl, redactedUrl, shownUrl } from "../model/urls";
import { printable } from "../model/text";
import { cachedImage, dropCached, fetchImage, fetchJson, fetchSmall, headImage } from "../host/download";
import { DEFAULT_IMAGE_SERVER, findStreamImage, imageAliasOf, productsPath, serverArch } from "../model/streams";

/** A tarball ready to unpack: the file, what the planner counts, and the compression tar is told of. */
export interface TarballImage extends ImageShape {
  format: "tarball";
  file: string;
  compression: CompressionName;
  /** An LXC image's metadata: the config it asks for, and the files in which its variables are filled in. */
  meta?: LxcImageMeta;
}

/** An OCI image in the host's cache, ready for umoci: its layout, and the config lines it asks for. */
export interface OciImage extends ImageShape {
  format: "oci";
  layout: string;
  /** The layers' blobs' bytes, which umoci reads as it unpacks. */
  layerBytes: number;
  config: string[];
  /** The config's `User`, resolved to ids in the unpacked rootfs. */
  user?: string;
}

/** An image on the host, ready to unpack. */
export type ResolvedImage = TarballImage | OciImage;

const URL_ALLOWED =
  "the absolute path of a rootfs tarball on the LXC host, a file:// URL of one, an http(s) URL the host fetches, images:<dist>/<release>[/<variant>], or an OCI image (oci:<dir>[:<tag>], oci-archive:<file>[:<tag>], docker://<reference>)";

/** The file `url` names on the host: an absolute path, or a file:// URL without a host. */
function fileOf(url: string): string {
  if (url.startsWith("/")) return path.normalize(url);
  if (/^file:/i.test(url)) {
    let file: string;
    try {
      file = fileURLToPath(url);
    } catch (e) {
      throw new InvalidInput("source.url", shownUrl(url), `${URL_ALLOWED} (${(e as Error).message.replace(url, "…")})`);
    }
    return file;
  }
  // A URL of another scheme is shown without what may be secret in it.
  throw new InvalidInput("source.url", shownUrl(url), URL_ALLOWED);
}

/**
 * A local file: found, and checked as a tarball of the sha256 given. `shown`: how messages name it.
 * `hashNow` false (a create, of a file with no sha256 to check): its digest is taken as it is unpacked,
 * and the file is read once less.
 */
async function resolveFile(
  ctx: OpContext,
  file: string,
  source: ImageSource,
  shown: string,
  name: string,
  hashNow = true,
): Promise<TarballImage> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (e) {
    throw new InvalidInput("source.url", shown, `${URL_ALLOWED}; opening it failed: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new InvalidInput("source.url", shown, `${URL_ALLOWED}; this is not a regular file`);
    // The digest first: a cached image that lost it is fetched again, whatever its first bytes now say.
    const digest =
      hashNow || source.sha256 !== undefined
        ? await withProgress(ctx, `checking ${name}`, { total: st.size }, (p) => digestOf(handle, p))
        : null;
    if (source.sha256 !== undefined && digest !== `sha256:${source.sha256}`)
      throw new InvalidInput("source.sha256", source.sha256, `the tarball's sha256, and ${shown} has ${digest}`);
    const compression = await compressionOf(handle, "source.url", shown);
    await requireDecompressor(compression);
    const streamBytes = await withProgress(ctx, `counting ${name}`, {}, (p) => tarStreamBytes(ctx.run, file, compression, st.size, p));
    return { format: "tarball", file, compression, digest, streamBytes, name };
  } finally {
    await handle.close();
  }
}

/**
 * An image by URL: from the host's cache when it holds that sha256 (a cached file that lost its digest is
 * dropped and fetched again), else fetched there, by the host itself. `fetch` false (a preview): nothing is
 * fetched; the server is asked whether it has the image, and the plan counts the tree once it is fetched.
 */
async function resolveRemote(ctx: OpContext, source: ImageSource, fetch: boolean): Promise<ResolvedImage | ImageShape> {
  const shown = redactedUrl(source.url);
  const hex = source.sha256;
  if (hex === undefined)
    throw new InvalidInput("source.sha256", undefined, `required for an image fetched by URL (${shown}): it is checked against it`);
  const name = imageNameOf(source.url);
  const cached = await cachedImage(hex);
  if (cached) {
    try {
      return await resolveFile(ctx, cached, source, shown, name);
    } catch (e) {
      if (!(e instanceof InvalidInput && e.property === "source.sha256")) throw e;
      await dropCached(hex);
    }
  }
  if (!fetch) return { name, digest: `sha256:${hex}`, streamBytes: null, fetchBytes: (await headImage(ctx.run, source.url)).bytes };
  const fetched = await withProgress(ctx, `fetching ${name}`, {}, (p) => fetchImage(ctx.run, source.url, hex, p));
  return resolveFile(ctx, fetched, source, shown, name);
}

/**
 * An image from an image server (`images:<dist>/<release>[/<variant>]`): its simplestreams index says which
 * file is the newest for this host's architecture, and its sha256; the file is then fetched as any URL.
 * A sha256 given pins it: a server whose newest image is another is refused. A preview reads the index.
 */
async function resolveServerImage(ctx: OpContext, source: ImageSource, fetch: boolean): Promise<ResolvedImage | ImageShape> {
  const alias = imageAliasOf(source.url)!;
  const server = source.server ?? DEFAULT_IMAGE_SERVER;
  const index = await fetchJson(ctx.run, `${server}/streams/v1/index.json`);
  let products: unknown;
  try {
    products = await fetchJson(ctx.run, `${server}/${productsPath(index)}`);
  } catch (e) {
    if (e instanceof RootfsError) throw e;
    throw new RootfsError(`the image server at ${redactedUrl(server)} is not one: ${(e as Error).message}. Nothing was changed.`);
  }
  const found = findStreamImage(products, alias, serverArch(process.arch));
  if (source.sha256 !== undefined && source.sha256 !== found.sha256)
    throw new InvalidInput(
      "source.sha256",
      source.sha256,
      `the image's sha256, and the server's newest ${source.url} (${found.version}) is sha256:${found.sha256}`,
    );
  const name = `images:${alias.dist}/${alias.release}/${alias.variant} (${printable(found.version)})`;
  const image = await resolveRemote(ctx, { url: `${server}/${found.path}`, sha256: found.sha256 }, fetch);
  if (!("format" in image)) return { ...image, name, fetchBytes: image.fetchBytes ?? found.size };
  const meta = await fetchLxcMeta(ctx, `${server}/${path.posix.dirname(found.path)}/meta.tar.xz`);
  return { ...image, name, ...(meta ? { meta } : {}) };
}

/**
 * The LXC metadata beside an image server's rootfs (meta.tar.xz, which LXC's download template reads);
 * null for a server that has none (an Incus-only one). Its simplestreams index gives no sha256 for it:
 * it is trusted as the index is. It is read without being unpacked.
 */
async function fetchLxcMeta(ctx: OpContext, url: string): Promise<LxcImageMeta | null> {
  const file = await fetchSmall(ctx.run, url, 16 * 2 ** 20);
  if (!file) return null;
  try {
    return lxcImageMetaOf(await readTarMembers(ctx.run, file, ["config", "templates"]));
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** The bytes of a layer's tar stream, told by its compression as a tarball's are. */
async function layerStreamBytes(ctx: OpContext, layer: { file: string; size: number }, shown: string): Promise<number> {
  const handle = await fs.open(layer.file, "r");
  const compression = await compressionOf(handle, "source.url", shown).finally(() => handle.close());
  await requireDecompressor(compression);
  return tarStreamBytes(ctx.run, layer.file, compression, layer.size);
}

/**
 * An OCI image: skopeo asks for its manifest, and a create copies it into the host's cache, which a second
 * create of the same digest uses without asking anyone. A sha256 given pins the manifest (of this host's
 * platform, for a multi-platform image). A preview copies nothing, but counts the tree of a cached image.
 */
async function resolveOci(ctx: OpContext, source: ImageSource, ref: OciRef, fetch: boolean): Promise<OciImage | ImageShape> {
  await requireOciTools();
  const pinned = source.sha256 === undefined ? null : `sha256:${source.sha256}`;
  let cached: OciLayout | ImageShape | null = pinned === null ? null : await cachedOci(pinned);
  if (!cached) {
    cached = await withSkopeoTmp(async (tmpdir): Promise<OciLayout | ImageShape> => {
      const head = await inspectOci(ctx.run, ref, tmpdir);
      if (pinned && pinned !== head.digest) {
        const index = head.indexDigest ? ` (its index's is ${head.indexDigest}: give the manifest's)` : "";
        throw new InvalidInput(
          "source.sha256",
          source.sha256,
          `the sha256 of the manifest ${ref.ref} names, which is ${head.digest}${index}`,
        );
      }
      const found = await cachedOci(head.digest);
      if (found || !fetch) return found ?? { name: ref.name, digest: head.digest, streamBytes: null, fetchBytes: head.fetchBytes };
      return withProgress(ctx, `fetching ${ref.name}`, { total: head.fetchBytes }, (p) => fetchOci(ctx.run, ref, pinned, tmpdir, p));
    });
    if (!("layout" in cached)) return cached;
  }
  let streamBytes = 0;
  for (const layer of cached.layers) streamBytes += await layerStreamBytes(ctx, layer, ref.ref);
  return {
    format: "oci",
    name: ref.name,
    digest: cached.digest,
    streamBytes,
    layout: cached.layout,
    layerBytes: cached.layers.reduce((sum, l) => sum + l.size, 0),
    config: ociConfigLines(cached.config),
    ...(cached.config.User ? { user: cached.config.User } : {}),
  };
}

/**
 * Finds and checks the image `source` names: a regular file, a tarball in a compression this host can read,
 * of the sha256 given (computed either way: the create records it; with `hashLater`, a local file's is
 * computed as it is unpacked), or an OCI image. An http(s) URL or an OCI image is fetched into the host's
 * image cache when `fetch` (a create); a preview fetches nothing. Nothing else is written.
 */
export async function resolveImage(
  ctx: OpContext,
  given: ImageSource,
  fetch: boolean,
  { hashLater = false } = {},
): Promise<ResolvedImage | ImageShape> {
  const source = imageSourceOf(given);
  const oci = ociRefOf(source.url);
  if (oci) return resolveOci(ctx, source, oci, fetch);
  if (imageAliasOf(source.url)) return resolveServerImage(ctx, source, fetch);
  if (isRemoteUrl(source.url)) return resolveRemote(ctx, source, fetch);
  const file = fileOf(source.url);
  return resolveFile(ctx, file, source, shownUrl(source.url), path.basename(file), !hashLater);
}
