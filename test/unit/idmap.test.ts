/**
 * Id maps without a host: the `idmap` input and `lxc.idmap` lines as the kernel and liblxc take them, the
 * arithmetic a shift does per inode (range edges, holes, overflow, overlapping maps), and the capability
 * and ACL xattrs a shift rewrites, against bytes the kernel wrote on this machine.
 */
import { InvalidInput } from "../../provider/src/model/errors";
import {
  type Idmap,
  type IdmapEntry,
  MAX_ID,
  idShift,
  idmapFromLxcConfig,
  idmapLabel,
  idmapLines,
  idmapOf,
  mapsContainerRoot,
  sameIdmap,
  toContainer,
  toHost,
} from "../../provider/src/model/idmap";
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_UNDEFINED_ID,
  ACL_USER,
  ACL_USER_OBJ,
  aclEntries,
  decodeCapability,
  encodeCapability,
  shiftAcl,
  shiftCapability,
} from "../../provider/src/model/xattr-ids";
import { ownerRewrite } from "../../provider/src/model/owner-rewrite";

const both = (containerId: number, hostId: number, size: number): IdmapEntry => ({ kind: "both", containerId, hostId, size });
const uid = (containerId: number, hostId: number, size: number): IdmapEntry => ({ kind: "uid", containerId, hostId, size });
const gid = (containerId: number, hostId: number, size: number): IdmapEntry => ({ kind: "gid", containerId, hostId, size });
const map = (...entries: IdmapEntry[]) => idmapOf(entries) as Idmap;

/** Proxmox's `unprivileged: 1`. */
const PROXMOX = map(both(0, 100000, 65536));
/** Proxmox's recipe to pass host uid/gid 1000 through to container 1000. */
const PASSTHROUGH = map(both(0, 100000, 1000), both(1000, 1000, 1), both(1001, 101001, 64535));

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInput);
    return (e as Error).message;
  }
  throw new Error("not refused");
}

describe("the idmap input", () => {
  it("maps both kinds alike for `both`, and an empty list is the identity", () => {
    expect(PROXMOX).toEqual({
      uid: [{ containerId: 0, hostId: 100000, size: 65536 }],
      gid: [{ containerId: 0, hostId: 100000, size: 65536 }],
    });
    expect(idmapOf([])).toBeNull();
  });

  it("sorts each kind's ranges by container id", () => {
    expect(map(uid(1000, 1000, 1), both(0, 100000, 1000), gid(1000, 1000, 1)).uid.map((r) => r.containerId)).toEqual([0, 1000]);
  });

  it.each([
    [[both(0, 100000, 0)], "idmap[0].size: invalid value 0: a whole number from 1 to 4294967295"],
    [[both(0, 100000, 65536), both(65536, 200000.5, 1)], "idmap[1].hostId: invalid value 200000.5: a whole number from 0 to 4294967294"],
    [[both(-1, 100000, 1)], "idmap[0].containerId: invalid value -1: a whole number from 0 to 4294967294"],
    [[{ ...both(0, 100000, 1), size: "1" }], 'idmap[0].size: invalid value "1": a whole number from 1 to 4294967295'],
    [[{ ...both(0, 100000, 1), kind: "user" }], 'idmap[0].kind: invalid value "user": "uid", "gid" or "both"'],
    [[both(0, 4294901760, 65536)], "this one reaches 4294967295"],
    [[both(4294901760, 0, 65536)], "this one reaches 4294967295"],
    [[uid(0, 100000, 65536)], "idmap[0]: invalid value"],
  ])("%j is refused, naming the entry, the value and what is allowed", (entries, message) => {
    expect(refusal(() => idmapOf(entries))).toContain(message);
  });

  it("takes ranges whose last ids are 2^32-2, the kernel's last", () => {
    expect(map(both(0, 4294901759, 65536)).uid[0].hostId).toBe(4294901759);
    expect(map(both(0, 0, MAX_ID + 1)).uid[0].size).toBe(2 ** 32 - 1);
  });

  it("refuses ranges of one kind that share container ids, naming both", () => {
    expect(refusal(() => idmapOf([uid(0, 100000, 1000), gid(0, 100000, 65536), uid(999, 200000, 10)]))).toBe(
      'idmap[2]: invalid value {"kind":"uid","containerId":999,"hostId":200000,"size":10}: uid ranges that share no container id with another (the kernel refuses them); this one shares container ids 999 to 999 with idmap[0]',
    );
  });

  it("refuses ranges of one kind that share host ids, whatever their order", () => {
    expect(refusal(() => idmapOf([uid(5000, 100500, 10), both(0, 100000, 1000)]))).toContain(
      "uid ranges that share no host id with another (the kernel refuses them); this one shares host ids 100500 to 100509 with idmap[0]",
    );
    expect(refusal(() => idmapOf([both(0, 100000, 65536), uid(0, 100000, 65536)]))).toContain("idmap[1]");
  });

  it("takes ranges that touch on both sides, and a uid range over the same ids as a gid range", () => {
    expect(map(both(0, 100000, 1000), both(1000, 101000, 10)).gid).toHaveLength(2);
    expect(map(uid(0, 100000, 65536), gid(0, 100000, 65536))).toEqual(PROXMOX);
  });

  it("refuses the kernel's 341st range of a kind", () => {
    const ranges = (n: number) => Array.from({ length: n }, (_, i) => both(i * 10, 100000 + i * 10, 10));
    expect(map(...ranges(340)).uid).toHaveLength(340);
    expect(refusal(() => idmapOf(ranges(341)))).toContain("idmap[340]: invalid value");
  });

  it("is refused when not a list of entries", () => {
    expect(refusal(() => idmapOf({ kind: "both" }))).toContain("idmap: invalid value");
    expect(refusal(() => idmapOf([null], "spec.idmap"))).toContain("spec.idmap[0]: invalid value null");
  });
});

