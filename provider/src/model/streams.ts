/**
 * `images:<dist>/<release>[/<variant>]`: an image an LXC or Incus image server lists in its simplestreams
 * index (streams/v1/index.json, then its image-downloads products), as Incus's client finds one. Pure: the
 * executor fetches the two documents; this reads them.
 */
import { InvalidInput } from "./errors";

export const DEFAULT_IMAGE_SERVER = "https://images.linuxcontainers.org";

export interface ImageAlias {
  dist: string;
  release: string;
  variant: string;
}

const ALIAS = /^images:([a-z0-9][a-z0-9._-]*)\/([a-z0-9][a-z0-9._-]*)(?:\/([a-z0-9][a-z0-9._-]*))?$/i;

/** The alias an `images:` url names; null for any other url. */
export function imageAliasOf(url: string): ImageAlias | null {
  if (!/^images:/i.test(url)) return null;
  const m = ALIAS.exec(url);
  if (!m)
    throw new InvalidInput("source.url", url, "images:<dist>/<release>[/<variant>], as images:debian/bookworm or images:alpine/3.20/cloud");
  return { dist: m[1].toLowerCase(), release: m[2].toLowerCase(), variant: (m[3] ?? "default").toLowerCase() };
}

/** The architecture's name on image servers, for Node's name of this host's. */
export function serverArch(nodeArch: string): string {
  return { x64: "amd64", arm64: "arm64" }[nodeArch] ?? nodeArch;
}

/** The path of the products document an index lists for image downloads. */
export function productsPath(index: unknown): string {
  const entries = Object.values((index as { index?: Record<string, { datatype?: string; path?: string }> })?.index ?? {});
  const images = entries.find((e) => e.datatype === "image-downloads" && typeof e.path === "string");
  if (!images) throw new Error("its streams/v1/index.json lists no image-downloads");
  return images.path!;
}

interface Item {
  ftype?: string;
  path?: string;
  sha256?: string;
  size?: number;
}
interface Product {
  arch?: string;
  aliases?: string;
  versions?: Record<string, { items?: Record<string, Item> }>;
}

/**
 * The newest rootfs tarball of the alias for `arch`: the product `<dist>:<release>:<arch>:<variant>`, or one
 * whose aliases name it (`debian/12`), its latest version (serials sort by time), and that version's
 * `root.tar.xz`, with its path on the server and its sha256. Refused, naming what the server has, when
 * there is none.
 */
export function findStreamImage(
  products: unknown,
  alias: ImageAlias,
  arch: string,
): { version: string; path: string; sha256: string; size: number | null } {
  const all = Object.entries((products as { products?: Record<string, Product> })?.products ?? {});
  const names = [
    `${alias.dist}/${alias.release}/${alias.variant}`,
    ...(alias.variant === "default" ? [`${alias.dist}/${alias.release}`] : []),
  ];
  const found = all.find(
    ([key, p]) =>
      p.arch === arch &&
      (key === `${alias.dist}:${alias.release}:${arch}:${alias.variant}` ||
        (p.aliases ?? "").split(",").some((a) => names.includes(a.trim()))),
  );
  const shown = `images:${alias.dist}/${alias.release}/${alias.variant}`;
  if (!found) {
    const listed = all.filter(([, p]) => p.arch === arch).map(([key]) => key);
    throw new InvalidInput(
      "source.url",
      shown,
      `an image the server lists for ${arch}; it lists ${listed.length ? listed.slice(0, 12).join(", ") : "none"}`,
    );
  }
  const versions = Object.entries(found[1].versions ?? {})
    .filter(([, v]) => v.items?.["root.tar.xz"]?.path && /^[0-9a-f]{64}$/.test(v.items["root.tar.xz"].sha256 ?? ""))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const latest = versions.pop();
  if (!latest)
    throw new InvalidInput("source.url", shown, `an image with a root.tar.xz and its sha256; the server lists ${found[0]} without one`);
  const item = latest[1].items!["root.tar.xz"];
  return { version: latest[0], path: item.path!, sha256: item.sha256!, size: typeof item.size === "number" ? item.size : null };
}
