/**
 * idmapMode's pure rules: which stores take mount (the driver table's capability), that mount needs a map,
 * which filesystems can idmap a mount, and the config lines the writer owns for it (a user's own option line
 * is never taken for ours). The kernel's side is test/kernel/idmap-mount.test.ts.
 */
import { InvalidInput } from "../../provider/src/model/errors";
import { IDMAPPABLE_FS, NOT_IDMAPPABLE_FS } from "../../provider/src/model/filesystems";
import { DRIVERS, storesWhere } from "../../provider/src/drivers";
import { validateChange, validateSpec } from "../../provider/src/api/validate";
import { configuredIdmapMode, withRootfsPath } from "../../provider/src/host/lxc-config";
import { textEntries } from "../../provider/src/host/lxc-confile";
import { checkResource } from "../../provider/src/adapters/pulumi/resource";

const MAP = [{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }];
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("not refused");
};

describe("idmapMode", () => {
  it("mount is for the stores LXC mounts idmapped, by the driver table: dir alone", () => {
    expect(storesWhere((d) => d.caps.idmappedMount)).toEqual(["dir"]);
    expect(validateSpec({ container: "c", idmapMode: "mount", idmap: MAP })).toMatchObject({ idmapMode: "mount", idmap: MAP });
    for (const store of Object.keys(DRIVERS).filter((s) => s !== "dir")) {
      const e = refusal(() => validateSpec({ container: "c", backingStore: store, idmapMode: "mount", from: "/srv/lower" }));
      expect(e).toBeInstanceOf(InvalidInput);
      expect((e as InvalidInput).property).toBe("idmapMode");
      expect((e as Error).message).toContain(`shift for ${store}; mount is for dir only`);
      expect((e as Error).message).toContain('Idmapped rootfs currently only supports the "dir" storage driver');
    }
  });

  it("mount with idmap [] (privileged) is refused, naming idmapMode; shift is what no mode asks at create", () => {
    expect(() => validateSpec({ container: "c", idmapMode: "mount", idmap: [] })).toThrow(
      /^idmapMode: invalid value "mount": shift, or an idmap/,
    );
    expect(validateSpec({ container: "c" })).not.toHaveProperty("idmapMode");
    expect(validateChange({ idmapMode: "shift" })).toEqual({ idmapMode: "shift" });
    expect(() => validateChange({ idmapMode: "both" })).toThrow(/^idmapMode: invalid value "both": one of shift, mount/);
  });

  it("mount on zfs fails a Pulumi preview's check, naming idmapMode and LXC's reason", () => {
    const { failures } = checkResource({ container: "c", backingStore: "zfs", idmapMode: "mount", idmap: MAP });
    expect(failures).toEqual([{ property: "idmapMode", reason: expect.stringContaining("shift for zfs; mount is for dir only") }]);
    expect(failures[0].reason).toContain('"Idmapped rootfs currently only supports the "dir" storage driver"');
  });

  it("the filesystems that can idmap a mount: ext2/3/4, xfs, btrfs, tmpfs; not zfs or overlay", () => {
    expect([...IDMAPPABLE_FS.values()]).toEqual(["ext2/3/4", "xfs", "btrfs", "tmpfs"]);
    expect([...IDMAPPABLE_FS.keys()]).toEqual([0xef53, 0x58465342, 0x9123683e, 0x01021994]);
    expect(NOT_IDMAPPABLE_FS.get(0x2fc12fc1)).toBe("zfs");
    expect(NOT_IDMAPPABLE_FS.get(0x794c7630)).toBe("overlay");
  });
});

describe("the config's idmapped-mount line", () => {
  const mode = (text: string) => configuredIdmapMode({ file: "/c/config", entries: textEntries(text, "/c/config") });

  it("is written under our comment after lxc.rootfs.path, read back as mount and ours, and removed again", () => {
    const user = "lxc.uts.name = c\nlxc.idmap = u 0 100000 65536\n";
    const mounted = withRootfsPath(user, "dir:/c/rootfs", undefined, true);
    expect(mounted).toMatch(
      /lxc\.rootfs\.path = dir:\/c\/rootfs\n# lxc\.rootfs\.options is managed by lxc-rootfs.*\nlxc\.rootfs\.options = idmap=container\n$/,
    );
    expect(mode(mounted)).toMatchObject({ mode: "mount", ours: true });
    // Unset, the line stays as the text has it (a swap, a snapshot's config).
    expect(withRootfsPath(mounted, "dir:/c/rootfs")).toBe(mounted);
    const back = withRootfsPath(mounted, "dir:/c/rootfs", undefined, false);
    expect(back).not.toContain("lxc.rootfs.options");
    expect(back.startsWith(user)).toBe(true);
    expect(mode(back)).toEqual({ mode: "shift", ours: false });
  });

  it("a user's own option line is read as mount, never ours, and kept", () => {
    const user = "lxc.rootfs.options = ro,idmap=container\n";
    expect(mode(user)).toMatchObject({ mode: "mount", ours: false });
    expect(withRootfsPath(user, "dir:/c/rootfs", undefined, false)).toContain(user);
  });
});