describe("lxc.idmap lines", () => {
  it("read as liblxc reads them: blanks, tabs, hex and octal numbers", () => {
    expect(idmapFromLxcConfig(["u 0 100000 65536", "g 0 100000 65536"])).toEqual(PROXMOX);
    expect(idmapFromLxcConfig([" u\t0  0x186a0 0200000\r", "g 0 100000 +65536 "])).toEqual(PROXMOX);
  });

  it("an empty value clears the lines before it", () => {
    expect(idmapFromLxcConfig(["u 0 1 1", "g 0 1 1", "", "u 0 100000 65536", "g 0 100000 65536"])).toEqual(PROXMOX);
    expect(idmapFromLxcConfig(["u 0 100000 65536", "g 0 100000 65536", ""])).toBeNull();
    expect(idmapFromLxcConfig([])).toBeNull();
  });

  it.each([
    "b 0 100000 65536",
    "u 0 100000",
    "u 0 100000 65536 1",
    "u -1 100000 65536",
    "u0 100000 65536 1",
    "x 0 1 1",
    "u 0 1e5 1",
    "u 0 08 1",
  ])("%s is refused, naming the line", (line) => {
    expect(refusal(() => idmapFromLxcConfig([line, "g 0 100000 65536"]))).toBe(
      `lxc.idmap: invalid value ${JSON.stringify(line)}: u|g <containerId> <hostId> <size>, as LXC reads it (LXC has no b: write a u line and a g line)`,
    );
  });

  it("refuses lines the kernel would refuse, naming them", () => {
    expect(refusal(() => idmapFromLxcConfig(["u 0 100000 0", "g 0 100000 1"]))).toBe(
      'lxc.idmap: invalid value "u 0 100000 0": a size that is a whole number from 1 to 4294967295',
    );
    expect(refusal(() => idmapFromLxcConfig(["u 0 100000 65536", "g 0 100000 65536", "u 70000 165000 10"]))).toContain(
      'lxc.idmap: invalid value "u 70000 165000 10": uid ranges that share no host id with another (the kernel refuses them); this one shares host ids 165000 to 165009 with "u 0 100000 65536"',
    );
    expect(refusal(() => idmapFromLxcConfig(["u 0 100000 65536"]))).toContain("a map with gid ranges too");
  });

  it("are what idmapLines writes, and read back to the same map", () => {
    expect(idmapLines(PROXMOX)).toEqual(["u 0 100000 65536", "g 0 100000 65536"]);
    expect(idmapLines(null)).toEqual([]);
    expect(idmapFromLxcConfig(idmapLines(PASSTHROUGH))).toEqual(PASSTHROUGH);
  });
});

