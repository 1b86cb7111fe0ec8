/**
 * The container config read as LXC reads it (issue 23, items 4, 8 and 10), through the real CLI and
 * against the real LXC: `lxc.rootfs.managed` in every spelling means to us what `lxc-info` says it means
 * to LXC, and so does `lxc.idmap`; destroy leaves no config LXC would start on the host's `/`; a `--rootfs-path` hint never names a
 * snapshot's storage or a volume that is not the container's own.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, must, sh, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { configuredIdmap, readContainerConfig } from "../../provider/src/host/lxc-config";
import { idmapLines } from "../../provider/src/model/idmap";

let lxcPath: string;
let seed: string;
/** A file only the host's `/` holds: a container that sees it runs on the host. */
let hostOnly: string;

beforeAll(async () => {
  lxcPath = await tempDir("config");
  await must(["lxc-create", "-P", lxcPath, "-n", "seed", "-t", "busybox"]);
  seed = path.join(lxcPath, "seed", "rootfs");
  hostOnly = path.join(lxcPath, "host-only");
  await fs.writeFile(hostOnly, "the host's own file\n");
}, 120000);
afterEach(() => expectNoLeaks(lxcPath));
afterAll(async () => {
  await fs.rm(lxcPath, { recursive: true, force: true });
});

const HEADER = "# lxc.rootfs.path is managed by lxc-rootfs (pulumi-lxc)";
const DESTROYED =
  "# lxc-rootfs (pulumi-lxc) destroyed the rootfs this line names: LXC will not start this container until it names another";
const containerDir = (name: string) => path.join(lxcPath, name);
const at = (name: string) => ["--lxcpath", lxcPath, "--name", name];

/** What LXC makes of the config: "0", "1", or "refused" when it will not load it. */
async function lxcManaged(name: string): Promise<string> {
  const r = await sh(["lxc-info", "-P", lxcPath, "-n", name, "-c", "lxc.rootfs.managed"]);
  if (r.code !== 0) return "refused";
  return r.stdout.replace(/^lxc\.rootfs\.managed = /, "").trim();
}

