/**
 * The `connection` input: how to reach an LXC host over SSH, in the shape of @pulumi/command's
 * `remote.Connection`, so one connection object serves both. Its fields, defaults and secrets are
 * schema.json's. Checked before anything dials; an error names `connection.<field>` and never shows a
 * credential's value.
 */
import { createHash } from "crypto";
import { utils } from "ssh2";
import { InvalidInput } from "../../model/errors";
import { CONNECTION, typeProperties } from "../../model/schema";

export interface ProxyConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
  hostKey?: string;
  /** Dial attempts before giving up; -1: no limit. */
  dialErrorLimit: number;
  /** Seconds each dial may take; 0: no limit. */
  perDialTimeout: number;
}

export interface Connection extends ProxyConnection {
  /** A bastion the connection goes through. */
  proxy?: ProxyConnection;
}

type FieldSpec = { type?: string; $ref?: string; default?: string | number; secret?: boolean };
const FIELDS = typeProperties<FieldSpec>("lxc:index:Connection");
const SECRETS = new Set(Object.keys(FIELDS).filter((k) => FIELDS[k].secret));
const STRINGS = Object.keys(FIELDS).filter((k) => FIELDS[k].type === "string" && k !== "host") as Array<
  "user" | "password" | "privateKey" | "privateKeyPassword" | "agentSocketPath" | "hostKey"
>;
/** What schema.json cannot say of its integers: their ranges, with @pulumi/command's "no limit" values. */
const RANGES: Record<"port" | "dialErrorLimit" | "perDialTimeout", { min: number; max: number; also?: number; allowed: string }> = {
  port: { min: 1, max: 65535, allowed: "a whole number from 1 to 65535" },
  dialErrorLimit: { min: 1, max: 1000, also: -1, allowed: "a whole number from 1 to 1000, or -1 for no limit" },
  perDialTimeout: { min: 1, max: 3600, also: 0, allowed: "a whole number of seconds from 1 to 3600, or 0 for no limit" },
};
const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:]*)$/;

function refuse(at: string, field: string, value: unknown, allowed: string): never {
  throw new InvalidInput(`${at}.${field}`, SECRETS.has(field) ? "[secret]" : value, allowed);
}

function wholeNumber(at: string, field: keyof typeof RANGES, value: unknown): number {
  if (value === undefined || value === null) return FIELDS[field].default as number;
  const { min, max, also, allowed } = RANGES[field];
  if (typeof value !== "number" || !Number.isInteger(value) || ((value < min || value > max) && value !== also))
    refuse(at, field, value, allowed);
  return value;
}

/**
 * Why a key cannot be used, or undefined when it can. Remembered per key and passphrase (by hash, so no
 * credential is kept): an encrypted key's KDF is slow on purpose (~270 ms for 16 bcrypt rounds) and runs
 * synchronously, and every resource of a stack validates the same connection at each call.
 */
const keyProblems = new Map<string, string | undefined>();
function keyProblem(key: string, passphrase: string | undefined): string | undefined {
  const id = createHash("sha256")
    .update(key)
    .update("\0")
    .update(passphrase ?? "")
    .digest("hex");
  if (!keyProblems.has(id)) {
    const parsed = utils.parseKey(key, passphrase);
    keyProblems.set(id, parsed instanceof Error ? parsed.message : undefined);
  }
  return keyProblems.get(id);
}

function check(raw: unknown, at: string, allowProxy: boolean): Connection {
  // A string is not shown: it may be a key pasted in the wrong place.
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new InvalidInput(at, typeof raw === "string" ? "[a string, not shown]" : raw, "an object with at least host");
  const given = raw as Record<string, unknown>;
  const known = new Set(Object.keys(FIELDS).filter((k) => allowProxy || k !== "proxy"));
  for (const [k, v] of Object.entries(given)) {
    // Its value is not shown: a misspelt credential is still a credential.
    if (!known.has(k) && v !== undefined && v !== null)
      refuse(
        at,
        k,
        "[not shown]",
        `not a property of ${allowProxy ? "a connection" : "a proxy connection (which has no proxy of its own)"}`,
      );
  }
  if (typeof given.host !== "string" || !HOST_RE.test(given.host)) refuse(at, "host", given.host, "a host name or IP address");
  const out: Connection = {
    host: given.host,
    port: wholeNumber(at, "port", given.port),
    user: FIELDS.user.default as string,
    dialErrorLimit: wholeNumber(at, "dialErrorLimit", given.dialErrorLimit),
    perDialTimeout: wholeNumber(at, "perDialTimeout", given.perDialTimeout),
  };
  for (const field of STRINGS) {
    const v = given[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" || v === "") refuse(at, field, v, "a non-empty string");
    out[field] = v;
  }
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(out.user)) refuse(at, "user", out.user, "a user name");
  if (out.privateKey !== undefined) {
    // Read here, so a key that cannot be used fails before any dial, and is not dialled ten times.
    const problem = keyProblem(out.privateKey, out.privateKeyPassword);
    if (problem !== undefined) refuse(at, "privateKey", out.privateKey, `a private key in OpenSSH or PEM format (${problem})`);
  }
  if (allowProxy && given.proxy !== undefined && given.proxy !== null) out.proxy = check(given.proxy, `${at}.proxy`, false);
  return out;
}

/** The connection as given, checked, with @pulumi/command's defaults (port 22, user root, 10 dials of 15 s). */
export function validateConnection(raw: unknown): Connection {
  return check(raw, "connection", true);
}

/** Which machine a connection reaches: another one means another rootfs (a replacement), never a move. */
export function machineOf(c: Pick<Connection, "host" | "port">): string {
  return `${c.host.toLowerCase()}:${c.port}`;
}

/** The machine of the machine running Pulumi, as machineOf names remote ones. */
export const LOCAL = "local";

/** The connection among a resource's properties, as given; undefined for a local rootfs. */
export function connectionIn(props: Record<string, unknown>): unknown {
  const raw = props[CONNECTION];
  return raw === null ? undefined : raw;
}

/**
 * Which machine a resource's rootfs is on: another machine means another rootfs, never a move. Read from
 * host and port alone, so a credential not known yet (a preview) does not stop it.
 */
export function machineFor(props: Record<string, unknown>): string {
  const raw = connectionIn(props) as Record<string, unknown> | undefined;
  if (raw === undefined) return LOCAL;
  return machineOf(validateConnection(typeof raw === "object" ? { host: raw.host, port: raw.port } : raw));
}