describe("a preview's label of a map", () => {
  it("names both kinds at once when they map alike", () => {
    expect(idmapLabel(PROXMOX)).toBe("u/g 0:100000:65536");
    expect(idmapLabel(PASSTHROUGH)).toBe("u/g 0:100000:1000 1000:1000:1 1001:101001:64535");
    expect(idmapLabel(map(uid(0, 100000, 65536), gid(0, 200000, 65536)))).toBe("u 0:100000:65536 g 0:200000:65536");
    expect(idmapLabel(null)).toBe("none (privileged)");
  });
});

describe("map arithmetic", () => {
  it("maps a range's first and last ids, and nothing past them", () => {
    expect([0, 65535, 65536, -1].map((id) => toHost(PROXMOX, "uid", id))).toEqual([100000, 165535, null, null]);
    expect([99999, 100000, 165535, 165536].map((id) => toContainer(PROXMOX, "gid", id))).toEqual([null, 0, 65535, null]);
  });

  it("follows each range of a map with a hole in it", () => {
    expect([0, 999, 1000, 1001, 65535].map((id) => toHost(PASSTHROUGH, "uid", id))).toEqual([100000, 100999, 1000, 101001, 165535]);
    expect([1000, 100999, 101000, 101001, 1001].map((id) => toContainer(PASSTHROUGH, "uid", id))).toEqual([1000, 999, null, 1001, null]);
  });

  it("takes no map as the identity over every id but the kernel's 'no id'", () => {
    expect([0, 100000, MAX_ID, MAX_ID + 1, 1.5].map((id) => toHost(null, "uid", id))).toEqual([0, 100000, MAX_ID, null, null]);
    expect(toContainer(null, "gid", 65534)).toBe(65534);
  });

  it("keeps uids and gids apart", () => {
    const m = map(uid(0, 100000, 65536), gid(0, 200000, 65536));
    expect([toHost(m, "uid", 5), toHost(m, "gid", 5), toContainer(m, "gid", 100005)]).toEqual([100005, 200005, null]);
  });

  it("says whether container root is mapped, as a uid and as a gid", () => {
    expect([null, PROXMOX, PASSTHROUGH].map(mapsContainerRoot)).toEqual([true, true, true]);
    expect(mapsContainerRoot(map(both(1, 100001, 65535)))).toBe(false);
    expect(mapsContainerRoot(map(uid(0, 100000, 65536), gid(1, 100001, 65535)))).toBe(false);
  });

  it("knows maps that map alike however their ranges are cut", () => {
    expect(sameIdmap(PROXMOX, map(both(0, 100000, 1000), both(1000, 101000, 64536)))).toBe(true);
    expect(sameIdmap(PROXMOX, PASSTHROUGH)).toBe(false);
    expect(sameIdmap(null, map(both(0, 0, MAX_ID + 1)))).toBe(true);
    expect(sameIdmap(null, PROXMOX)).toBe(false);
    expect(sameIdmap(null, null)).toBe(true);
  });
});

describe("shifting owners from one map to another", () => {
  it("moves a privileged tree's ids by 100000, and what the map leaves out to the container's nobody", () => {
    const shift = idShift(null, PROXMOX);
    expect([0, 1000, 65535].map((id) => shift.uid(id))).toEqual([100000, 101000, 165535].map((id) => ({ id, lost: false })));
    expect(shift.gid(65536)).toEqual({ id: 165534, lost: true });
    expect(shift.uid(MAX_ID)).toEqual({ id: 165534, lost: true });
  });

  it("moves them back, and an id the old container could not see to 65534", () => {
    const back = idShift(PROXMOX, null);
    expect([100000, 165535].map((id) => back.uid(id).id)).toEqual([0, 65535]);
    expect(back.uid(0)).toEqual({ id: 65534, lost: true });
  });

  it("gives back every id of a round trip", () => {
    const there = idShift(null, PASSTHROUGH);
    const back = idShift(PASSTHROUGH, null);
    for (let id = 0; id < 65536; id += 97) {
      const moved = there.uid(id);
      expect(moved.lost).toBe(false);
      expect(back.uid(moved.id)).toEqual({ id, lost: false });
    }
    expect(there.uid(1000)).toEqual({ id: 1000, lost: false });
  });

  it("moves a tree between maps that share host ids, as two shifts would from the start", () => {
    const first = map(both(0, 1000, 1000));
    const second = map(both(0, 2000, 1000));
    const direct = idShift(null, second);
    const [a, b] = [idShift(null, first), idShift(first, second)];
    for (const id of [0, 1, 500, 999]) expect(b.uid(a.uid(id).id)).toEqual(direct.uid(id));
    expect([1000, 1999].map((id) => b.gid(id).id)).toEqual([2000, 2999]);
    // 2000 is already in the second map's range, but the first never mapped it: the container saw nobody.
    expect(b.uid(2000)).toEqual({ id: 65534, lost: true });
    expect(a.uid(1000)).toEqual({ id: 65534, lost: true });
  });

  it("never lands a lost id on host root, nor on a host id the target maps to someone else", () => {
    const rootIsNobody = map(both(0, 100000, 65534), both(65534, 0, 1));
    expect(idShift(null, rootIsNobody).uid(70000)).toEqual({ id: 65534, lost: true });
    const hostNobodyMapped = map(both(0, 60000, 10000));
    expect(idShift(null, hostNobodyMapped).uid(20000)).toEqual({ id: MAX_ID, lost: true });
    const topMappedToo = map(both(0, 60000, 10000), both(10000, MAX_ID - 9999, 10000));
    const lost = idShift(null, topMappedToo).gid(30000);
    expect(lost).toEqual({ id: MAX_ID - 10000, lost: true });
    expect(toContainer(topMappedToo, "gid", lost.id)).toBeNull();
  });
});

