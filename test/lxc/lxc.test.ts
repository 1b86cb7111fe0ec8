/**
 * Real LXC (Debian's lxc, busybox template, no network): containers boot with lxc-execute from rootfs the
 * CLI made, and inspect reads rootfs made by lxc-create.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, must } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { boot, execute, seedFixture, SeedFixture, writeBootConfig } from "../helpers/lxc";

let fixture: SeedFixture;
let lxcPath: string;
let bpath: string;

beforeAll(async () => {
  fixture = await seedFixture("lxc");
  ({ lxcPath, bpath } = fixture);
}, 300000);

afterAll(() => fixture.release());

describe("LXC boots what lxc-rootfs made", () => {
  it.each([
    ["loop", ["--backing-store", "loop", "--size", "256M"], false],
    ["dir", ["--backing-store", "dir"], false],
    ["overlay", ["--backing-store", "overlay"], false],
    ["btrfs", ["--backing-store", "btrfs"], true],
  ] as Array<[string, string[], boolean]>)("%s", async (store, args, onBtrfs) => {
    const where = onBtrfs ? bpath : lxcPath;
    const name = `boot-${store}`;
    await writeBootConfig(path.join(lxcPath, "seed"), where, name);
    const out = await cliOk(["create", "--lxcpath", where, "--name", name, ...args, "--from", `dir:${lxcPath}/seed/rootfs`]);
    expect(out.backingStore).toBe(store);
    expect(await fs.readFile(path.join(where, name, "config"), "utf8")).toContain(`lxc.rootfs.path = ${out.rootfsPath}\n`);
    expect(await boot(where, name)).toBe(`booted ${name}\nseed data\n`);
    await expectNoLeaks(where);
    await cliOk(["destroy", "--lxcpath", where, "--name", name]);
    // LXC's own lines stay; ours names the removed storage, marked destroyed, so LXC refuses to start it
    // (without an lxc.rootfs.path it would run the container on the host's /).
    const config = await fs.readFile(path.join(where, name, "config"), "utf8");
    expect(config).toMatch(/lxc\.uts\.name = /);
    expect(config).toMatch(/\n# lxc-rootfs \(pulumi-lxc\) destroyed the rootfs this line names[^\n]*\nlxc\.rootfs\.path = [^\n]+\n$/);
    await expect(boot(where, name)).rejects.toThrow(/lxc-execute .* exited/);
    await fs.rm(path.join(where, name), { recursive: true });
  });

  it("boots again after the data moved from loop to dir and back", async () => {
    await writeBootConfig(path.join(lxcPath, "seed"), lxcPath, "mover");
    const b = ["--lxcpath", lxcPath, "--name", "mover"];
    await cliOk(["create", ...b, "--backing-store", "loop", "--size", "128M", "--from", `dir:${lxcPath}/seed/rootfs`]);
    await execute(lxcPath, "mover", "echo written-in-loop > /root/note");
    await cliOk(["update", ...b, "--backing-store", "dir"]);
    expect(await execute(lxcPath, "mover", "cat /root/note")).toBe("written-in-loop\n");
    await cliOk(["update", ...b, "--backing-store", "loop", "--fstype", "xfs", "--size", "320M"]);
    expect(await execute(lxcPath, "mover", "cat /root/note")).toBe("written-in-loop\n");
    await cliOk(["destroy", ...b]);
    await fs.rm(path.join(lxcPath, "mover"), { recursive: true });
  });
});

describe("inspect reads what lxc-create made", () => {
  it("lxc-create -B loop (an image of size+1 bytes)", async () => {
    await must(["lxc-create", "-P", lxcPath, "-n", "lx-loop", "-B", "loop", "--fssize", "128M", "--fstype", "ext4", "-t", "busybox"]);
    const out = await cliOk(["inspect", "--lxcpath", lxcPath, "--name", "lx-loop"]);
    expect(out).toMatchObject({
      backingStore: "loop",
      rootfsPath: `loop:${lxcPath}/lx-loop/rootdev`,
      fstype: "ext4",
      sizeBytes: 128 * 2 ** 20 + 1,
    });
    await must(["lxc-destroy", "-P", lxcPath, "-n", "lx-loop"]);
  });

  it("lxc-create -B dir", async () => {
    await must(["lxc-create", "-P", lxcPath, "-n", "lx-dir", "-B", "dir", "-t", "busybox"]);
    const out = await cliOk(["inspect", "--lxcpath", lxcPath, "--name", "lx-dir"]);
    expect(out).toMatchObject({ backingStore: "dir", rootfsPath: `dir:${lxcPath}/lx-dir/rootfs`, sizeBytes: null, managed: true });
    expect(out.allocatedBytes).toBeGreaterThan(0);
    await must(["lxc-destroy", "-P", lxcPath, "-n", "lx-dir"]);
  });

  it("lxc-create -B btrfs", async () => {
    await must(["lxc-create", "-P", bpath, "-n", "lx-btrfs", "-B", "btrfs", "-t", "busybox"]);
    const out = await cliOk(["inspect", "--lxcpath", bpath, "--name", "lx-btrfs"]);
    expect(out).toMatchObject({ backingStore: "btrfs", rootfsPath: `btrfs:${bpath}/lx-btrfs/rootfs`, fstype: "btrfs" });
    await must(["lxc-destroy", "-P", bpath, "-n", "lx-btrfs"]);
  });

  it("reports no rootfs for a container that has none", async () => {
    const r = await cli(["inspect", "--lxcpath", lxcPath, "--name", "nobody"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no rootfs for nobody/);
  });
});
