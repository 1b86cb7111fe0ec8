/**
 * What a shift of a tree from map `from` to map `to` does to each inode, for the tree walker
 * (host/shift-tree.ts): its owner and group, its ACLs' named ids, its capability's rootid, each moved by the
 * maps (model/idmap.ts, model/xattr-ids.ts), and the ids lost to the overflow id counted as they go, for the
 * preview and the result to say how many.
 */
import { IdKind, Idmap, idShift } from "./idmap";
import { shiftAcl, shiftCapability } from "./xattr-ids";

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

export function ownerRewrite(from: Idmap | null, to: Idmap | null): OwnerRewrite {
  const shift = idShift(from, to);
  let lost = 0;
  const counted = <T extends { lost: boolean | number }>(r: T): T => {
    lost += Number(r.lost);
    return r;
  };
  return {
    uid: (id) => counted(shift.uid(id)).id,
    gid: (id) => counted(shift.gid(id)).id,
    acl: (value) => counted(shiftAcl(value, shift)).value,
    capability: (value) => counted(shiftCapability(value, from, to)).value,
    isLost: (kind, id) => shift[kind](id).lost,
    lost: () => lost,
  };
}
