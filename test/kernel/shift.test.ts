/**
 * A shift of a rootfs's owners into an unprivileged container's id map, on the real kernel, through the
 * executor's shiftStore (what `idmap` drives). The busybox image on dir, loop and btrfs: shifted by 100000,
 * its tree is the image's manifest with every id moved (owners, ACL entries, the capability's root; device
 * nodes kept, setuid kept); shifted back, the image's manifest exactly; moved dir→loop→btrfs→dir, grown
 * and snapshotted, every id kept. The Debian image on loop, made by a create that takes the config's
 * lxc.idmap lines, boots unprivileged with lxc-start to systemd, root inside, su setuid and ping's
 * capability working.
 */
import { promises as fs } from "fs";
import path from "path";
import {
  createRootfs as create,
  createRootfsSnapshot,
  destroyRootfs as destroy,
  destroyRootfsSnapshot,
  updateRootfs as update,
} from "../../provider/src/api";
import { DRIVERS } from "../../provider/src/drivers";
import { makeContext } from "../../provider/src/executor/context";
import { shiftStore } from "../../provider/src/executor/shift";
import { Idmap, idmapOf } from "../../provider/src/model/idmap";
import { Fstype, Store } from "../../provider/src/model/requests";
import { mountScratchBtrfs, must, sh, tempDir, TEST_PREFIX, withImageMounted } from "../helpers/env";
import { imageFixtures, shiftedManifest, treeManifest } from "../helpers/images";
import { expectNoLeaks } from "../helpers/leaks";

const f = imageFixtures();
const PROXMOX = idmapOf([{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }]) as Idmap;
let lxcPath: string;
let bpath: string;
let btrfs: { dir: string; release(): Promise<void> };

beforeAll(async () => {
  lxcPath = await tempDir("shift");
  // Container root (host 100000) must reach the rootfs: every directory above it searchable by anyone. The
  // test's own are made so; one above them that is not is the machine's to fix, said here.
  for (let d = lxcPath; d !== path.dirname(d); d = path.dirname(d)) {
    const mode = (await fs.stat(d)).mode;
    if (d === TEST_PREFIX || d.startsWith(`${TEST_PREFIX}/`)) await fs.chmod(d, mode | 0o111);
    else if ((mode & 0o001) === 0) throw new Error(`${d} is not searchable by others: an unprivileged container cannot reach ${lxcPath}`);
  }
  btrfs = await mountScratchBtrfs("shift-btrfs", "1G");
  bpath = path.join(btrfs.dir, "lxc");
  await fs.mkdir(bpath);
});

afterEach(async () => {
  await expectNoLeaks(lxcPath);
  await expectNoLeaks(bpath);
});

afterAll(async () => {
  await sh(["lxc-stop", "-P", lxcPath, "-n", "deb", "-k"]);
  await btrfs?.release();
  await fs.rm(lxcPath, { recursive: true, force: true });
});

/** The store a create made, as the executor addresses it. */
function endOf(where: string, name: string, store: Store, fstype: Fstype | null) {
  const driver = DRIVERS[store];
  return { driver, loc: driver.locate({ container: name, lxcPath: where, backingStore: store }, path.join(where, name)), fstype };
}

