/**
 * An LXC image's metadata (meta.tar.xz, as LXC's download template reads it): `config`, the lines the
 * image asks the container's config for, and `templates`, the rootfs files in which LXC_NAME and its
 * kin stand for the container's own values. Pure: the executor fetches and unpacks; this reads.
 */
import path from "path";

export interface LxcImageMeta {
  /** The config lines, with their variables filled in at create. */
  config: string[];
  /** Absolute paths inside the rootfs. */
  templates: string[];
}

/** The variables of LXC's download template, and where this host's LXC keeps what two of them name (Debian's). */
export interface LxcTemplateVars {
  LXC_NAME: string;
  LXC_PATH: string;
  LXC_ROOTFS: string;
  LXC_TEMPLATE_CONFIG: string;
  LXC_HOOK_DIR: string;
}

export function lxcTemplateVars(containerDir: string): LxcTemplateVars {
  return {
    LXC_NAME: path.basename(containerDir),
    LXC_PATH: containerDir,
    LXC_ROOTFS: path.join(containerDir, "rootfs"),
    LXC_TEMPLATE_CONFIG: "/usr/share/lxc/config",
    LXC_HOOK_DIR: "/usr/share/lxc/hooks",
  };
}

/**
 * Each variable replaced by its value, in one pass (a value that holds another variable's name, a
 * container named LXC_PATH, stays as it is; LXC's template, a sed per variable, would replace it again).
 */
export function fillTemplate(text: string, vars: LxcTemplateVars): string {
  return text.replace(/LXC_(TEMPLATE_CONFIG|HOOK_DIR|ROOTFS|NAME|PATH)/g, (name) => vars[name as keyof LxcTemplateVars]);
}

/** The values as bytes one character each (latin1), to fill into a file read that way (host/paths.ts editFileInTree). */
export function asLatin1(vars: LxcTemplateVars): LxcTemplateVars {
  const out = { ...vars };
  for (const k of Object.keys(out) as (keyof LxcTemplateVars)[]) out[k] = Buffer.from(out[k], "utf8").toString("latin1");
  return out;
}

/** The metadata's `config` and `templates` files as read; what is not a path inside the rootfs is left out. */
export function lxcImageMetaOf(files: { config?: string; templates?: string }): LxcImageMeta {
  const lines = (text?: string) =>
    (text ?? "")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
  // A file inside the rootfs: absolute, no `..`, and naming a file, not the root or a directory's `.`.
  const inside = (p: string) => path.posix.isAbsolute(p) && !p.split("/").includes("..") && !p.includes("\0") && !/(^|\/)\.?$/.test(p);
  return { config: lines(files.config).filter((l) => !l.startsWith("#")), templates: lines(files.templates).filter(inside) };
}
