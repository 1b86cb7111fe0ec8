/**
 * Id maps of unprivileged containers: the `idmap` input, the `lxc.idmap` lines of a config, and the
 * arithmetic a shift of a rootfs's owners does per inode. Pure: the tree walker and the planner call these.
 *
 * "No map" is `null` everywhere: the identity, a privileged container, whose host ids are its ids. An empty
 * `idmap` list is that too.
 */
import { InvalidInput } from "./errors";

export type IdKind = "uid" | "gid";

/** One `idmap` input entry, in the form of an `lxc.idmap = u|g <containerId> <hostId> <size>` line. */
export interface IdmapEntry {
  kind: IdKind | "both";
  containerId: number;
  hostId: number;
  size: number;
}

export interface IdRange {
  containerId: number;
  hostId: number;
  size: number;
}

/** A validated map: per kind, ranges that overlap on neither side, sorted by container id. */
export interface Idmap {
  uid: IdRange[];
  gid: IdRange[];
}

/** The largest id a user namespace maps: 2^32-1 is the kernel's "no id" (chown's -1). */
export const MAX_ID = 2 ** 32 - 2;
/** What the kernel shows for an id the namespace does not map: the overflowuid/overflowgid sysctls' default. */
export const OVERFLOW_ID = 65534;
/** The kernel's limit on the ranges of one uid_map or gid_map (UID_GID_MAP_MAX_EXTENTS). */
export const MAX_RANGES = 340;

const KINDS: readonly IdKind[] = ["uid", "gid"];
const ENTRY = 'an entry {kind: "uid" | "gid" | "both", containerId, hostId, size}';

/**
 * The `idmap` input, validated as the kernel validates a uid_map: a refusal names the entry. An empty list
 * is null, the identity.
 */
export function idmapOf(entries: unknown, property = "idmap"): Idmap | null {
  if (!Array.isArray(entries)) throw new InvalidInput(property, entries, `a list of ${ENTRY}`);
  const checked = entries.map((e: unknown, i) => checkedEntry(e, `${property}[${i}]`));
  return normalized(
    checked,
    (i) => `${property}[${i}]`,
    (i, why) => new InvalidInput(`${property}[${i}]`, entries[i], why),
  );
}

function checkedEntry(e: unknown, name: string): IdmapEntry {
  if (typeof e !== "object" || e === null || Array.isArray(e)) throw new InvalidInput(name, e, ENTRY);
  const entry = e as Record<string, unknown>;
  if (entry.kind !== "uid" && entry.kind !== "gid" && entry.kind !== "both")
    throw new InvalidInput(`${name}.kind`, entry.kind, '"uid", "gid" or "both"');
  const problem = rangeProblem(entry);
  if (problem)
    throw new InvalidInput(problem.field ? `${name}.${problem.field}` : name, problem.field ? entry[problem.field] : e, problem.why);
  const { kind, containerId, hostId, size } = entry as unknown as IdmapEntry;
  return { kind, containerId, hostId, size };
}

/** Why an entry's numbers are no range of ids, and which field (none: the range as a whole); null when they are one. */
function rangeProblem(e: Record<string, unknown>): { field?: string; why: string } | null {
  for (const [field, min, max] of [
    ["containerId", 0, MAX_ID],
    ["hostId", 0, MAX_ID],
    ["size", 1, MAX_ID + 1],
  ] as const) {
    const v = e[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) return { field, why: `a whole number from ${min} to ${max}` };
  }
  const last = Math.max(e.containerId as number, e.hostId as number) + (e.size as number) - 1;
  if (last > MAX_ID)
    return {
      why: `a range whose last container id and last host id are at most ${MAX_ID} (${MAX_ID + 1} is the kernel's "no id"); this one reaches ${last}`,
    };
  return null;
}

/**
 * Checks what the kernel checks of a uid_map or gid_map (no two ranges share a container id or a host id,
 * at most 340 ranges), and that a map has both kinds: a container without a gid map sees every group as
 * nobody and cannot boot, so a map of one kind is a mistake, refused.
 */