describe("a rootfs shifted into an unprivileged map and back", () => {
  it.each([
    ["dir", "dir" as Store, null, {}],
    ["loop", "loop" as Store, "ext4" as Fstype, { size: 128 * 2 ** 20, fstype: "ext4" as const }],
    ["btrfs", "btrfs" as Store, null, {}],
  ])("on %s: every id moved, device nodes kept; back again, the image exactly", async (label, store, fstype, over) => {
    const where = store === "btrfs" ? bpath : lxcPath;
    const name = `shift-${label}`;
    await create({ container: name, lxcPath: where, backingStore: store, source: { url: f.busybox.tarball }, ...over }, {});
    const ctx = makeContext(path.join(where, name), {});
    const end = endOf(where, name, store, fstype);
    const inTree = <T>(fn: (root: string) => Promise<T>) =>
      store === "loop" ? withImageMounted(path.join(where, name, "rootdev"), where, fn) : fn(path.join(where, name, "rootfs"));
    const manifestOf = () => inTree(treeManifest);
    const image = await fs.readFile(f.busybox.manifest, "utf8");
    // Each inode once, hard links and all (lost+found included, which the manifest leaves out).
    const inodes = await inTree(async (root) => new Set((await must(["find", root, "-xdev", "-printf", "%i\\n"])).trim().split("\n")).size);

    const there = await shiftStore(ctx, end, null, PROXMOX);
    expect(there).toMatchObject({ lost: 0, inodes });
    expect(await manifestOf()).toBe(shiftedManifest(image));

    const back = await shiftStore(ctx, end, PROXMOX, null);
    expect(back).toMatchObject({ lost: 0, inodes });
    expect(await manifestOf()).toBe(image);
    await destroy({ container: name, lxcPath: where }, {});
  });
});

describe("ids a map leaves out", () => {
  it("go to the overflow id, their setuid and setgid bits off, and a capability whose root is lost goes", async () => {
    const name = "lost";
    await create({ container: name, lxcPath, backingStore: "dir", source: { url: f.busybox.tarball } }, {});
    const root = path.join(lxcPath, name, "rootfs");
    const setuid = path.join(root, "srv", "setuid-unmapped");
    const capped = path.join(root, "srv", "cap-unmapped");
    await fs.writeFile(setuid, "#!/bin/sh\n");
    await fs.chown(setuid, 70000, 70000);
    await fs.chmod(setuid, 0o6755);
    await fs.writeFile(capped, "#!/bin/sh\n");
    await must(["setcap", "-n", "800000", "cap_net_raw+ep", capped]);
    const shifted = await shiftStore(makeContext(path.join(lxcPath, name), {}), endOf(lxcPath, name, "dir", null), null, PROXMOX);
    // Container 70000 is outside the map: the file shows as nobody inside (host 165534), no longer setuid.
    expect(await must(["stat", "-c", "%u:%g %a", setuid])).toBe("165534:165534 755\n");
    // A capability for a namespace whose root host 800000 is, which neither map has: gone.
    expect(await sh(["getfattr", "-n", "security.capability", "--absolute-names", capped])).toMatchObject({ code: 1 });
    expect(await must(["stat", "-c", "%u:%g", capped])).toBe("100000:100000\n");
    expect(shifted.lost).toBe(3);
    await destroy({ container: name, lxcPath }, {});
  });
});

describe("a shifted rootfs", () => {
  it("keeps every id through moves dir→loop→btrfs→dir, a grow, and a snapshot", async () => {
    const ref = { container: "moves", lxcPath: bpath };
    await create({ ...ref, backingStore: "dir", source: { url: f.busybox.tarball } }, {});
    await shiftStore(makeContext(path.join(bpath, "moves"), {}), endOf(bpath, "moves", "dir", null), null, PROXMOX);
    // Holes not told: a file copy (cp --sparse=always) makes holes of the zeros the image wrote.
    const holesUntold = (m: string) => m.replace(/ hole=yes/g, "");
    const expected = holesUntold(shiftedManifest(await fs.readFile(f.busybox.manifest, "utf8")));
    const tree = async (store: Store) =>
      holesUntold(
        store === "loop"
          ? await withImageMounted(path.join(bpath, "moves", "rootdev"), bpath, treeManifest)
          : await treeManifest(path.join(bpath, "moves", "rootfs")),
      );
    expect(await tree("dir")).toBe(expected);
    for (const [change, store] of [
      [{ backingStore: "loop", size: 128 * 2 ** 20, fstype: "ext4" }, "loop"],
      [{ size: 192 * 2 ** 20 }, "loop"],
      [{ backingStore: "btrfs" }, "btrfs"],
      [{ backingStore: "dir" }, "dir"],
    ] as const) {
      await update(ref, change, {});
      expect(await tree(store)).toBe(expected);
    }
    await createRootfsSnapshot({ ...ref, name: "snap0" }, {});
    expect(holesUntold(await treeManifest(path.join(bpath, "moves", "snaps", "snap0", "rootfs")))).toBe(expected);
    await destroyRootfsSnapshot({ ...ref, name: "snap0" }, {});
    await destroy(ref, {});
  });
});