describe("lxc.rootfs.managed means to destroy what it means to LXC", () => {
  // Each case: the config's lines after our lxc.rootfs.path, files to include (name → text), and what LXC says.
  const cases: Array<[string, string, Record<string, string>, "0" | "1" | "refused" | "as LXC"]> = [
    ["0", "lxc.rootfs.managed = 0\n", {}, "0"],
    ["00 (octal)", "lxc.rootfs.managed = 00\n", {}, "0"],
    ["0x0 (hex)", "lxc.rootfs.managed = 0x0\n", {}, "0"],
    ["000", "lxc.rootfs.managed = 000\n", {}, "0"],
    ["+0, quoted, tabs", 'lxc.rootfs.managed\t=\t"+0"\t\n', {}, "0"],
    ["= 0 in an included file", "lxc.include = INC/managed.conf\n", { "managed.conf": "lxc.rootfs.managed = 0\n" }, "0"],
    [
      "= 0 in an included directory (only its *.conf)",
      "lxc.include = INC\n",
      { "50-x.conf": "lxc.rootfs.managed = 0\n", "x.txt": "lxc.rootfs.managed = 1\n" },
      "0",
    ],
    [
      "an included directory, its *.conf in readdir order",
      "lxc.include = INC/\n",
      { "10-a.conf": "lxc.rootfs.managed = 0\n", "20-b.conf": "lxc.rootfs.managed = 1\n", "30-c.conf": "lxc.rootfs.managed = 0\n" },
      "as LXC",
    ],
    ["a \\r splits a line", "lxc.rootfs.managed = 1\rlxc.rootfs.managed = 0\n", {}, "0"],
    ["nothing after a NUL is read", "lxc.rootfs.managed = 0\n\0lxc.rootfs.managed = 1\n", {}, "0"],
    ["a comment is no setting", "lxc.rootfs.managed = 0\n  # lxc.rootfs.managed = 1\n", {}, "0"],
    ["01", "lxc.rootfs.managed = 01\n", {}, "1"],
    ["an empty value resets to managed", "lxc.rootfs.managed = 0\nlxc.rootfs.managed =\n", {}, "1"],
    ["false", "lxc.rootfs.managed = false\n", {}, "refused"],
    ["no", "lxc.rootfs.managed = no\n", {}, "refused"],
    ["2", "lxc.rootfs.managed = 2\n", {}, "refused"],
    ["-0", "lxc.rootfs.managed = -0\n", {}, "refused"],
    ["08 (not octal)", "lxc.rootfs.managed = 08\n", {}, "refused"],
    [
      "false in an included file, after a 0",
      "lxc.rootfs.managed = 0\nlxc.include = INC/bad.conf\n",
      { "bad.conf": "lxc.rootfs.managed = false\n" },
      "refused",
    ],
    ["a missing included file", "lxc.rootfs.managed = 0\nlxc.include = INC/missing.conf\n", {}, "refused"],
  ];

  it.each(cases)("%s", async (label, lines, included, expected) => {
    const name = `m-${cases.findIndex((c) => c[0] === label)}`;
    const dir = containerDir(name);
    const inc = path.join(lxcPath, `${name}-inc`);
    await fs.mkdir(path.join(dir, "rootfs", "etc"), { recursive: true });
    await fs.writeFile(path.join(dir, "rootfs", "etc", "data"), "the data\n");
    await fs.mkdir(inc);
    // Written in this order: a directory's readdir order is the filesystem's, not the names'.
    for (const [file, text] of Object.entries(included)) await fs.writeFile(path.join(inc, file), text);
    await fs.writeFile(
      path.join(dir, "config"),
      `lxc.uts.name = ${name}\nlxc.rootfs.path = dir:${dir}/rootfs\n${lines.replace(/INC/g, inc)}`,
    );
    const before = await treeDigest(path.join(dir, "rootfs"));

    const lxc = await lxcManaged(name);
    if (expected !== "as LXC") expect(lxc).toBe(expected);
    const r = await cli(["destroy", ...at(name)]);
    if (lxc === "refused") {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^lxc-rootfs: refusing to use \S+\/config: .*nothing was changed\n$/);
      expect(r.stderr.split("\n")).toHaveLength(2);
    } else {
      expect(r.code).toBe(0);
      expect(r.json?.destroyed).toBe(lxc === "1");
    }
    if (lxc === "1") await expect(fs.lstat(path.join(dir, "rootfs"))).rejects.toThrow(/ENOENT/);
    else expect(await treeDigest(path.join(dir, "rootfs"))).toBe(before);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(inc, { recursive: true, force: true });
  });

  it.each([
    ["includes itself", (dir: string) => `lxc.include = ${dir}/config\n`, /includes nest deeper than 16 files/],
    ["a relative include", () => "lxc.include = managed.conf\n", /includes managed\.conf, a relative path/],
    ["a symlinked include", (dir: string) => `lxc.include = ${dir}/link.conf\n`, /includes \S+link\.conf, a symbolic link/],
    ["a line LXC cannot parse", () => "lxc.rootfs.managed\n", /has a line with no "="/],
  ])("a config read otherwise than LXC would is refused: %s", async (_label, lines, why) => {
    const dir = containerDir("m-odd");
    await fs.mkdir(path.join(dir, "rootfs"), { recursive: true });
    await fs.writeFile(path.join(lxcPath, "managed.conf"), "lxc.rootfs.managed = 0\n");
    await fs.symlink(path.join(lxcPath, "managed.conf"), path.join(dir, "link.conf"));
    await fs.writeFile(path.join(dir, "config"), `lxc.rootfs.path = dir:${dir}/rootfs\n${lines(dir)}`);
    const r = await cli(["destroy", ...at("m-odd")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^lxc-rootfs: refusing to use ${dir}/config: LXC could not load it \\(.*\\); nothing was changed\n$`),
    );
    expect(r.stderr).toMatch(why);
    expect(await fs.readdir(path.join(dir, "rootfs"))).toEqual([]);
    await fs.rm(dir, { recursive: true });
  });

  it("names the file and the value LXC rejects", async () => {
    const dir = containerDir("m-named");
    await fs.mkdir(path.join(dir, "rootfs"), { recursive: true });
    await fs.writeFile(path.join(dir, "config"), `lxc.rootfs.path = dir:${dir}/rootfs\nlxc.rootfs.managed = no\n`);
    const r = await cli(["inspect", ...at("m-named")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lxc-rootfs: refusing to use ${dir}/config: LXC rejects lxc.rootfs.managed = "no" in ${dir}/config (it takes 0 or 1) ` +
        "and will not load the config; nothing was changed\n",
    );
    await fs.rm(dir, { recursive: true });
  });
});