function normalized(entries: IdmapEntry[], nameOf: (i: number) => string, refuse: (i: number, why: string) => Error): Idmap | null {
  if (entries.length === 0) return null;
  const map: Idmap = { uid: [], gid: [] };
  for (const kind of KINDS) {
    const ranges = entries.flatMap((e, i) => (e.kind === kind || e.kind === "both" ? [{ ...rangeOf(e), i }] : []));
    if (ranges.length === 0)
      throw refuse(entries.length - 1, `a map with ${kind} ranges too: a map of one kind leaves every ${kind} of the container unmapped`);
    if (ranges.length > MAX_RANGES) throw refuse(ranges[MAX_RANGES].i, `at most ${MAX_RANGES} ${kind} ranges (the kernel's limit)`);
    for (const side of ["containerId", "hostId"] as const) {
      const sorted = [...ranges].sort((a, b) => a[side] - b[side]);
      for (let k = 1; k < sorted.length; k++) {
        const [a, b] = [sorted[k - 1], sorted[k]];
        if (a[side] + a.size <= b[side]) continue;
        const [first, later] = a.i < b.i ? [a, b] : [b, a];
        const where = side === "containerId" ? "container" : "host";
        const shared = `${b[side]} to ${Math.min(a[side] + a.size, b[side] + b.size) - 1}`;
        throw refuse(
          later.i,
          `${kind} ranges that share no ${where} id with another (the kernel refuses them); this one shares ${where} ids ${shared} with ${nameOf(first.i)}`,
        );
      }
    }
    map[kind] = ranges.map(rangeOf).sort((a, b) => a.containerId - b.containerId);
  }
  return map;
}

function rangeOf({ containerId, hostId, size }: IdRange): IdRange {
  return { containerId, hostId, size };
}

/** The blanks LXC skips around a value's fields. */
function trimmed(value: string): string {
  return value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
}

/** A number as LXC's lxc_safe_ulong reads it (strtoul, base 0): decimal, 0x hex, 0-led octal, an optional +. */
const LXC_NUMBER = /^\+?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;

function lxcNumber(text: string): number {
  const digits = text.replace(/^\+/, "");
  if (/^0[xX]/.test(digits)) return parseInt(digits.slice(2), 16);
  return digits.length > 1 && digits.startsWith("0") ? parseInt(digits, 8) : Number(digits);
}

/**
 * The map of a container's `lxc.idmap` values, in config order, as liblxc reads them (confile_utils.c
 * parse_idmaps): `u` or `g` (LXC has no `b`), then container id, host id and size, separated by blanks;
 * an empty value clears the lines before it. null when no line remains. A refusal names the line's value.
 */
export function idmapFromLxcConfig(values: readonly string[]): Idmap | null {
  const ALLOWED = "u|g <containerId> <hostId> <size>, as LXC reads it (LXC has no b: write a u line and a g line)";
  const lines: string[] = [];
  for (const value of values) {
    if (trimmed(value) === "") lines.length = 0;
    else lines.push(value);
  }
  const entries = lines.map((value): IdmapEntry => {
    const fields = trimmed(value).split(/[ \t\r]+/);
    if (fields.length !== 4 || (fields[0] !== "u" && fields[0] !== "g") || !fields.slice(1).every((f) => LXC_NUMBER.test(f)))
      throw new InvalidInput("lxc.idmap", value, ALLOWED);
    const [containerId, hostId, size] = fields.slice(1).map(lxcNumber);
    const entry = { kind: fields[0] === "u" ? "uid" : "gid", containerId, hostId, size } as const;
    const problem = rangeProblem(entry);
    if (problem) throw new InvalidInput("lxc.idmap", value, problem.field ? `a ${problem.field} that is ${problem.why}` : problem.why);
    return entry;
  });
  return normalized(
    entries,
    (i) => JSON.stringify(lines[i]),
    (i, why) => new InvalidInput("lxc.idmap", lines[i], why),
  );
}

/** A map as `idmap` entries: one per range of each kind (a u line and a g line each). */
export function idmapEntriesOf(map: Idmap | null): IdmapEntry[] {
  if (map === null) return [];
  return KINDS.flatMap((kind) => map[kind].map((r) => ({ kind, containerId: r.containerId, hostId: r.hostId, size: r.size })));
}

/** The host id of a container id; null when the map does not map it. */
export function toHost(map: Idmap | null, kind: IdKind, containerId: number): number | null {
  if (!isId(containerId)) return null;
  if (map === null) return containerId;
  for (const r of map[kind])
    if (containerId >= r.containerId && containerId < r.containerId + r.size) return r.hostId + containerId - r.containerId;
  return null;
}

/** The container id of a host id; null when the map does not map it (the container sees it as 65534). */
export function toContainer(map: Idmap | null, kind: IdKind, hostId: number): number | null {
  if (!isId(hostId)) return null;
  if (map === null) return hostId;
  for (const r of map[kind]) if (hostId >= r.hostId && hostId < r.hostId + r.size) return r.containerId + hostId - r.hostId;
  return null;
}

