/**
 * Each request validated once at the edge, and an update's spec: what the change names, the rest kept
 * from the host (the CLI's update and the Pulumi adapters go through this one rule).
 */
import { InvalidInput } from "../../provider/src/model/errors";
import { StoreShape } from "../../provider/src/model/plans";
import { validateChange, validateRef } from "../../provider/src/api/validate";
import { DRIVERS } from "../../provider/src/drivers";
import { specForUpdate } from "../../provider/src/planner/target";
import { planUpdate } from "../../provider/src/planner/plan";

const G = 2 ** 30;
const ref = { container: "web", lxcPath: "/var/lib/lxc" };
const dir = "/var/lib/lxc/web";
const refused = (fn: () => unknown): InvalidInput => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInput);
    return e as InvalidInput;
  }
  throw new Error("accepted");
};

const loop: StoreShape = { store: "loop", sizeBytes: 2 * G, fstype: "ext4", usedBytes: 1e8, allocatedBytes: 1e8, rootfsPath: `loop:${dir}/rootdev` };
const current = (shape: StoreShape) => ({ shape, loc: DRIVERS[shape.store].parse(shape.rootfsPath!.replace(/^\w+:/, ""), dir)! });

describe("a container reference", () => {
  it("needs no store options, takes lxcPath's default, and refuses what it does not take", () => {
    expect(validateRef({ container: "web" })).toEqual(ref);
    expect(refused(() => validateRef({ ...ref, size: "1G" })).property).toBe("size");
    expect(refused(() => validateRef({ ...ref, rootfsPath: "nfs:/x" })).property).toBe("rootfsPath");
  });
});

describe("an update", () => {
  it("keeps the store, size and fstype the change leaves out", () => {
    const spec = specForUpdate(ref, current(loop), validateChange({ size: "4G" }));
    expect(spec).toEqual({ ...ref, backingStore: "loop", size: 4 * G });
    expect(planUpdate(loop, spec)).toMatchObject({ strategy: "grow-in-place", target: { store: "loop", size: 4 * G, fstype: "ext4" } });
    expect(planUpdate(loop, specForUpdate(ref, current(loop), validateChange({}))).strategy).toBe("none");
  });

  it("keeps an LV's volume group and name unless the change names them", () => {
    const lv: StoreShape = { ...loop, store: "lvm", rootfsPath: "lvm:/dev/vg0/data" };
    expect(specForUpdate(ref, current(lv), validateChange({ size: "4G" }))).toMatchObject({ vgName: "vg0", lvName: "data" });
    const renamed = specForUpdate(ref, current(lv), validateChange({ lvName: "web2" }));
    expect(renamed).toMatchObject({ vgName: "vg0", lvName: "web2" });
    expect(planUpdate(lv, renamed).summary).toMatch(/to lvm:\/dev\/vg0\/web2/);
  });

  it("judges the store's rules against the store on the host when the change does not name one", () => {
    const tree: StoreShape = { store: "dir", sizeBytes: null, fstype: null, usedBytes: 1e6, allocatedBytes: 1e6, rootfsPath: `dir:${dir}/rootfs` };
    expect(refused(() => specForUpdate(ref, current(tree), validateChange({ size: "1G" }))).message).toMatch(/^size: invalid value 1073741824: dir has no size/);
    expect(refused(() => specForUpdate(ref, current(tree), validateChange({ vgName: "vg0" }))).message).toMatch(/only for backingStore lvm/);
    // The floor of the filesystem the rootfs keeps: xfs needs 300M.
    const xfs = { ...loop, fstype: "xfs" as const };
    expect(refused(() => specForUpdate(ref, current(xfs), validateChange({ size: "100M" }))).message).toMatch(/at least 314572800 bytes \(300M\) for xfs/);
  });

  it("judges them at the edge when the change names the store", () => {
    expect(refused(() => validateChange({ backingStore: "dir", size: "1G" })).message).toMatch(/^size: invalid value "1G": dir has no size/);
    expect(refused(() => validateChange({ from: "dir:/x" })).property).toBe("from");
    expect(refused(() => validateChange({ fstype: "ntfs" })).property).toBe("fstype");
  });

  it("checks the floor of a filesystem kept with a new one's size, and a new filesystem with a kept size", () => {
    const small: StoreShape = { ...loop, sizeBytes: 64 * 2 ** 20 };
    expect(() => planUpdate(small, specForUpdate(ref, current(small), validateChange({ fstype: "xfs" })))).toThrow(/at least 314572800 bytes \(300M\) for xfs/);
  });
});
