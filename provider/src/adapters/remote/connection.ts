/**
 * The `connection` input: how to reach an LXC host over SSH, in the shape of @pulumi/command's
 * `remote.Connection`, so one connection object serves both. Checked before anything dials; an error
 * names `connection.<field>` and never shows a credential's value.
 */
import { InvalidInput } from "../../model/errors";

export interface ProxyConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
  hostKey?: string;
  /** Dial attempts before giving up (@pulumi/command's default: 10). */
  dialErrorLimit: number;
  /** Seconds each dial may take (@pulumi/command's default: 15). */
  perDialTimeout: number;
}

export interface Connection extends ProxyConnection {
  /** A bastion the connection goes through. */
  proxy?: ProxyConnection;
}

const SECRETS = new Set(["password", "privateKey", "privateKeyPassword"]);
const STRINGS = ["user", "password", "privateKey", "privateKeyPassword", "agentSocketPath", "hostKey"] as const;
const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9A-Fa-f:]+\]?)$/;

function refuse(at: string, field: string, value: unknown, allowed: string): never {
  throw new InvalidInput(`${at}.${field}`, SECRETS.has(field) ? "[secret]" : value, allowed);
}

function wholeNumber(at: string, field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    refuse(at, field, value, `a whole number from ${min} to ${max}`);
  return value;
}

function check(raw: unknown, at: string, allowProxy: boolean): Connection {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new InvalidInput(at, raw, "an object with at least host");
  const given = raw as Record<string, unknown>;
  const known = new Set(["host", "port", "dialErrorLimit", "perDialTimeout", ...STRINGS, ...(allowProxy ? ["proxy"] : [])]);
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
    port: wholeNumber(at, "port", given.port, 22, 1, 65535),
    user: "root",
    dialErrorLimit: wholeNumber(at, "dialErrorLimit", given.dialErrorLimit, 10, 1, 1000),
    perDialTimeout: wholeNumber(at, "perDialTimeout", given.perDialTimeout, 15, 1, 3600),
  };
  for (const field of STRINGS) {
    const v = given[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" || v === "") refuse(at, field, v, "a non-empty string");
    out[field] = v;
  }
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(out.user)) refuse(at, "user", out.user, "a user name");
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