/*
 * Capability fixtures, made on this machine (Debian 12, libcap2-bin 2.66, kernel 6.18, ext4) with
 * `touch f; setcap <caps> f; getfattr -e hex -n security.capability f`.
 */
/** `setcap cap_net_raw+ep f`: v2, effective, permitted bit 13. */
const CAP_V2 = Buffer.from("0100000200200000000000000000000000000000", "hex");
/** `setcap -n 100000 cap_net_raw+ep f`: the same as v3 for root 100000. */
const CAP_V3 = Buffer.from("0100000300200000000000000000000000000000a0860100", "hex");
/** `setcap -n 100000 'cap_net_raw,cap_sys_admin+p cap_setuid+i cap_audit_read+ip' f`: both words of both sets, no effective. */
const CAP_V3_WIDE = Buffer.from("0000000300202000800000002000000020000000a0860100", "hex");
/** `setcap cap_audit_read+eip f`: a capability past bit 31. */
const CAP_V2_HIGH = Buffer.from("0100000200000000000000002000000020000000", "hex");
/**
 * A v1 of cap_net_raw+ep, made by hand from capability.h: the kernel still reads v1 but refuses to write
 * it (`setfattr -n security.capability -v 0x010000010020000000000000 f` fails with EINVAL here).
 */
const CAP_V1 = Buffer.from("010000010020000000000000", "hex");
const bit = (n: number) => 1n << BigInt(n);