describe("destroy leaves no config LXC would start on the host's /", () => {
  /** Runs a command in the container with lxc-execute: what it printed, and whether it ran at all. */
  async function execute(name: string): Promise<{ code: number; stdout: string }> {
    const probe = `test -e ${hostOnly} && echo on-the-host || echo in-a-rootfs`;
    const r = await sh(["timeout", "60", "lxc-execute", "-P", lxcPath, "-n", name, "--", "/bin/sh", "-c", probe], { input: "" });
    return { code: r.code, stdout: r.stdout };
  }

  it.each([
    ["dir", ["--backing-store", "dir", "--from", "SEED"], "dir:DIR/rootfs"],
    ["loop", ["--backing-store", "loop", "--size", "64M", "--from", "SEED"], "loop:DIR/rootdev"],
    // LXC re-makes a missing upper layer and boots the lower one: the line left names the upper as dir:.
    ["overlay", ["--backing-store", "overlay", "--from", "dir:SEED"], "dir:DIR/overlay/delta"],
  ])("%s: LXC refuses to start it; inspect sees no rootfs; create makes a new one", async (store, args, left) => {
    const name = `boot-${store}`;
    const dir = containerDir(name);
    await fs.mkdir(dir);
    // Lines of the admin's own, which stay: a container LXC can run without a tty.
    const own = `lxc.uts.name = ${name}\nlxc.net.0.type = none\nlxc.console.path = none\n`;
    await fs.writeFile(path.join(dir, "config"), own);
    const flags = args.map((a) => a.replace("SEED", seed));
    await cliOk(["create", ...at(name), ...flags]);
    expect((await execute(name)).stdout).toBe("in-a-rootfs\n");

    expect(await cliOk(["destroy", ...at(name)])).toEqual({ destroyed: true });
    const ran = await execute(name);
    expect(ran.stdout).toBe("");
    expect(ran.code).not.toBe(0);
    expect(await fs.readFile(path.join(dir, "config"), "utf8")).toBe(
      `${own}\n${DESTROYED}\nlxc.rootfs.path = ${left.replace("DIR", dir)}\n`,
    );
    expect((await cli(["inspect", ...at(name)])).stderr).toBe(`lxc-rootfs: no rootfs for ${name} in ${lxcPath}\n`);

    const again = await cliOk(["create", ...at(name), ...flags]);
    expect(await fs.readFile(path.join(dir, "config"), "utf8")).toBe(`${own}\n${HEADER}\nlxc.rootfs.path = ${again.rootfsPath}\n`);
    expect((await execute(name)).stdout).toBe("in-a-rootfs\n");
    await cliOk(["destroy", ...at(name)]);
    await fs.rm(dir, { recursive: true });
  });

  it("a config holding only our lines goes, with the container directory", async () => {
    await cliOk(["create", ...at("ours-only"), "--backing-store", "dir"]);
    expect(await cliOk(["destroy", ...at("ours-only")])).toEqual({ destroyed: true });
    await expect(fs.lstat(containerDir("ours-only"))).rejects.toThrow(/ENOENT/);
  });
});

