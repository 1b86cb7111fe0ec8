/**
^ * Found by review: the middle range of a two-pass shift must stay clear of the target map's ranges (freeRange's
 * loop over `to`); the existing cases put it above `to` anyway, so that loop could go and no test would
 * fail. Here the target map reaches the first free block above the tree's ids.
 */
import { type Idmap, type IdmapEntry, idShift, idmapOf, toHost } from "../../provider/src/model/idmap";
import { ownerRewrite } from "../../provider/src/model/owner-rewrite";
import { shiftPasses } from "../../provider/src/model/shift-passes";

const both = (containerId: number, hostId: number, size: number): IdmapEntry => ({ kind: "both", containerId, hostId, size });
const map = (...entries: IdmapEntry[]) => idmapOf(entries) as Idmap;
const PROXMOX = map(both(0, 100000, 65536));
// Lands on 165534 (PROXMOX's container 65534), and covers 196608, the block above the tree's highest id.
const REACHING = map(both(0, 150000, 65536));

it("a shift whose target map covers the block above the tree's ids goes through a range outside that map", () => {
  const tree = [0, 33, 1000, 65534].map((c) => toHost(PROXMOX, "uid", c)!);
  const passes = shiftPasses(PROXMOX, REACHING, { uid: tree, gid: tree });
  expect(passes).toHaveLength(2);
  const [middle] = passes[0].to!.uid;
  expect(middle.hostId >= 150000 + 65536 || middle.hostId + middle.size <= 150000).toBe(true);
  // And the passes, each run whole, move every id once.
  let owners = [...tree];
  for (const p of passes) {
    const r = ownerRewrite(p.from, p.to, { resume: true });
    owners = owners.map((id) => r.uid(id));
  }
  expect(owners).toEqual(tree.map((id) => idShift(PROXMOX, REACHING).uid(id).id));
});