describe("security.capability", () => {
  it("decodes what setcap wrote", () => {
    expect(decodeCapability(CAP_V2)).toEqual({ revision: 2, effective: true, permitted: bit(13), inheritable: 0n, rootid: 0 });
    expect(decodeCapability(CAP_V3)).toEqual({ revision: 3, effective: true, permitted: bit(13), inheritable: 0n, rootid: 100000 });
    expect(decodeCapability(CAP_V3_WIDE)).toEqual({
      revision: 3,
      effective: false,
      permitted: bit(13) | bit(21) | bit(37),
      inheritable: bit(7) | bit(37),
      rootid: 100000,
    });
    expect(decodeCapability(CAP_V2_HIGH).permitted).toBe(bit(37));
    expect(decodeCapability(CAP_V1)).toEqual({ revision: 1, effective: true, permitted: bit(13), inheritable: 0n, rootid: 0 });
  });

  it.each([CAP_V2, CAP_V3, CAP_V3_WIDE, CAP_V2_HIGH])("encodes back to setcap's bytes (%#)", (bytes) => {
    expect(encodeCapability(decodeCapability(bytes)).equals(bytes)).toBe(true);
  });

  it("moves with the container root: setcap's v2 becomes setcap -n 100000's v3, and back", () => {
    expect(shiftCapability(CAP_V2, null, PROXMOX)).toEqual({ value: CAP_V3, lost: false });
    expect(shiftCapability(CAP_V3, PROXMOX, null)).toEqual({ value: CAP_V2, lost: false });
    expect(shiftCapability(CAP_V1, null, null)).toEqual({ value: CAP_V2, lost: false });
    const moved = shiftCapability(CAP_V3_WIDE, PROXMOX, map(both(0, 200000, 65536)));
    expect(decodeCapability(moved.value as Buffer)).toEqual({ ...decodeCapability(CAP_V3_WIDE), rootid: 200000 });
  });

  it("keeps host root's capability for the container's root, as the kernel honours it there", () => {
    expect(decodeCapability(shiftCapability(CAP_V2, PROXMOX, map(both(0, 200000, 65536))).value as Buffer).rootid).toBe(200000);
  });

  it("keeps a nested namespace's capability for that namespace's root", () => {
    const nested = encodeCapability({ ...decodeCapability(CAP_V3), rootid: 101000 });
    expect(decodeCapability(shiftCapability(nested, PROXMOX, map(both(0, 200000, 65536))).value as Buffer).rootid).toBe(201000);
  });

  it("drops one whose root either map leaves out, which the kernel ignored in the old container", () => {
    const foreign = encodeCapability({ ...decodeCapability(CAP_V3), rootid: 300000 });
    expect(shiftCapability(foreign, PROXMOX, map(both(0, 200000, 65536)))).toEqual({ value: null, lost: true });
    expect(shiftCapability(CAP_V3, null, PROXMOX)).toEqual({ value: null, lost: true });
    expect(shiftCapability(CAP_V2, null, map(both(1, 100001, 65535)))).toEqual({ value: null, lost: true });
  });

  it.each([
    [CAP_V2.subarray(0, 3), "3 bytes"],
    [Buffer.concat([CAP_V2, Buffer.alloc(1)]), "21 bytes with revision 2"],
    [CAP_V3.subarray(0, 20), "20 bytes with revision 3"],
    [Buffer.from("01000004" + "00".repeat(20), "hex"), "revision 0x04000001 is none of 1, 2 and 3"],
    [Buffer.from("03000002" + "00".repeat(16), "hex"), "flags 0x2000003 other than effective"],
  ])("refuses a malformed one (%#)", (bytes, why) => {
    expect(() => decodeCapability(bytes)).toThrow(`security.capability is malformed: ${why}`);
  });
});

/*
 * ACL fixtures, made on this machine (acl 2.3.1, ext4) with `touch f; setfacl -m <entries> f;
 * getfattr -e hex -n system.posix_acl_access f` (and `mkdir d; setfacl -d -m ...` for the default ACL).
 */
/** `setfacl -m u:1234:rwx f` */
const ACL_ONE = Buffer.from("0200000001000600ffffffff02000700d204000004000400ffffffff10000700ffffffff20000400ffffffff", "hex");
/** `setfacl -m u:101234:rwx f`: what ACL_ONE shifted by 100000 must be. */
const ACL_ONE_SHIFTED = Buffer.from("0200000001000600ffffffff02000700728b010004000400ffffffff10000700ffffffff20000400ffffffff", "hex");
/** `setfacl -m u:1234:rwx,u:100000:r,g:4321:rx,g:65534:w f` */
const ACL_FOUR = Buffer.from(
  "0200000001000600ffffffff02000700d204000002000400a086010004000400ffffffff08000500e110000008000200feff000010000700ffffffff20000400ffffffff",
  "hex",
);
/** `setfacl -m u:101234:rwx,u:165534:r,g:104321:rx,g:165534:w f`: ACL_FOUR shifted by 100000, 100000 lost to 165534. */
const ACL_FOUR_SHIFTED = Buffer.from(
  "0200000001000600ffffffff02000700728b0100020004009e86020004000400ffffffff0800050081970100080002009e86020010000700ffffffff20000400ffffffff",
  "hex",
);
/** `mkdir d; setfacl -d -m u:1000:rwx,g:1000:rx d`, read as system.posix_acl_default. */
const ACL_DEFAULT = Buffer.from(
  "0200000001000700ffffffff02000700e803000004000500ffffffff08000500e803000010000700ffffffff20000500ffffffff",
  "hex",
);

