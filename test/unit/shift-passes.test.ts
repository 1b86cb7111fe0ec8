/**
 * A shift in place without a host: which passes it takes, and that a pass killed anywhere and run again
 * from the start moves every id (owner, ACL entry, capability root) exactly once, for maps that overlap
 * and maps that do not. The kernel tests run the same on real trees.
 */
import { type Idmap, type IdmapEntry, idShift, idmapOf, toContainer, toHost } from "../../provider/src/model/idmap";
import { ownerRewrite, ownerSurvey } from "../../provider/src/model/owner-rewrite";
import { isShifted, lostIds, shiftPasses } from "../../provider/src/model/shift-passes";
import { ACL_GROUP, ACL_USER, ACL_USER_OBJ, aclEntries, decodeCapability, encodeCapability } from "../../provider/src/model/xattr-ids";

const both = (containerId: number, hostId: number, size: number): IdmapEntry => ({ kind: "both", containerId, hostId, size });
const map = (...entries: IdmapEntry[]) => idmapOf(entries) as Idmap;

const PROXMOX = map(both(0, 100000, 65536));
const NEAR = map(both(0, 101000, 65536));
const ABOVE = map(both(0, 165536, 65536));
const PASSTHROUGH = map(both(0, 100000, 1000), both(1000, 1000, 1), both(1001, 101001, 64535));

/** A tree's ids in the map it is in: container ids 0, 33, 1000 and 65534 as that map puts them on the host. */
function treeIn(m: Idmap | null): number[] {
  return [0, 33, 1000, 65534].map((c) => toHost(m, "uid", c)!);
}

function acl(ids: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * (ids.length + 1));
  b.writeUInt32LE(2, 0);
  b.writeUInt16LE(ACL_USER_OBJ, 4);
  b.writeUInt16LE(7, 6);
  b.writeUInt32LE(0xffffffff, 8);
  ids.forEach((id, i) => {
    b.writeUInt16LE(i % 2 ? ACL_GROUP : ACL_USER, 12 + 8 * i);
    b.writeUInt16LE(5, 14 + 8 * i);
    b.writeUInt32LE(id, 16 + 8 * i);
  });
  return b;
}

const capability = (rootid: number) => encodeCapability({ effective: true, permitted: 1n << 13n, inheritable: 0n, rootid });

/**
 * Runs `passes` over a model tree (owners, one ACL, one capability per inode) as the walker does, killed
 * after `cut` inodes of pass `killedIn`, then run again from that pass's start, as the journal makes the
 * next run do.
 */
function runKilled(passes: { from: Idmap | null; to: Idmap | null }[], tree: number[], killedIn: number, cut: number) {
  let owners = [...tree];
  let acls = tree.map((id) => acl([id, id]));
  let caps = tree.map((id) => capability(id === 0 ? 0 : id));
  const pass = (i: number, upTo: number) => {
    const r = ownerRewrite(passes[i].from, passes[i].to, { resume: true });
    owners = owners.map((id, n) => (n < upTo ? r.uid(id) : id));
    acls = acls.map((v, n) => (n < upTo ? r.acl(v) : v));
    caps = caps.map((v, n) => (n < upTo ? (r.capability(v) ?? v) : v));
  };
  for (let i = 0; i < passes.length; i++) {
    if (i === killedIn) pass(i, cut);
    pass(i, tree.length);
  }
  return {
    owners,
    acls: acls.map((v) =>
      aclEntries(v)
        .slice(1)
        .map((e) => e.id),
    ),
    caps: caps.map((v) => decodeCapability(v).rootid),
  };
}

