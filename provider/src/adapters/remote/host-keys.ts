/**
 * Host key checks, stricter than @pulumi/command's (which accepts any key when `hostKey` is unset): the
 * key a host presents must be the pinned `hostKey`, or be listed for that host in the known_hosts files of
 * the user running Pulumi. Anything else is refused before a command runs, with the line to pin.
 * known_hosts is read as OpenSSH reads it (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): hashed names,
 * `[host]:port`, wildcards and negations, `@revoked`; `@cert-authority` lines are not supported.
 */
import { createHash, createHmac } from "crypto";

/** A host key as sent in the handshake: its algorithm name and its wire-format blob. */
export interface PresentedKey {
  type: string;
  blob: Buffer;
}

export interface KnownHost {
  marker?: "@revoked" | "@cert-authority";
  hosts: string;
  type: string;
  blob: Buffer;
}

/** A key from its wire-format blob, whose first field is the key type (RFC 4253, 6.6). */
export function keyFromBlob(blob: Buffer): PresentedKey {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (length < 1 || length > 64 || blob.length < 4 + length) throw new Error("not an SSH public key blob");
  return { type: blob.toString("latin1", 4, 4 + length), blob };
}

/** The fingerprint `ssh-keygen -l` prints: SHA256, base64 without padding. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The known_hosts line that pins a key for a host. */
export function pinLine(host: string, port: number, key: PresentedKey): string {
  return `${knownHostsName(host, port)} ${key.type} ${key.blob.toString("base64")}`;
}

export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  for (const raw of text.split("\n")) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0].startsWith("#")) continue;
    const marker = fields[0].startsWith("@") ? (fields.shift() as KnownHost["marker"]) : undefined;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) continue;
    entries.push({ marker, hosts, type, blob: Buffer.from(base64, "base64") });
  }
  return entries;
}

/** A shell-style pattern (`*`, `?`) against a name, case-insensitively as OpenSSH matches host names. */
function globMatches(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

/** Whether a known_hosts hosts field names this host: hashed (`|1|salt|hash`) or a list of patterns. */
export function hostsFieldMatches(field: string, host: string, port: number): boolean {
  const name = knownHostsName(host.toLowerCase(), port);
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of field.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** A `hostKey` as given: a public key line (`ssh-ed25519 AAAA… [comment]`) or a SHA256 fingerprint. */
function pinned(hostKey: string, key: PresentedKey): boolean {
  const text = hostKey.trim();
  if (text.startsWith("SHA256:")) return text.replace(/=+$/, "") === fingerprint(key.blob);
  const [type, base64] = text.split(/\s+/);
  return type === key.type && base64 !== undefined && Buffer.from(base64, "base64").equals(key.blob);
}

/**
 * Judges the key a host presented: against `hostKey` when one is pinned, else against the known_hosts
 * entries. A refusal says why and gives the line to pin, so the user can check the fingerprint and add it.
 */
export function judgeHostKey(
  host: string,
  port: number,
  key: PresentedKey,
  policy: { hostKey?: string; knownHosts: KnownHost[] },
): Verdict {
  const where = knownHostsName(host, port);
  const pin = `if ${fingerprint(key.blob)} is that host's key, set hostKey to "${key.type} ${key.blob.toString("base64")}" or add to known_hosts: ${pinLine(host, port, key)}`;
  if (policy.hostKey !== undefined) {
    return pinned(policy.hostKey, key)
      ? { ok: true }
      : { ok: false, reason: `${where} presented ${key.type} ${fingerprint(key.blob)}, not the pinned hostKey; ${pin}` };
  }
  const forHost = policy.knownHosts.filter((e) => hostsFieldMatches(e.hosts, host, port));
  if (forHost.some((e) => e.marker === "@revoked" && e.blob.equals(key.blob))) {
    return { ok: false, reason: `${where} presented ${key.type} ${fingerprint(key.blob)}, which known_hosts marks @revoked` };
  }
  const listed = forHost.filter((e) => e.marker === undefined);
  if (listed.some((e) => e.type === key.type && e.blob.equals(key.blob))) return { ok: true };
  if (listed.length) {
    return {
      ok: false,
      reason: `${where} presented ${key.type} ${fingerprint(key.blob)}, which is not the key known_hosts lists for it (a changed key, or someone in between); ${pin}`,
    };
  }
  return { ok: false, reason: `${where} is not in known_hosts and no hostKey is pinned; ${pin}` };
}
