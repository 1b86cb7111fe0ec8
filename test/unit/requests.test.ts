/**
 * Each request validated once at the edge, and an update's spec: what the change names, the rest kept
 * from the host (the CLI's update and the Pulumi adapters go through this one rule).
 */
import { InvalidInput } from "../../provider/src/model/errors";
import { StoreShape } from "../../provider/src/model/plans";
import { validateChange, validateRef } from "../../provider/src/api/validate";
import { destinationOf, specForUpdate } from "../../provider/src/planner/target";
import { DRIVERS } from "../../provider/src/drivers";
import { planChange, planUpdate } from "../../provider/src/planner/plan";

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

const loop: StoreShape = {
  store: "loop",
  sizeBytes: 2 * G,
  fstype: "ext4",
  usedBytes: 1e8,
  allocatedBytes: 1e8,
  fsBytes: 2 * G,
  rootfsPath: `loop:${dir}/rootdev`,
};

describe("a container reference", () => {
  it("needs no store options, takes lxcPath's default, and refuses what it does not take", () => {
    expect(validateRef({ container: "web" })).toEqual(ref);
    expect(refused(() => validateRef({ ...ref, size: "1G" })).property).toBe("size");
    expect(refused(() => validateRef({ ...ref, rootfsPath: "nfs:/x" })).property).toBe("rootfsPath");
  });
});

describe("an update", () => {
  it("keeps the store, size and fstype the change leaves out", () => {
    const spec = specForUpdate(ref, loop, validateChange({ size: "4G" }));
    expect(spec).toEqual({ ...ref, backingStore: "loop", size: 4 * G });
    expect(planUpdate(loop, spec)).toMatchObject({ strategy: "grow-in-place", toSize: 4 * G, fstype: "ext4" });
    expect(planUpdate(loop, specForUpdate(ref, loop, validateChange({}))).strategy).toBe("none");
  });

  it("stays on its volume unless the change gives a store option another value than the host's", () => {
    const lv: StoreShape = { ...loop, store: "lvm", rootfsPath: "lvm:/dev/vg0/data" };
    expect(planChange(ref, lv, validateChange({ size: "4G" })).plan.strategy).toBe("grow-in-place");
    // The program says vg0, as the host does; lvName (the container's name by default) is not asked for.
    expect(planChange(ref, lv, validateChange({ backingStore: "lvm", vgName: "vg0" })).plan.strategy).toBe("none");
    const renamed = planChange(ref, lv, validateChange({ lvName: "web2" }));
    expect(renamed.spec).toMatchObject({ vgName: "vg0", lvName: "web2" });
    expect(renamed.plan.summary).toMatch(/from lvm:\/dev\/vg0\/data to lvm:\/dev\/vg0\/web2/);
  });

  it("a dataset not named after its container is resized where it is, never moved by a size change", () => {
    const ds: StoreShape = {
      store: "zfs",
      sizeBytes: 2 * G,
      fstype: null,
      usedBytes: 1e8,
      allocatedBytes: 1e8,
      fsBytes: null,
      rootfsPath: "zfs:rpool/data/subvol-101-disk-0",
    };
    expect(planChange(ref, ds, validateChange({ size: "4G" })).plan).toMatchObject({ strategy: "set-limit", bytesToMove: 0 });
    expect(planChange(ref, ds, validateChange({ backingStore: "zfs", zfsRoot: "rpool/data", size: "2G" })).plan.strategy).toBe("none");
    expect(planChange(ref, ds, validateChange({ zfsRoot: "tank" })).plan.summary).toMatch(/to zfs:tank\/web$/);
  });

  it("a same-store copy (a new filesystem) goes where the rootfs is, not to the default volume", () => {
    const lv: StoreShape = { ...loop, store: "lvm", rootfsPath: "lvm:/dev/vg0/data" };
    const { spec, plan } = planChange(ref, lv, validateChange({ fstype: "xfs" }));
    expect(plan.strategy).toBe("file-copy");
    expect(destinationOf(spec, DRIVERS.lvm.parse("/dev/vg0/data", dir) ?? undefined).rootfsPath).toBe("lvm:/dev/vg0/data");
  });

  it("judges the store's rules against the store on the host when the change does not name one", () => {
    const tree: StoreShape = {
      store: "dir",
      sizeBytes: null,
      fstype: null,
      usedBytes: 1e6,
      allocatedBytes: 1e6,
      fsBytes: null,
      rootfsPath: `dir:${dir}/rootfs`,
    };
    expect(refused(() => specForUpdate(ref, tree, validateChange({ size: "1G" }))).message).toMatch(
      /^size: invalid value 1073741824: dir has no size/,
    );
    expect(refused(() => specForUpdate(ref, tree, validateChange({ vgName: "vg0" }))).message).toMatch(/only for backingStore lvm/);
    // The floor of the filesystem the rootfs keeps: xfs needs 300M.
    const xfs = { ...loop, fstype: "xfs" as const };
    expect(refused(() => specForUpdate(ref, xfs, validateChange({ size: "100M" }))).message).toMatch(
      /at least 314572800 bytes \(300M\) for xfs/,
    );
  });

  it("judges them at the edge when the change names the store", () => {
    expect(refused(() => validateChange({ backingStore: "dir", size: "1G" })).message).toMatch(
      /^size: invalid value "1G": dir has no size/,
    );
    expect(refused(() => validateChange({ from: "dir:/x" })).property).toBe("from");
    expect(refused(() => validateChange({ fstype: "ntfs" })).property).toBe("fstype");
  });

  it("checks the floor of a filesystem kept with a new one's size, and a new filesystem with a kept size", () => {
    const small: StoreShape = { ...loop, sizeBytes: 64 * 2 ** 20, fsBytes: 64 * 2 ** 20 };
    expect(() => planUpdate(small, specForUpdate(ref, small, validateChange({ fstype: "xfs" })))).toThrow(
      /at least 314572800 bytes \(300M\) for xfs/,
    );
  });
});
