/**
 * The extended attributes that hold ids a shift must rewrite besides an inode's owners, in the kernel's
 * layouts (include/uapi/linux/capability.h, posix_acl_xattr.h): little-endian on every CPU. Pure: the tree
 * walker reads and writes them; a value it reads is untrusted input, refused when malformed, and the walker
 * names the file.
 */
import { RootfsError } from "./errors";
import { type Idmap, type IdShift, MAX_ID, toContainer, toHost } from "./idmap";

export const CAPABILITY_XATTR = "security.capability";
export const ACL_XATTRS = ["system.posix_acl_access", "system.posix_acl_default"] as const;

const REVISION_MASK = 0xff000000;
const FLAGS_EFFECTIVE = 0x000001;
/** vfs_cap_data's revisions and their sizes: v1 holds 32 capability bits, v2 64, v3 adds the rootid. */
const REVISIONS = new Map<number, { revision: 1 | 2 | 3; bytes: number }>([
  [0x01000000, { revision: 1, bytes: 12 }],
  [0x02000000, { revision: 2, bytes: 20 }],
  [0x03000000, { revision: 3, bytes: 24 }],
]);

/** A file capability as `security.capability` holds it. */
export interface FileCapability {
  revision: 1 | 2 | 3;
  /** The effective flag: the permitted set is raised at exec (setcap's `e`). */
  effective: boolean;
  /** Bit n is capability n (CAP_NET_RAW is 13). */
  permitted: bigint;
  inheritable: bigint;
  /** The host uid of the root the capability belongs to; 0 (host root) for v1 and v2. */
  rootid: number;
}

function malformed(what: string, why: string): RootfsError {
  return new RootfsError(`${what} is malformed: ${why}`);
}

export function decodeCapability(value: Buffer): FileCapability {
  const sizes = "a capability is 12 (v1), 20 (v2) or 24 (v3) bytes";
  if (value.length < 4) throw malformed(CAPABILITY_XATTR, `${value.length} bytes; ${sizes}`);
  const magic = value.readUInt32LE(0);
  const known = REVISIONS.get((magic & REVISION_MASK) >>> 0);
  if (!known) throw malformed(CAPABILITY_XATTR, `revision 0x${magic.toString(16).padStart(8, "0")} is none of 1, 2 and 3`);
  if (value.length !== known.bytes) throw malformed(CAPABILITY_XATTR, `${value.length} bytes with revision ${known.revision}; ${sizes}`);
  // The kernel refuses to write other flags, so such a value could never be written back.
  if ((magic & ~REVISION_MASK & ~FLAGS_EFFECTIVE) !== 0)
    throw malformed(CAPABILITY_XATTR, `flags 0x${magic.toString(16)} other than effective`);
  // v1 holds the low 32 bits of each set only.
  const word = (offset: number) => (known.revision === 1 && offset >= 12 ? 0n : BigInt(value.readUInt32LE(offset)));
  return {
    revision: known.revision,
    effective: (magic & FLAGS_EFFECTIVE) !== 0,
    permitted: word(4) | (word(12) << 32n),
    inheritable: word(8) | (word(16) << 32n),
    rootid: known.revision === 3 ? value.readUInt32LE(20) : 0,
  };
}

/**
 * The bytes of a capability for the root `rootid`: v2 for host root, the form a privileged rootfs holds,
 * else v3, which the kernel honours only in a namespace whose root is `rootid` (a v2 is honoured in every
 * namespace and on the host as well).
 */
export function encodeCapability(cap: Omit<FileCapability, "revision">): Buffer {
  if (!Number.isInteger(cap.rootid) || cap.rootid < 0 || cap.rootid > MAX_ID)
    throw new RootfsError(`a capability's rootid ${cap.rootid} is no id`);
  const v3 = cap.rootid !== 0;
  const out = Buffer.alloc(v3 ? 24 : 20);
  out.writeUInt32LE(((v3 ? 0x03000000 : 0x02000000) | (cap.effective ? FLAGS_EFFECTIVE : 0)) >>> 0, 0);
  const low = (bits: bigint) => Number(BigInt.asUintN(32, bits));
  const high = (bits: bigint) => Number(BigInt.asUintN(32, bits >> 32n));
  out.writeUInt32LE(low(cap.permitted), 4);
  out.writeUInt32LE(low(cap.inheritable), 8);
  out.writeUInt32LE(high(cap.permitted), 12);
  out.writeUInt32LE(high(cap.inheritable), 16);
  if (v3) out.writeUInt32LE(cap.rootid, 20);
  return out;
}