describe("the passes of a shift in place", () => {
  it("take none between maps that map alike, one where the tree holds no id the shift lands on", () => {
    expect(shiftPasses(PROXMOX, map(both(0, 100000, 1000), both(1000, 101000, 64536)), { uid: [100000], gid: [100000] })).toEqual([]);
    expect(shiftPasses(null, PROXMOX, { uid: treeIn(null), gid: treeIn(null) })).toEqual([{ from: null, to: PROXMOX }]);
    expect(shiftPasses(PROXMOX, null, { uid: treeIn(PROXMOX), gid: treeIn(PROXMOX) })).toEqual([{ from: PROXMOX, to: null }]);
    expect(shiftPasses(PROXMOX, ABOVE, { uid: treeIn(PROXMOX), gid: [100000] })).toHaveLength(1);
    // The maps overlap, but not where this tree has ids: 100000 and 100033 are not where NEAR puts any.
    expect(shiftPasses(PROXMOX, NEAR, { uid: [100000, 100033], gid: [100000] })).toHaveLength(1);
  });

  it("take two through a range the tree does not use and the target does not map, where the shift lands on the tree's own ids", () => {
    const seen = { uid: treeIn(PROXMOX), gid: treeIn(PROXMOX) };
    const passes = shiftPasses(PROXMOX, NEAR, seen);
    expect(passes).toHaveLength(2);
    const middle = passes[0].to!;
    expect(passes[1].from).toEqual(middle);
    const [r] = middle.uid;
    expect(r.hostId).toBeGreaterThan(Math.max(...seen.uid));
    expect(r.hostId + r.size <= 101000 || r.hostId >= 101000 + 65536).toBe(true);
    expect(r.size).toBe(65535);
    // A privileged tree holding an id where the map puts its ids (host 100005, say, a stray owner).
    expect(shiftPasses(null, PROXMOX, { uid: [0, 100005], gid: [0] })).toHaveLength(2);
  });

  it("tell a shifted id from a pending one by the maps alone", () => {
    expect([isShifted(null, PROXMOX, "uid", 100033), isShifted(null, PROXMOX, "uid", 33)]).toEqual([true, false]);
    expect([isShifted(PROXMOX, null, "uid", 33), isShifted(PROXMOX, null, "uid", 100033)]).toEqual([true, false]);
    expect(isShifted(null, PASSTHROUGH, "uid", 1000)).toBe(true);
  });

  const pairs: Array<[string, Idmap | null, Idmap | null]> = [
    ["privileged to Proxmox's", null, PROXMOX],
    ["Proxmox's to privileged", PROXMOX, null],
    ["Proxmox's to one 1000 above, overlapping", PROXMOX, NEAR],
    ["one 1000 above back to Proxmox's", NEAR, PROXMOX],
    ["Proxmox's to one with 1000 passed through", PROXMOX, PASSTHROUGH],
    ["privileged to one with 1000 passed through", null, PASSTHROUGH],
  ];
  it.each(pairs)("%s: killed anywhere in any pass and run again, every id moves once", (_, from, to) => {
    const tree = treeIn(from);
    const passes = shiftPasses(from, to, { uid: tree, gid: tree });
    const once = idShift(from, to);
    const want = tree.map((id) => once.uid(id).id);
    const wantCaps = tree.map((id) => (id === toHost(from, "uid", 0) ? toHost(to, "uid", 0) : once.uid(id).id));
    for (let killedIn = 0; killedIn < passes.length; killedIn++) {
      for (let cut = 0; cut <= tree.length; cut++) {
        const { owners, acls, caps } = runKilled(passes, tree, killedIn, cut);
        expect(owners).toEqual(want);
        expect(acls).toEqual(tree.map((id, n) => [want[n], once.gid(id).id]));
        expect(caps).toEqual(wantCaps);
      }
    }
    expect(tree.every((id) => toContainer(from, "uid", id) !== null)).toBe(true);
  });

  it("would move ids twice with one pass where the maps overlap: why the second pass is there", () => {
    const tree = treeIn(PROXMOX);
    const { owners } = runKilled([{ from: PROXMOX, to: NEAR }], tree, 0, 2);
    expect(owners).not.toEqual(tree.map((id) => idShift(PROXMOX, NEAR).uid(id).id));
  });
});

describe("a survey of a tree's ids", () => {
  it("records owners, ACL entries and capabilities' roots, and changes nothing; the ids a shift would lose come from them", () => {
    const s = ownerSurvey();
    const a = acl([100033, 100034]);
    expect([s.uid(100000), s.gid(100033), s.uid(70)]).toEqual([100000, 100033, 70]);
    expect(s.acl(a)).toBe(a);
    const cap = capability(100000);
    expect(s.capability(cap)).toBe(cap);
    expect(s.seen()).toEqual({ uid: [70, 100000, 100033], gid: [100033, 100034] });
    // 70 is no id of PROXMOX's: lost, whichever way; to NEAR, 100000 and 100033 are mapped, 166536 would not be.
    expect(lostIds(PROXMOX, null, s.seen())).toEqual([70]);
    expect(lostIds(PROXMOX, NEAR, { uid: [100000, 165535], gid: [100033] })).toEqual([]);
    expect(lostIds(null, PROXMOX, { uid: [0, 65536], gid: [70000] })).toEqual([65536, 70000]);
  });
});
