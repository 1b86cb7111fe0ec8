/**
 * OCI images as `source`: the three reference forms skopeo reads, and the container config an image asks
 * for, as LXC config lines. Pure: host/oci.ts runs the tools; this reads what they give.
 */
import path from "path";
import { InvalidInput, RootfsError } from "./errors";
import { MAX_ID } from "./idmap";
import { printable } from "./text";

export type OciTransport = "oci" | "oci-archive" | "docker";

/** A reference skopeo reads (`transport:rest`, as given), and how a plan line names it. */
export interface OciRef {
  transport: OciTransport;
  /** skopeo's own spelling of the reference. */
  ref: string;
  name: string;
}

const ALLOWED =
  "oci:<absolute directory>[:<tag>], oci-archive:<absolute file>[:<tag>] or docker://<registry/repository>[:<tag>][@sha256:<digest>]";
/** An OCI ref name (a tag) as this tool accepts it: the image-spec's characters, minus those a path or shell reads. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** A docker reference: [registry[:port]/]repository[:tag][@sha256:hex], the distribution spec's grammar, lowercase repository. */
const DOCKER =
  /^docker:\/\/(?:[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

/**
 * A reference that is not one, as a message may show it: without what may be a credential (a `user:pass@`,
 * a query, a fragment), since a string that fails the grammar is not known to hold none.
 */
export function redactedRef(url: string): string {
  return url.replace(/(\/\/)[^/]*@/, "$1").replace(/[?#][^]*$/, "");
}

/** The OCI reference `url` names; null when it names none (a tarball, an `images:` alias). */
export function ociRefOf(url: string): OciRef | null {
  const m = /^(oci|oci-archive):(.*)$/.exec(url);
  if (m) {
    // skopeo splits at the first colon: the path holds none, the tag is what follows.
    const [where, tag, ...more] = m[2].split(":");
    if (!path.isAbsolute(where) || path.normalize(where) !== where.replace(/(.)\/+$/, "$1") || more.length > 0)
      throw new InvalidInput("source.url", redactedRef(url), `${ALLOWED}; the path must be absolute, normalized and hold no colon`);
    if (tag !== undefined && !TAG.test(tag))
      throw new InvalidInput("source.url", redactedRef(url), `${ALLOWED}; a tag is letters, digits, '.', '_' and '-'`);
    const transport = m[1] as OciTransport;
    return { transport, ref: url, name: `${transport}:${path.basename(where)}${tag === undefined ? "" : `:${tag}`}` };
  }
  if (/^docker:/i.test(url)) {
    if (!DOCKER.test(url)) throw new InvalidInput("source.url", redactedRef(url), ALLOWED);
    return { transport: "docker", ref: url, name: url };
  }
  return null;
}

/** The part of an image's config (the image-spec's `config` object) that says how the container starts. */
export interface OciRunConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
}

/**
 * The image config's `config` object, its fields checked for the types the image-spec gives them: an
 * image is input, and a field of another type is refused naming it, before anything is made.
 */
export function runConfigOf(config: unknown): OciRunConfig {
  if (config === undefined || config === null) return {};
  if (typeof config !== "object" || Array.isArray(config))
    throw new RootfsError("the OCI image's config has a `config` that is not an object");
  const c = config as Record<string, unknown>;
  const shown = (v: unknown) => JSON.stringify(v).slice(0, 100);
  const out: OciRunConfig = {};
  for (const k of ["Entrypoint", "Cmd", "Env"] as const) {
    const v = c[k];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
      throw new RootfsError(`the OCI image's config has a ${k} that is not a list of strings: ${shown(v)}`);
    out[k] = v as string[];
  }
  for (const k of ["User", "WorkingDir"] as const) {
    const v = c[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw new RootfsError(`the OCI image's config has a ${k} that is not a string: ${shown(v)}`);
    out[k] = v;
  }
  return out;
}

/**
 * An argument as LXC's lxc.execute.cmd splitting reads it: in quotes, which it strips, with no escapes.
 * The whole value is then wrapped in single quotes, as LXC's oci template writes it: LXC's config reader
 * strips one pair of quotes around a value, which would otherwise take the first argument's and the last's.
 */
function quoted(arg: string): string {
  if (!arg.includes('"')) return `"${arg}"`;
  if (!arg.includes("'")) return `'${arg}'`;
  throw new RootfsError(
    `the image's command has an argument with both kinds of quote, which lxc.execute.cmd cannot carry: ${JSON.stringify(arg)}`,
  );
}

/** A config value on one line: a line break would start another line. */
function oneLine(what: string, value: string): string {
  if (/[\n\r]/.test(value))
    throw new RootfsError(`the image's ${what} holds a line break, which no LXC config line can carry: ${JSON.stringify(value)}`);
  return value;
}

/**
 * The config lines an OCI image asks for, as LXC's oci template writes them: the entrypoint and command
 * (or /bin/sh) as lxc.execute.cmd, each variable as lxc.environment, the working directory as
 * lxc.init.cwd. The user's ids (lxc.init.uid/gid) come once the rootfs is unpacked (ociUserIds). A value no
 * config line can carry is refused before anything is made.
 */
export function ociConfigLines(config: OciRunConfig): string[] {
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])].map((a) => oneLine("command", a));
  return [
    `lxc.execute.cmd = '${(argv.length ? argv : ["/bin/sh"]).map(quoted).join(" ")}'`,
    ...(config.Env ?? []).map((e) => `lxc.environment = ${oneLine("environment", e)}`),
    `lxc.init.cwd = ${oneLine("working directory", config.WorkingDir || "/")}`,
  ];
}

/** Where an index's manifest runs, as the index says. */
export interface OciPlatform {
  os?: string;
  architecture?: string;
  variant?: string;
}

/**
 * The manifest of an index that a copy to this host takes, chosen as skopeo's library (containers/image)
 * chooses it, so the preview names the digest the create records: for linux and `arch`, in the index's
 * order, the first of each variant it wants in turn (arm64: v8, then none; others: none), as its recent
 * versions match them exactly; then, as older ones (Debian 12's) match any variant, the first of any. The
 * create records what the copy took, and a pinned sha256 refuses anything else.
 */
export function platformManifest<D extends { platform?: OciPlatform }>(manifests: D[], arch: string): D | undefined {
  const ours = manifests.filter((m) => m.platform?.os === "linux" && m.platform.architecture === arch);
  for (const variant of arch === "arm64" ? ["v8", ""] : [""]) {
    const exact = ours.find((m) => (m.platform?.variant ?? "") === variant);
    if (exact) return exact;
  }
  return ours[0];
}

/** The lines of the ids the image's user resolved to. */
export function ociUserLines(ids: { uid: number; gid: number }): string[] {
  return [`lxc.init.uid = ${ids.uid}`, `lxc.init.gid = ${ids.gid}`];
}

const DECIMAL = /^[0-9]+$/;

/**
 * The ids `User` names (`uid`, `name`, `uid:gid`, `name:group`): names through the rootfs's /etc/passwd and
 * /etc/group (given as text, null when missing), and a user without a group takes its passwd entry's group,
 * or 0 when a numeric user has none, as LXC's oci template and Docker resolve them. A name the image does not
 * list is refused, as Docker refuses it: LXC's template makes it root, which would run as root what the
 * image meant to run as someone else.
 */
export function ociUserIds(user: string | undefined, passwd: string | null, group: string | null): { uid: number; gid: number } {
  const [u = "", g = ""] = (user ?? "").split(":");
  const entries = (text: string | null) => (text ?? "").split("\n").map((l) => l.split(":"));
  const idOf = (name: string, what: "user" | "group", file: string | null, fileName: string): number => {
    const id = DECIMAL.test(name) ? name : entries(file).find((f) => f[0] === name)?.[2];
    if (id !== undefined && DECIMAL.test(id) && Number(id) <= MAX_ID) return Number(id);
    throw new RootfsError(
      `the image's config runs its command as the ${what} "${printable(name)}", which ${id === undefined ? `the image's /etc/${fileName} does not list` : `is no id from 0 to ${MAX_ID}`}: no container could start as it (Docker refuses it too). Nothing was changed.`,
    );
  };
  const pw = entries(passwd);
  const uid = u === "" ? 0 : idOf(u, "user", passwd, "passwd");
  const own = pw.find((f) => f[2] === String(uid))?.[3];
  const gid =
    g !== "" ? idOf(g, "group", group, "group") : own !== undefined && DECIMAL.test(own) && Number(own) <= MAX_ID ? Number(own) : 0;
  return { uid, gid };
}
