/** What `source` may be, judged before anything is touched: the rules that need no host. */
import { InvalidInput } from "./errors";
import { ImageSource } from "./requests";
import { ociRefOf } from "./oci";
import { isRemoteUrl, redactedUrl, shownUrl } from "./urls";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * `source` as the create takes it: a url without control characters (a line break in a URL has smuggled
 * options into tools that read it as config), and a sha256 of 64 hex digits, lowercased. Whether the url
 * names a tarball is the host's to say (executor/source.ts).
 */
/** Whether `text` holds a control character (a C0 one, or DEL). */
const hasControl = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

export function imageSourceOf(value: unknown): ImageSource {
  const { url, sha256, server } = (value ?? {}) as { url?: unknown; sha256?: unknown; server?: unknown };
  if (typeof url !== "string" || url === "" || hasControl(url))
    throw new InvalidInput("source.url", typeof url === "string" ? shownUrl(url) : url, "a path or URL without control characters");
  if (isRemoteUrl(url) && !URL.canParse(url))
    throw new InvalidInput("source.url", redactedUrl(url), "an http(s) URL that parses (WHATWG URL), with no spaces in its host");
  ociRefOf(url); // an OCI reference is checked for its form here, before the host is asked
  const out: ImageSource = { url };
  if (server !== undefined && server !== null) {
    if (!/^images:/i.test(url))
      throw new InvalidInput("source.server", typeof server === "string" ? shownUrl(server) : server, "only with an images: url");
    if (typeof server !== "string" || !isRemoteUrl(server) || hasControl(server))
      throw new InvalidInput(
        "source.server",
        typeof server === "string" ? redactedUrl(server) : server,
        "an http(s) URL of an image server",
      );
    out.server = server.replace(/\/+$/, "");
  }
  if (sha256 === undefined || sha256 === null) return out;
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256.toLowerCase()))
    throw new InvalidInput("source.sha256", sha256, "64 hexadecimal digits, the tarball's sha256 (an OCI image's: its manifest's)");
  return { ...out, sha256: sha256.toLowerCase() };
}