describe("a --rootfs-path hint names only this container's own store", () => {
  it("update with a snapshot's storage as the hint leaves the snapshot alone", async () => {
    const name = "hinted";
    const dir = containerDir(name);
    await fs.mkdir(path.join(lxcPath, "tree", "etc"), { recursive: true });
    await fs.writeFile(path.join(lxcPath, "tree", "etc", "data"), "the container's data\n");
    await cliOk(["create", ...at(name), "--backing-store", "dir", "--from", `dir:${lxcPath}/tree`]);
    await cliOk(["snapshot", ...at(name), "--snapshot", "s1"]);
    const snap = path.join(dir, "snaps", "s1", "rootfs");
    const snapDigest = await treeDigest(snap);
    // The config's line gone, as a hand edit would leave it.
    const config = path.join(dir, "config");
    await fs.writeFile(config, (await fs.readFile(config, "utf8")).replace(/^lxc\.rootfs\.path.*\n/m, ""));

    const r = await cli(["update", ...at(name), "--rootfs-path", `dir:${snap}`, "--backing-store", "loop", "--size", "64M"]);
    expect(await treeDigest(snap)).toBe(snapDigest);
    expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", name, "-L"])).toMatch(/^s1 \(/m);
    expect(r.stderr).toMatch(/ignoring rootfsPath dir:\S+\/snaps\/s1\/rootfs: it is not where container hinted's own dir rootfs would be/);
    // What moved, if anything did, is the container's own rootfs, found under LXC's name.
    if (r.code === 0) expect(r.json?.rootfsPath).toBe(`loop:${dir}/rootdev`);
    await fs.rm(dir, { recursive: true });
  });

  it("destroy with a pool or another container's volume as the hint issues no zfs or lvm command", async () => {
    const bin = await tempDir("config-tools");
    const calls = path.join(bin, "calls");
    for (const tool of ["zfs", "lvs", "lvremove", "vgs"]) {
      await fs.writeFile(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${calls}\nexit 1\n`, { mode: 0o755 });
    }
    const env = { PATH: `${bin}:${process.env.PATH}` };
    for (const hint of ["zfs:rpool", "zfs:rpool/lxc", "zfs:rpool/lxc/other", "zfs:rpool/lxc/empty-lxcrootfs-old", "lvm:/dev/vg0/other"]) {
      await fs.mkdir(containerDir("empty"), { recursive: true });
      const r = await cli(["destroy", ...at("empty"), "--rootfs-path", hint], env);
      expect([hint, r.code, r.json]).toEqual([hint, 0, { destroyed: false, reason: "no rootfs found" }]);
    }
    await expect(fs.readFile(calls, "utf8")).rejects.toThrow(/ENOENT/);
    // The container's own dataset and LV are looked for (the stand-ins say they are not there).
    for (const hint of ["zfs:rpool/lxc/empty", "lvm:/dev/vg0/empty"]) {
      await fs.mkdir(containerDir("empty"), { recursive: true });
      expect((await cli(["destroy", ...at("empty"), "--rootfs-path", hint], env)).json).toEqual({
        destroyed: false,
        reason: "no rootfs found",
      });
    }
    expect(await fs.readFile(calls, "utf8")).toBe("zfs list -H -o name rpool/lxc/empty\nlvs --noheadings -o lv_name vg0/empty\n");
    await fs.rm(bin, { recursive: true });
  });
});

describe("lxc.idmap means to the rootfs what it means to LXC", () => {
  // Each case: the config's idmap lines, files to include (name → text); LXC's own reading is the answer.
  const cases: Array<[string, string, Record<string, string>]> = [
    ["none: privileged", "", {}],
    ["Proxmox's", "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n", {}],
    ["hex, octal, +, tabs and quotes", 'lxc.idmap = u 0 0x186a0 0200000\nlxc.idmap\t=\t"g  0 100000 +65536"\n', {}],
    [
      "passthrough of 1000",
      "lxc.idmap = u 0 100000 1000\nlxc.idmap = u 1000 1000 1\nlxc.idmap = u 1001 101001 64535\nlxc.idmap = g 0 100000 65536\n",
      {},
    ],
    [
      "an empty one in an include clears those before it",
      "lxc.idmap = u 0 100000 65536\nlxc.include = INC/map.conf\nlxc.idmap = g 0 200000 1000\n",
      { "map.conf": "lxc.idmap =\nlxc.idmap = u 0 200000 1000\n" },
    ],
    ["b, which LXC has not", "lxc.idmap = b 0 100000 65536\n", {}],
    ["a missing size", "lxc.idmap = u 0 100000\n", {}],
    ["a negative id", "lxc.idmap = u -1 100000 65536\n", {}],
  ];
  it.each(cases)("%s", async (label, lines, include) => {
    const name = `idmap-${cases.findIndex((c) => c[0] === label)}`;
    const inc = path.join(lxcPath, `${name}-inc`);
    await fs.mkdir(inc, { recursive: true });
    for (const [file, text] of Object.entries(include)) await fs.writeFile(path.join(inc, file), text);
    await fs.mkdir(containerDir(name), { recursive: true });
    await fs.writeFile(path.join(containerDir(name), "config"), `lxc.uts.name = ${name}\n${lines.replaceAll("INC", inc)}`);
    const r = await sh(["lxc-info", "-P", lxcPath, "-n", name, "-c", "lxc.idmap"]);
    const lxc =
      r.code !== 0
        ? "refused"
        : r.stdout
            .replace(/^lxc\.idmap =\s?/, "")
            .split("\n")
            .filter(Boolean)
            .sort();
    const ours = await readContainerConfig(containerDir(name))
      .then((config) => idmapLines(configuredIdmap(config)).sort())
      .catch((e: Error) => (/^refusing to use .*config: lxc\.idmap: invalid value/.test(e.message) ? "refused" : e.message));
    expect(ours).toEqual(lxc);
    await fs.rm(containerDir(name), { recursive: true });
    await fs.rm(inc, { recursive: true });
  });

  it("a map LXC loads but the kernel will not take (ranges that overlap) is refused, naming the file", async () => {
    await fs.mkdir(containerDir("overlap"), { recursive: true });
    await fs.writeFile(
      path.join(containerDir("overlap"), "config"),
      "lxc.idmap = u 0 100000 65536\nlxc.idmap = u 1000 1000 1\nlxc.idmap = g 0 100000 65536\n",
    );
    expect((await sh(["lxc-info", "-P", lxcPath, "-n", "overlap", "-c", "lxc.idmap"])).code).toBe(0);
    await expect(readContainerConfig(containerDir("overlap")).then(configuredIdmap)).rejects.toThrow(
      new RegExp(
        `^refusing to use ${containerDir("overlap")}/config: lxc\\.idmap: invalid value "u 1000 1000 1": .*shares container ids 1000 to 1000 with "u 0 100000 65536"`,
      ),
    );
    await fs.rm(containerDir("overlap"), { recursive: true });
  });
});
