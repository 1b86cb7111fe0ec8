/** The sha256 of a file, streamed: the one hash of OS images, here and in the unpack that re-checks it. */
import { createHash, Hash } from "crypto";
import { promises as fs } from "fs";
import type { ByteProgress } from "../model/progress";

/** A running sha256 whose result reads as an image digest, `sha256:<hex>`. */
export function imageHash(): { hash: Hash; digest: () => string } {
  const hash = createHash("sha256");
  return { hash, digest: () => `sha256:${hash.digest("hex")}` };
}

/**
 * The digest of the file open at `handle`, read from its start in 1 MiB steps (each hashed between reads,
 * so the event loop is never held for long), counted on `progress`.
 */
export async function digestOf(handle: fs.FileHandle, progress?: ByteProgress): Promise<string> {
  const { hash, digest } = imageHash();
  const buffer = Buffer.alloc(1 << 20);
  for (let position = 0; ;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return digest();
    hash.update(buffer.subarray(0, bytesRead));
    progress?.add(bytesRead);
    position += bytesRead;
  }
}

/** The sha256 of the file at `file`, in hex: the one streaming hash of files, for images and runtimes alike. */
export async function sha256Hex(file: string): Promise<string> {
  const handle = await fs.open(file, "r");
  try {
    return (await digestOf(handle)).slice("sha256:".length);
  } finally {
    await handle.close();
  }
}