/**
 * A capability moved from map `from` to map `to`. Its rootid is a uid like an owner: one of host root
 * (v1, v2, or a v3 of rootid 0, honoured in every namespace) belongs to the container's root, and so does a
 * v3 whose rootid `from` maps to container root; a v3 whose rootid `from` maps to another container id
 * belongs to a namespace nested in the container (rootless podman, a nested LXC), which keeps it. A
 * capability whose root either map leaves out is lost, `value` null, and the walker removes it: the kernel
 * ignored it in the old container, and kept as it is it could come alive for a namespace it never belonged
 * to. chown clears `security.capability`: read it before the chown, write this after.
 */
export function shiftCapability(value: Buffer, from: Idmap | null, to: Idmap | null): { value: Buffer | null; lost: boolean } {
  const cap = decodeCapability(value);
  const owner = cap.rootid === 0 ? 0 : toContainer(from, "uid", cap.rootid);
  const rootid = owner === null ? null : toHost(to, "uid", owner);
  return rootid === null ? { value: null, lost: true } : { value: encodeCapability({ ...cap, rootid }), lost: false };
}

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
const ACL_TAGS = new Set([ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER]);
const ACL_VERSION = 2;
/** The id of an entry that names no one (the owner's, the mask, others). */
export const ACL_UNDEFINED_ID = 0xffffffff;

export interface AclEntry {
  tag: number;
  /** rwx as 4, 2, 1. */
  perm: number;
  /** A uid for ACL_USER, a gid for ACL_GROUP; 0xffffffff for the others. */
  id: number;
}

/** The entries of a POSIX ACL xattr, refused where the kernel would refuse to write it back. */
export function aclEntries(value: Buffer, what = "a POSIX ACL"): AclEntry[] {
  if (value.length < 4 || (value.length - 4) % 8 !== 0)
    throw malformed(what, `${value.length} bytes; an ACL is a 4-byte header and 8 bytes an entry`);
  if (value.readUInt32LE(0) !== ACL_VERSION) throw malformed(what, `version ${value.readUInt32LE(0)}, not ${ACL_VERSION}`);
  const entries: AclEntry[] = [];
  for (let at = 4; at < value.length; at += 8) {
    const entry = { tag: value.readUInt16LE(at), perm: value.readUInt16LE(at + 2), id: value.readUInt32LE(at + 4) };
    const n = (at - 4) / 8;
    if (!ACL_TAGS.has(entry.tag)) throw malformed(what, `entry ${n} has the unknown tag 0x${entry.tag.toString(16)}`);
    if (entry.perm > 7) throw malformed(what, `entry ${n} has permissions 0x${entry.perm.toString(16)} beyond rwx`);
    if ((entry.tag === ACL_USER || entry.tag === ACL_GROUP) && entry.id > MAX_ID)
      throw malformed(what, `entry ${n} names no ${entry.tag === ACL_USER ? "user" : "group"}`);
    entries.push(entry);
  }
  return entries;
}

/**
 * An ACL with its named users' and groups' ids moved by `shift`, and how many of them were lost (each
 * lands on the overflow id, as the owners do; two lost entries then name the same id, which the kernel
 * accepts). Entries keep their order and the others their bytes.
 */
export function shiftAcl(value: Buffer, shift: IdShift, what?: string): { value: Buffer; lost: number } {
  const entries = aclEntries(value, what);
  const out = Buffer.from(value);
  let lost = 0;
  entries.forEach((e, n) => {
    if (e.tag !== ACL_USER && e.tag !== ACL_GROUP) return;
    const moved = (e.tag === ACL_USER ? shift.uid : shift.gid)(e.id);
    if (moved.lost) lost++;
    out.writeUInt32LE(moved.id, 4 + n * 8 + 4);
  });
  return { value: out, lost };
}