describe("POSIX ACL xattrs", () => {
  it("decode to the entries setfacl wrote", () => {
    const none = ACL_UNDEFINED_ID;
    expect(aclEntries(ACL_ONE)).toEqual([
      { tag: ACL_USER_OBJ, perm: 6, id: none },
      { tag: ACL_USER, perm: 7, id: 1234 },
      { tag: ACL_GROUP_OBJ, perm: 4, id: none },
      { tag: ACL_MASK, perm: 7, id: none },
      { tag: ACL_OTHER, perm: 4, id: none },
    ]);
    expect(aclEntries(ACL_FOUR).filter((e) => e.tag === ACL_GROUP)).toEqual([
      { tag: ACL_GROUP, perm: 5, id: 4321 },
      { tag: ACL_GROUP, perm: 2, id: 65534 },
    ]);
  });

  it("shift to the bytes setfacl writes for the shifted ids, counting the lost", () => {
    expect(shiftAcl(ACL_ONE, idShift(null, PROXMOX))).toEqual({ value: ACL_ONE_SHIFTED, lost: 0 });
    expect(shiftAcl(ACL_FOUR, idShift(null, PROXMOX))).toEqual({ value: ACL_FOUR_SHIFTED, lost: 1 });
  });

  it("shift a default ACL there and back to the same bytes", () => {
    const there = shiftAcl(ACL_DEFAULT, idShift(null, PASSTHROUGH));
    expect(aclEntries(there.value).map((e) => e.id)).toEqual([
      ACL_UNDEFINED_ID,
      1000,
      ACL_UNDEFINED_ID,
      1000,
      ACL_UNDEFINED_ID,
      ACL_UNDEFINED_ID,
    ]);
    const moved = shiftAcl(ACL_DEFAULT, idShift(null, PROXMOX));
    expect(aclEntries(moved.value)[1].id).toBe(101000);
    expect(shiftAcl(moved.value, idShift(PROXMOX, null))).toEqual({ value: ACL_DEFAULT, lost: 0 });
  });

  it("take a header without entries, which the kernel reads as no ACL", () => {
    expect(shiftAcl(Buffer.from("02000000", "hex"), idShift(null, PROXMOX)).value.toString("hex")).toBe("02000000");
  });

  it.each([
    [Buffer.from("0100000001000600ffffffff", "hex"), "version 1, not 2"],
    [ACL_ONE.subarray(0, ACL_ONE.length - 1), "43 bytes; an ACL is a 4-byte header and 8 bytes an entry"],
    [Buffer.from("0200000040000600ffffffff", "hex"), "entry 0 has the unknown tag 0x40"],
    [Buffer.from("0200000001000800ffffffff", "hex"), "entry 0 has permissions 0x8 beyond rwx"],
    [Buffer.from("0200000002000700ffffffff", "hex"), "entry 0 names no user"],
  ])("refuse a malformed one (%#)", (bytes, why) => {
    expect(() => shiftAcl(bytes, idShift(null, PROXMOX), "system.posix_acl_access")).toThrow(
      `system.posix_acl_access is malformed: ${why}`,
    );
  });
});

describe("the rewrite of each inode a shift makes", () => {
  it("moves owners, ACL ids and the capability's root by the maps, and counts what is lost", () => {
    const r = ownerRewrite(null, PROXMOX);
    expect([r.uid(0), r.gid(33), r.uid(70000)]).toEqual([100000, 100033, toHost(PROXMOX, "uid", 65534)]);
    expect(r.acl(ACL_ONE).toString("hex")).toBe(ACL_ONE_SHIFTED.toString("hex"));
    expect(r.capability(CAP_V2)!.toString("hex")).toBe(CAP_V3.toString("hex"));
    expect(r.lost()).toBe(1);
    // Back again: the same bytes as before the shift.
    const back = ownerRewrite(PROXMOX, null);
    expect([back.uid(100000), back.gid(100033)]).toEqual([0, 33]);
    expect(back.acl(ACL_ONE_SHIFTED).toString("hex")).toBe(ACL_ONE.toString("hex"));
    expect(back.capability(CAP_V3)!.toString("hex")).toBe(CAP_V2.toString("hex"));
    expect(back.capability(Buffer.from(CAP_V3.toString("hex").replace(/a0860100$/, "00350c00"), "hex"))).toBeNull();
    expect(back.lost()).toBe(1);
  });
});

describe("a map with nowhere for a lost id", () => {
  it("is refused when the shift is made: every host id mapped, container 65534 on host root", () => {
    const all = (kind: "uid" | "gid") => [
      { kind, containerId: 65534, hostId: 0, size: 1 },
      { kind, containerId: 0, hostId: 1, size: 65534 },
      { kind, containerId: 65535, hostId: 65535, size: 2 ** 32 - 1 - 65535 },
    ];
    const full = map(...all("uid"), ...all("gid"));
    expect(() => idShift(null, full)).toThrow(/ids it does not map need somewhere to go/);
  });
});
