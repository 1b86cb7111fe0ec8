/** What `source` may be, judged before anything is touched: the rules that need no host. */
import { InvalidInput } from "./errors";
import { ImageSource } from "./requests";
import { redactedUrl } from "./urls";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * `source` as the create takes it: a url without control characters (a line break in a URL has smuggled
 * options into tools that read it as config), and a sha256 of 64 hex digits, lowercased. Whether the url
 * names a tarball is the host's to say (executor/source.ts).
 */
export function imageSourceOf(value: unknown): ImageSource {
  const { url, sha256 } = (value ?? {}) as { url?: unknown; sha256?: unknown };
  if (typeof url !== "string" || url === "" || [...url].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw new InvalidInput("source.url", typeof url === "string" ? redactedUrl(url) : url, "a path or URL without control characters");
  if (sha256 === undefined || sha256 === null) return { url };
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256.toLowerCase()))
    throw new InvalidInput("source.sha256", sha256, "64 hexadecimal digits, the tarball's sha256");
  return { url, sha256: sha256.toLowerCase() };
}
