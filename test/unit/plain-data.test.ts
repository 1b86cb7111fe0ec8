/**
 * Requests, results and errors are plain data: JSON carries them between processes (the mount helper,
 * and next the agent of a remote host) without losing a class, a field or a message.
 */
import {
  AlreadyExists,
  CannotShrink,
  CutShort,
  errorFromJSON,
  errorToJSON,
  InUse,
  InvalidInput,
  NoSpace,
  PoolFull,
  NotFound,
  RootfsError,
  SyscallError,
  ToolFailed,
  Unsafe,
} from "../../provider/src/model/errors";
import { validateChange, validateRef, validateSpec } from "../../provider/src/api/validate";

const roundTrip = (e: unknown) => errorFromJSON(JSON.parse(JSON.stringify(errorToJSON(e))));

describe("errors survive JSON with their class, fields and message", () => {
  it.each([
    new InvalidInput("size", "64Q", "a whole number of bytes"),
    new InUse("/var/lib/lxc/web/rootdev", "attached to /dev/loop3"),
    new NoSpace("/var/lib/lxc/web (loop)", 2 ** 46, 2 ** 36),
    new PoolFull("lxc/pool", 2 ** 30, "sync -f /mnt failed (exit 1): Input/output error"),
    new CannotShrink("xfs", "xfs filesystems cannot be shrunk"),
    new CutShort("/var/lib/lxc/web/rootdev", 2 ** 25, 2 ** 26),
    new AlreadyExists("/var/lib/lxc/web/rootfs"),
    new NotFound("a rootfs for container web in /var/lib/lxc"),
    new ToolFailed(["mkfs.ext4", "-F", "/x"], 1, "mkfs.ext4: no space\n"),
    new Unsafe("refusing to touch /etc: it is outside /var/lib/lxc/web"),
    new SyscallError("mount", 16, "EBUSY", "/dev/loop3, /mnt"),
    new RootfsError("plain"),
  ])("%s", (original) => {
    const back = roundTrip(original);
    expect(back.constructor).toBe(original.constructor);
    expect(back).toBeInstanceOf(RootfsError);
    expect(back.name).toBe(original.name);
    expect(back.message).toBe(original.message);
    expect({ ...back }).toEqual({ ...original });
  });

  it("an error that is not ours comes back as a RootfsError with its message and errno code", () => {
    const e = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    const back = roundTrip(e);
    expect(back).toBeInstanceOf(RootfsError);
    expect(back.message).toBe("ENOENT: no such file");
    expect((back as unknown as { code: string }).code).toBe("ENOENT");
  });

  it.each(["__proto__", "constructor", "Object", "toString", "Error"])("the name %p never picks a prototype", (name) => {
    const back = errorFromJSON({ name, message: "m", polluted: true });
    expect(Object.getPrototypeOf(back)).toBe(RootfsError.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("requests are plain data", () => {
  it("a validated spec, ref and change round-trip through JSON unchanged", () => {
    const spec = validateSpec({
      container: "web",
      lxcPath: "/var/lib/lxc/",
      backingStore: "lvm",
      size: "2G",
      fstype: "xfs",
      vgName: "vg0",
    });
    const ref = validateRef({ container: "web", lxcPath: "/var/lib/lxc", rootfsPath: "lvm:/dev/vg0/web" });
    const change = validateChange({ backingStore: "loop", size: "1G" });
    for (const r of [spec, ref, change]) expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(spec).toEqual({ container: "web", lxcPath: "/var/lib/lxc", backingStore: "lvm", size: 2 ** 31, fstype: "xfs", vgName: "vg0" });
  });
});