function isId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_ID;
}

/** Whether the container has a root: a rootfs's root-owned files belong to nobody inside otherwise. */
export function mapsContainerRoot(map: Idmap | null): boolean {
  return toHost(map, "uid", 0) !== null && toHost(map, "gid", 0) !== null;
}

/** What one owner id on disk becomes; `lost` when the container, before or after, cannot see it as itself. */
export interface ShiftedId {
  id: number;
  lost: boolean;
}

export interface IdShift {
  uid(hostId: number): ShiftedId;
  gid(hostId: number): ShiftedId;
}

/**
 * The owner ids a tree in map `from` gets in map `to`: each host id goes to its container id under `from`,
 * then to that id's host id under `to`. An id either map leaves out is lost: inside it showed (or would
 * show) as 65534, so it lands where the new container sees 65534 too: on the host id `to` gives container
 * 65534; when `to` maps no container 65534 (or maps it to host root), on host 65534 if `to` leaves that
 * unmapped, else on the highest host id `to` leaves unmapped. Either way the container sees nobody, and the
 * host sees no one with a privilege: never host root. A lost id's setuid and setgid bits should stay off.
 */
export function idShift(from: Idmap | null, to: Idmap | null): IdShift {
  const one = (kind: IdKind) => {
    const overflow = overflowHostId(to, kind);
    return (hostId: number): ShiftedId => {
      const inside = toContainer(from, kind, hostId);
      const id = inside === null ? null : toHost(to, kind, inside);
      return id === null ? { id: overflow, lost: true } : { id, lost: false };
    };
  };
  return { uid: one("uid"), gid: one("gid") };
}

function overflowHostId(to: Idmap | null, kind: IdKind): number {
  const nobody = toHost(to, kind, OVERFLOW_ID);
  if (nobody !== null && nobody !== 0) return nobody;
  if (toContainer(to, kind, OVERFLOW_ID) === null) return OVERFLOW_ID;
  // Ranges do not overlap on the host side, so walking down from the top past each one finds a gap.
  let candidate = MAX_ID;
  for (const r of [...(to?.[kind] ?? [])].sort((a, b) => b.hostId - a.hostId))
    if (candidate >= r.hostId && candidate < r.hostId + r.size) candidate = r.hostId - 1;
  // A map of every host id, container 65534 on host root: no id is left where a lost one could go (-1 would
  // be chown's "unchanged").
  if (candidate < 0)
    throw new InvalidInput(
      "idmap",
      idmapLines(to),
      `a map that leaves some host ${kind} unmapped, or maps container ${OVERFLOW_ID} elsewhere than host root: ids it does not map need somewhere to go`,
    );
  return candidate;
}

/** Whether two maps map every id alike, however their ranges are cut. */
export function sameIdmap(a: Idmap | null, b: Idmap | null): boolean {
  if (a === null || b === null) return a === b || isIdentity(a ?? b);
  return KINDS.every((k) => JSON.stringify(merged(a[k])) === JSON.stringify(merged(b[k])));
}

function isIdentity(map: Idmap | null): boolean {
  return (
    map === null || KINDS.every((k) => JSON.stringify(merged(map[k])) === JSON.stringify([{ containerId: 0, hostId: 0, size: MAX_ID + 1 }]))
  );
}

/** Ranges that continue each other on both sides, as one. */
function merged(ranges: IdRange[]): IdRange[] {
  const out: IdRange[] = [];
  for (const r of [...ranges].sort((x, y) => x.containerId - y.containerId)) {
    const last = out[out.length - 1];
    if (last && last.containerId + last.size === r.containerId && last.hostId + last.size === r.hostId) last.size += r.size;
    else out.push({ ...r });
  }
  return out;
}

/** The `lxc.idmap` values of a map, uid lines first: what a config needs for the rootfs. */
export function idmapLines(map: Idmap | null): string[] {
  if (map === null) return [];
  return KINDS.flatMap((k) => map[k].map((r) => `${k[0]} ${r.containerId} ${r.hostId} ${r.size}`));
}

/** A map as a preview line names it: `u/g 0:100000:65536` when both kinds map alike, else `u … g …`. */
export function idmapLabel(map: Idmap | null): string {
  if (map === null) return "none (privileged)";
  const ranges = (rs: IdRange[]) => rs.map((r) => `${r.containerId}:${r.hostId}:${r.size}`).join(" ");
  const [u, g] = [ranges(map.uid), ranges(map.gid)];
  return u === g ? `u/g ${u}` : `u ${u} g ${g}`;
}
