/**
 * `source`: the OS image a create unpacks, found and checked on the host before anything is made. The
 * create's preview runs the same checks, so a wrong path, digest or format fails the preview.
 */
import { promises as fs } from "fs";
import path from "path";
import { fileURLToPath } from "url";
import { InvalidInput } from "../model/errors";
import { ImageShape } from "../model/plans";
import { ImageSource } from "../model/requests";
import { OpContext } from "../drivers/types";
import { CompressionName, compressionOf, requireDecompressor, tarStreamBytes } from "../host/archive";
import { digestOf } from "../host/digest";
import { imageSourceOf } from "../model/images";

/** An image ready to unpack: the file, what the planner counts, and the compression tar is told of. */
export interface ResolvedImage extends ImageShape {
  file: string;
  compression: CompressionName;
}

const URL_ALLOWED = "the absolute path of a rootfs tarball on the LXC host, or a file:// URL of one";

/** The file `url` names on the host: an absolute path, or a file:// URL without a host. */
function fileOf(url: string): string {
  if (url.startsWith("/")) return path.normalize(url);
  if (/^file:/i.test(url)) {
    let file: string;
    try {
      file = fileURLToPath(url);
    } catch (e) {
      throw new InvalidInput("source.url", url, `${URL_ALLOWED} (${(e as Error).message})`);
    }
    return file;
  }
  throw new InvalidInput("source.url", url, URL_ALLOWED);
}

/**
 * Finds and checks the image `source` names: a regular file, a tarball in a compression this host can read,
 * of the sha256 given (computed either way: the create records it). Nothing is written.
 */
export async function resolveImage(ctx: OpContext, given: ImageSource): Promise<ResolvedImage> {
  const source = imageSourceOf(given);
  const wanted = source.sha256;
  const file = fileOf(source.url);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (e) {
    throw new InvalidInput("source.url", source.url, `${URL_ALLOWED}; opening it failed: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new InvalidInput("source.url", source.url, `${URL_ALLOWED}; this is not a regular file`);
    const compression = await compressionOf(handle, "source.url", source.url);
    await requireDecompressor(ctx.run, compression);
    const digest = await digestOf(handle);
    if (wanted !== undefined && digest !== `sha256:${wanted}`)
      throw new InvalidInput("source.sha256", source.sha256, `the tarball's sha256, and ${file} has ${digest}`);
    const streamBytes = await tarStreamBytes(ctx.run, file, compression, st.size);
    return { file, compression, digest, streamBytes, name: path.basename(file) };
  } finally {
    await handle.close();
  }
}
