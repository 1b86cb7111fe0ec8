/**
 * What a shift of a tree from map `from` to map `to` does to each inode, for the tree walker
 * (host/shift-tree.ts): its owner and group, its ACLs' named ids, its capability's rootid, each moved by the
 * maps (model/idmap.ts, model/xattr-ids.ts), and the ids lost to the overflow id counted as they go, for the
 * preview and the result to say how many.
 */
import { IdKind, Idmap, IdShift, idShift } from "./idmap";
import { IdsSeen, isShifted } from "./shift-passes";
import { decodeCapability, shiftAcl, shiftCapability } from "./xattr-ids";

export interface OwnerRewrite {
  uid(hostId: number): number;
  gid(hostId: number): number;
  acl(value: Buffer): Buffer;
  /** null: the capability is lost, and the walker removes it. */
  capability(value: Buffer): Buffer | null;
  /** Whether an old id goes to the overflow id, uncounted: the walker keeps its setuid or setgid bit off. */
  isLost(kind: IdKind, hostId: number): boolean;
  /** Ids lost so far: owners, groups, ACL entries and capabilities whose id a map leaves out. */
  lost(): number;
}

/**
 * `resume`: a pass of a shift in place (model/shift-passes.ts), which keeps every id already shifted, so
 * that a run killed midway and run again moves each id once.
 */
export function ownerRewrite(from: Idmap | null, to: Idmap | null, { resume = false } = {}): OwnerRewrite {
  const base = idShift(from, to);
  const kept = (kind: IdKind, id: number) => resume && isShifted(from, to, kind, id);
  const shift: IdShift = {
    uid: (id) => (kept("uid", id) ? { id, lost: false } : base.uid(id)),
    gid: (id) => (kept("gid", id) ? { id, lost: false } : base.gid(id)),
  };
  let lost = 0;
  const counted = <T extends { lost: boolean | number }>(r: T): T => {
    lost += Number(r.lost);
    return r;
  };
  return {
    uid: (id) => counted(shift.uid(id)).id,
    gid: (id) => counted(shift.gid(id)).id,
    acl: (value) => counted(shiftAcl(value, shift)).value,
    capability: (value) => (kept("uid", decodeCapability(value).rootid) ? value : counted(shiftCapability(value, from, to)).value),
    isLost: (kind, id) => shift[kind](id).lost,
    lost: () => lost,
  };
}

/** A rewrite that records the ids it is shown. */
export interface OwnerSurvey extends OwnerRewrite {
  seen(): IdsSeen;
}

/**
 * A rewrite that changes nothing and records: the walker run with it reads every inode's ids (owners, ACL
 * entries, capabilities' rootids), for a shift in place to judge (model/shift-passes.ts) before it writes.
 */
export function ownerSurvey(): OwnerSurvey {
  const ids = { uid: new Set<number>(), gid: new Set<number>() };
  const note = (kind: IdKind, id: number) => {
    ids[kind].add(id);
    return { id, lost: false };
  };
  const recorder: IdShift = { uid: (id) => note("uid", id), gid: (id) => note("gid", id) };
  return {
    uid: (id) => note("uid", id).id,
    gid: (id) => note("gid", id).id,
    acl: (value) => (shiftAcl(value, recorder), value),
    capability: (value) => {
      // rootid 0 (a v2 capability, or host root's) stands for container root, whatever the map.
      const { rootid } = decodeCapability(value);
      if (rootid !== 0) note("uid", rootid);
      return value;
    },
    isLost: () => false,
    lost: () => 0,
    seen: () => ({ uid: [...ids.uid].sort((a, b) => a - b), gid: [...ids.gid].sort((a, b) => a - b) }),
  };
}
