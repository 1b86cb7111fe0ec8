import { InvalidInput } from "../model/errors";
import { STORES, Store } from "../model/requests";

/** A parsed `lxc.rootfs.path`. `path` is the object holding the data; `lower` only for overlay. */
export interface RootfsRef {
  store: Store;
  path: string;
  lower?: string;
}

const ALLOWED =
  "an LXC rootfs string: dir:/abs/path, loop:/abs/image, btrfs:/abs/subvolume, overlay:/abs/lower:/abs/upper, lvm:/dev/vg/lv or zfs:pool/dataset";

/**
 * Parses an LXC rootfs string. The prefix is required, except that a bare absolute path is taken as
 * `dir:` the way LXC itself reads it. Paths may not contain ':' (LXC splits on it) or newlines.
 */
export function parseRootfsString(value: string, property: string): RootfsRef {
  if (typeof value !== "string" || value.length === 0 || /[\n\0]/.test(value)) {
    throw new InvalidInput(property, value, ALLOWED);
  }
  if (value.startsWith("/")) return checkRef({ store: "dir", path: value }, value, property);
  const colon = value.indexOf(":");
  const prefix = colon > 0 ? value.slice(0, colon) : "";
  const rest = value.slice(colon + 1);
  const store = (prefix === "overlayfs" ? "overlay" : prefix) as Store;
  if (!STORES.includes(store)) throw new InvalidInput(property, value, ALLOWED);
  if (store === "overlay") {
    const parts = rest.split(":");
    if (parts.length !== 2) throw new InvalidInput(property, value, ALLOWED);
    return checkRef({ store, lower: parts[0], path: parts[1] }, value, property);
  }
  return checkRef({ store, path: rest }, value, property);
}

function checkRef(ref: RootfsRef, value: string, property: string): RootfsRef {
  const paths = [ref.path, ...(ref.lower !== undefined ? [ref.lower] : [])];
  for (const p of paths) {
    if (ref.store === "zfs") {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:\-/]*$/.test(p) || p.includes("//") || p.endsWith("/")) {
        throw new InvalidInput(property, value, ALLOWED);
      }
    } else if (!p.startsWith("/") || p.includes(":") || p.split("/").includes("..")) {
      throw new InvalidInput(property, value, ALLOWED);
    }
  }
  if (ref.store === "lvm" && !/^\/dev\/[^/]+\/[^/]+$/.test(ref.path)) throw new InvalidInput(property, value, ALLOWED);
  return ref;
}

export function formatRootfsString(ref: RootfsRef): string {
  return ref.store === "overlay" ? `overlay:${ref.lower}:${ref.path}` : `${ref.store}:${ref.path}`;
}