describe("an unprivileged container", () => {
  it("boots the Debian image on loop, made for it by a create that took the config's lxc.idmap: root inside, su setuid, ping's capability, systemd up", async () => {
    await fs.mkdir(path.join(lxcPath, "deb"));
    await fs.writeFile(
      path.join(lxcPath, "deb", "config"),
      [
        "lxc.include = /usr/share/lxc/config/debian.common.conf",
        "lxc.include = /usr/share/lxc/config/userns.conf",
        "lxc.idmap = u 0 100000 65536",
        "lxc.idmap = g 0 100000 65536",
        "lxc.uts.name = deb",
        // `none` would share the host's network namespace, where a user namespace cannot mount sysfs.
        "lxc.net.0.type = empty",
        "lxc.apparmor.profile = unconfined",
        "",
      ].join("\n"),
    );
    // The create takes the config's lxc.idmap lines: the image's owners shifted by 100000 before the swap.
    const made = await create(
      { container: "deb", lxcPath, backingStore: "loop", size: 512 * 2 ** 20, fstype: "ext4", source: { url: f.debian.xz } },
      {},
    );
    expect(made.idmap).toEqual([
      { kind: "uid", containerId: 0, hostId: 100000, size: 65536 },
      { kind: "gid", containerId: 0, hostId: 100000, size: 65536 },
    ]);
    const inside = (...argv: string[]) => must(["timeout", "120", "lxc-attach", "-P", lxcPath, "-n", "deb", "--", ...argv]);
    const log = path.join(lxcPath, "deb-start.log");
    const started = await sh(["lxc-start", "-P", lxcPath, "-n", "deb", "-d", "--logfile", log, "--logpriority", "INFO"]);
    if (started.code !== 0) throw new Error(`lxc-start failed: ${(await fs.readFile(log, "utf8")).split("\n").slice(-40).join("\n")}`);
    try {
      await must(["lxc-wait", "-P", lxcPath, "-n", "deb", "-s", "RUNNING", "-t", "60"]);
      let state = "";
      for (let i = 0; i < 120 && !/^(running|degraded)$/.test(state); i++) {
        state = (
          await sh(["timeout", "120", "lxc-attach", "-P", lxcPath, "-n", "deb", "--", "systemctl", "is-system-running", "--wait"])
        ).stdout.trim();
        if (!/^(running|degraded)$/.test(state)) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      expect(state).toMatch(/^(running|degraded)$/);
      expect(await inside("id", "-u")).toBe("0\n");
      expect(await inside("stat", "-c", "%u:%g %a", "/", "/usr/bin/su")).toBe("0:0 755\n0:0 4755\n");
      expect(await inside("getcap", "/usr/bin/ping")).toBe("/usr/bin/ping cap_net_raw=ep\n");
      // ping's capability works inside: a raw socket to loopback, which an unprivileged user lacks otherwise.
      expect(await inside("su", "-s", "/bin/sh", "nobody", "-c", "ping -c 1 -W 5 127.0.0.1 >/dev/null && echo pinged")).toBe("pinged\n");
      // A file made inside is the container root's, host 100000.
      await inside("touch", "/root/made-inside");
      const pid = (await must(["lxc-info", "-P", lxcPath, "-n", "deb", "-p", "-H"])).trim();
      expect((await fs.stat(`/proc/${pid}/root/root/made-inside`)).uid).toBe(100000);
    } finally {
      await must(["lxc-stop", "-P", lxcPath, "-n", "deb", "-k"]);
    }
    await destroy({ container: "deb", lxcPath }, {});
  });
});
