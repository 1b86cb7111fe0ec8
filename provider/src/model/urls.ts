/** Image URLs as they may be shown and given to curl: a URL may carry a credential, which is never shown. */
import { ociRefOf, redactedRef } from "./oci";
import { printable } from "./text";

/** Whether `url` is fetched over the network (http or https), rather than read from the host's files. */
export function isRemoteUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/**
 * The URL as it may be shown in a message or a plan line: scheme, host, port and path, without a user, a
 * password, a query or a fragment (where tokens live: `user:pass@`, a presigned URL's signature). Fails
 * closed: what does not parse shows as a placeholder.
 */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(a URL that does not parse)";
  }
}

/**
 * A `source` url as any message may show it: a path, an `images:` alias or an OCI reference that passes
 * its grammar as given (none can hold a credential: a registry's comes from the host's auth file), an
 * OCI-shaped string that fails it without a user or a query, anything else with a scheme as redactedUrl
 * shows it (a file: URL too: it may be written with a user).
 */
export function shownUrl(url: string): string {
  if (/^(oci|oci-archive|docker):/i.test(url)) {
    try {
      return ociRefOf(url) ? url : redactedRef(url);
    } catch {
      return redactedRef(url);
    }
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(url) && !/^images:/i.test(url) ? redactedUrl(url) : url;
}

/** The file name the URL's path ends in, for a plan line; `image` when its path names none. */
export function imageNameOf(url: string): string {
  try {
    const name = printable(decodeURIComponent(new URL(url).pathname.split("/").pop() ?? ""));
    return name || "image";
  } catch {
    return "image";
  }
}

/**
 * A curl config line giving the URL, in WHATWG's serialization (which percent-encodes what a config line
 * could misread), quoted as curl's config reads quotes. The URL goes on curl's stdin, never in its argv,
 * which any user of the host can read in /proc.
 */
export function curlUrlConfig(url: string): string {
  const href = new URL(url).href;
  return `url = "${href.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"\n`;
}
