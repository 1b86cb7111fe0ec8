/**
 * A journal is untrusted input (issue 23, items 1, 2 and 12). Crafted swap and snapshot journals, each
 * naming what the container does not own (an outside directory or btrfs subvolume, a snapshot's storage,
 * the live rootfs, a pool's root, another volume), or holding a line break, a bad store or phase, wrong
 * types or bad JSON: inspect, update, destroy and snapshot-destroy each refuse, in one line naming the
 * file, and nothing moves. The realistic case: an update killed with its old rootfs parked, then the
 * container directory copied with `cp -a`; the copy refuses, the original still recovers whole. A journal
 * of the previous format (no identity) is still recovered. And snapshot-destroy refuses a snapshot's
 * storage before it unlists the snapshot, never after.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, mountScratchBtrfs, must, startCli, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks, loopsDetached } from "../helpers/leaks";

let base: string;
let lxcPath: string;
let seed: string;
let seedDigest: string;
let victim: string;
let victimDigest: string;
/** Stand-ins for the LVM and ZFS tools: they log their argv and fail (no such volume). */
let bin: string;
let toolLog: string;
let btrfs: { dir: string; release(): Promise<void> };
let subvol: string;
let subvolDigest: string;

beforeAll(async () => {
  base = await tempDir("journals");
  lxcPath = path.join(base, "lxc");
  await fs.mkdir(lxcPath);
  seed = path.join(base, "seed");
  await smallTree(seed, "the container's data");
  seedDigest = await treeDigest(seed);
  victim = path.join(base, "victim");
  await smallTree(victim, "outside data");
  victimDigest = await treeDigest(victim);
  bin = path.join(base, "bin");
  toolLog = path.join(base, "tools.log");
  await fs.mkdir(bin);
  for (const tool of ["lvs", "vgs", "lvremove", "lvrename", "lvcreate", "zfs"]) {
    await fs.writeFile(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${toolLog}"\necho "not found" >&2\nexit 5\n`, {
      mode: 0o755,
    });
  }
  // A subvolume outside every container: what a crafted journal must never delete.
  btrfs = await mountScratchBtrfs("journals-btrfs", "256M");
  // Named as the temporary name of a `btrfs:<mnt>/victim` would be: what a swap journal's `built` derives to.
  subvol = path.join(btrfs.dir, "victim.lxc-rootfs-new");
  await must(["btrfs", "subvolume", "create", subvol]);
  await fs.writeFile(path.join(subvol, "data"), "outside data\n");
  subvolDigest = await treeDigest(subvol);
}, 60000);

afterEach(() => expectNoLeaks(base));

afterAll(async () => {
  await btrfs?.release();
  await fs.rm(base, { recursive: true, force: true });
});

/** A few files, a hard link, a symlink and an odd mode: small, so that every case can digest it twice. */
async function smallTree(root: string, text: string): Promise<void> {
  await fs.mkdir(path.join(root, "etc"), { recursive: true });
  await fs.writeFile(path.join(root, "etc", "marker"), `${text}\n`);
  await fs.writeFile(path.join(root, "etc", "secret"), "0600\n", { mode: 0o600 });
  await fs.link(path.join(root, "etc", "marker"), path.join(root, "etc", "marker.hardlink"));
  await fs.symlink("/etc/marker", path.join(root, "marker.symlink"));
  await fs.writeFile(path.join(root, "data.bin"), Buffer.alloc(256 * 1024, 7));
}

const b = (where: string, name: string) => ["--lxcpath", where, "--name", name];
const env = () => ({ PATH: `${bin}:${process.env.PATH}` });

/** A dir container with a snapshot s1, and its identity as a journal of this version records it. */
async function container(name: string, where = lxcPath): Promise<{ dir: string; identity: object }> {
  await cliOk(["create", ...b(where, name), "--backing-store", "dir", "--from", `dir:${seed}`]);
  await cliOk(["snapshot", ...b(where, name), "--snapshot", "s1"]);
  const dir = path.join(where, name);
  const st = await fs.stat(dir, { bigint: true });
  return { dir, identity: { path: dir, dev: st.dev.toString(), ino: st.ino.toString() } };
}

async function plant(dir: string, file: string, content: string): Promise<string> {
  await fs.mkdir(path.join(dir, ".lxc-rootfs"), { recursive: true, mode: 0o700 });
  const p = path.join(dir, ".lxc-rootfs", file);
  await fs.writeFile(p, content, { mode: 0o600 });
  return p;
}

/** Everything a container directory holds that a refusal must leave as it was. */
async function state(dir: string): Promise<{ entries: string[]; config: string; rootfs: string; snapshot: string }> {
  return {
    entries: (await fs.readdir(dir, { recursive: true })).map(String).sort(),
    config: await fs.readFile(path.join(dir, "config"), "utf8"),
    rootfs: await treeDigest(path.join(dir, "rootfs")),
    snapshot: await treeDigest(path.join(dir, "snaps", "s1", "rootfs")),
  };
}

/**
 * Each of the four refuses in one line naming the journal; nothing of the container or outside changes.
 * What was damaged is checked first: on the code before the fix, that is what a case fails on.
 */
async function expectRefusedEverywhere(name: string, dir: string, journal: string, why: RegExp): Promise<void> {
  const before = await state(dir);
  await fs.rm(toolLog, { force: true });
  for (const args of [["inspect"], ["update", "--backing-store", "dir"], ["destroy"], ["snapshot-destroy", "--snapshot", "s1"]]) {
    const r = await cli([args[0], ...b(lxcPath, name), ...args.slice(1)], env());
    expect({ args, victim: await treeDigest(victim), subvolume: await treeDigest(subvol) }).toEqual({
      args,
      victim: victimDigest,
      subvolume: subvolDigest,
    });
    expect({ args, state: await state(dir) }).toEqual({ args, state: before });
    // No LVM or ZFS command that changes anything was issued.
    const tools = await fs.readFile(toolLog, "utf8").catch(() => "");
    expect(tools).not.toMatch(/lvremove|lvrename|lvcreate|zfs (destroy|rename|set|create|clone)/);
    expect({ args, code: r.code }).toEqual({ args, code: 1 });
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`lxc-rootfs: refusing to act on the journal ${journal}: `);
    expect(lines[0]).toMatch(why);
    expect(lines[0]).toMatch(/Nothing was changed\. .*move it away by hand/);
  }
  // Once it is moved away, as the message says, the container works again.
  await fs.rename(journal, `${journal}.refused`);
  await cliOk(["inspect", ...b(lxcPath, name)]);
  await cliOk(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "s1"]);
  await cliOk(["destroy", ...b(lxcPath, name)]);
}

/** A location as the previous version wrote it into its journal. */
const v1loc = (rootfsPath: string) => {
  const [store, ...rest] = rootfsPath.split(":");
  return { store, rootfsPath, path: rest.join(":"), localRoot: rest.join(":") };
};

describe("crafted swap journals are refused", () => {
  const cases: Array<[string, (c: string, identity: object) => string, RegExp]> = [
    [
      "an outside directory as the new rootfs (this version's format)",
      (c, identity) =>
        JSON.stringify({
          version: 2,
          container: identity,
          phase: "building",
          newFinal: `dir:${victim}`,
          built: `dir:${victim}.lxc-rootfs-new`,
        }),
      /its newFinal dir:\S+victim: \S+victim is outside/,
    ],
    [
      "an outside directory as the parked old rootfs, to be deleted (the previous format)",
      (c) =>
        JSON.stringify({
          phase: "cleanup",
          built: v1loc(`dir:${c}/rootdev.lxc-rootfs-new`),
          newFinal: v1loc(`dir:${c}/rootdev`),
          oldFinal: v1loc(`dir:${c}/rootfs`),
          oldParked: v1loc(`dir:${victim}`),
        }),
      /its oldParked "dir:\S+victim" is not the temporary name dir:\S+rootfs\.lxc-rootfs-old derived from it/,
    ],
    [
      "an outside directory as the old rootfs, to be moved in (the previous format)",
      (c) =>
        JSON.stringify({
          phase: "swapping",
          built: v1loc(`dir:${c}/rootdev.lxc-rootfs-new`),
          newFinal: v1loc(`dir:${c}/rootdev`),
          oldFinal: v1loc(`dir:${victim}`),
          oldParked: v1loc(`dir:${victim}.lxc-rootfs-old`),
        }),
      /its oldFinal dir:\S+victim: \S+victim is outside/,
    ],
    [
      "an outside btrfs subvolume, half built",
      (c, identity) =>
        JSON.stringify({
          version: 2,
          container: identity,
          phase: "building",
          newFinal: `btrfs:${btrfs.dir}/victim`,
          built: `btrfs:${subvol}`,
        }),
      /its newFinal btrfs:\S+\/victim: \S+\/victim is outside/,
    ],
    [
      "a snapshot's storage as the old rootfs",
      (c, identity) =>
        JSON.stringify({
          version: 2,
          container: identity,
          phase: "cleanup",
          newFinal: `dir:${c}/rootfs`,
          oldFinal: `dir:${c}/snaps/s1/rootfs`,
        }),
      /its oldFinal dir:\S+\/snaps\/s1\/rootfs: \S+\/snaps\/s1\/rootfs is not a rootfs of \S+ \(its config, its snapshots or the work directory\)/,
    ],
    [
      "a line break in a rootfs string (a hook smuggled into the config)",
      (c, identity) =>
        JSON.stringify({
          version: 2,
          container: identity,
          phase: "swapping",
          newFinal: `dir:${c}/rootfs\nlxc.hook.pre-start = /tmp/evil.sh`,
        }),
      /it holds a line break or NUL in "dir:.*\\nlxc\.hook\.pre-start = \/tmp\/evil\.sh"/,
    ],
    [
      "a pool's root dataset",
      (c, identity) => JSON.stringify({ version: 2, container: identity, phase: "building", newFinal: "zfs:rpool" }),
      /zfs:rpool is a pool's root dataset/,
    ],
    [
      "another container's volume",
      (c, identity) => JSON.stringify({ version: 2, container: identity, phase: "building", newFinal: "lvm:/dev/vg0/other" }),
      /lvm:\/dev\/vg0\/other is a volume neither named for \S+ nor named by its config or the request/,
    ],
    [
      "an unknown store",
      () =>
        JSON.stringify({
          phase: "building",
          built: { store: "nfs", rootfsPath: "nfs:/x.lxc-rootfs-new" },
          newFinal: { store: "nfs", rootfsPath: "nfs:/x" },
        }),
      /its newFinal "nfs:\/x" is not a rootfs string of a known store/,
    ],
    [
      "a store that is not the one its rootfs string names",
      (c) =>
        JSON.stringify({
          phase: "building",
          built: v1loc(`dir:${c}/rootfs.lxc-rootfs-new`),
          newFinal: { ...v1loc(`dir:${c}/rootfs`), store: "lvm" },
        }),
      /its newFinal says store "lvm" for "dir:/,
    ],
    [
      "an unknown phase",
      (c, identity) => JSON.stringify({ version: 2, container: identity, phase: "done", newFinal: `dir:${c}/rootfs` }),
      /its phase "done" is not one of building, swapping, cleanup/,
    ],
    [
      "wrong types",
      (c, identity) => JSON.stringify({ version: 2, container: identity, phase: "building", newFinal: 42 }),
      /its newFinal is not a rootfs string/,
    ],
    ["malformed JSON", () => '{"phase": "building", "newFinal": ', /it is not valid JSON/],
    ["a JSON array", () => "[]", /it is not a JSON object/],
    [
      "an unknown version",
      (c, identity) => JSON.stringify({ version: 3, container: identity, phase: "building" }),
      /its version 3 is not one/,
    ],
    [
      "no container directory",
      (c) => JSON.stringify({ version: 2, phase: "building", newFinal: `dir:${c}/rootfs` }),
      /it does not name the container directory it was written for/,
    ],
  ];
  it.each(cases)("%s", async (what, journal, why) => {
    const name = `swap-${cases.findIndex((x) => x[0] === what)}`;
    const { dir, identity } = await container(name);
    const file = await plant(dir, "journal.json", journal(dir, identity));
    await expectRefusedEverywhere(name, dir, file, why);
  });
});

describe("crafted snapshot journals are refused", () => {
  const cases: Array<[string, (c: string, identity: object) => object, RegExp]> = [
    [
      "an outside btrfs subvolume",
      (c, identity) => ({ version: 2, container: identity, snapshot: "s2", storage: `btrfs:${subvol}` }),
      /it names for the snapshot s2 btrfs:\S+, storage outside \S+snaps\/s2 \(\S+ is outside/,
    ],
    [
      "the container's own rootfs",
      (c, identity) => ({ version: 2, container: identity, snapshot: "s2", storage: `dir:${c}/rootfs` }),
      /it names for the snapshot s2 dir:\S+\/rootfs, storage outside \S+snaps\/s2 \(\S+rootfs is outside/,
    ],
    [
      "the container's own volume",
      (c, identity) => ({ version: 2, container: identity, snapshot: "s2", storage: `lvm:/dev/vg0/${path.basename(c)}` }),
      /lvm:\/dev\/vg0\/snap-2, the container's own rootfs, not a snapshot's/,
    ],
    [
      "a volume of another name",
      (c, identity) => ({ version: 2, container: identity, snapshot: "s2", storage: "lvm:/dev/vg0/data" }),
      /lvm:\/dev\/vg0\/data, a volume that is not a snapshot of this name \(s2\)/,
    ],
    [
      "a directory outside snaps/ (the previous format)",
      () => ({ snapDir: victim, loc: v1loc(`dir:${victim}/etc`) }),
      /its snapDir "\S+victim" is not a directory of/,
    ],
    [
      "a name that climbs out",
      (c, identity) => ({ version: 2, container: identity, snapshot: "..", storage: `dir:${c}/rootfs` }),
      /"\.\." is not a snapshot's name/,
    ],
  ];
  it.each(cases)("%s", async (what, journal, why) => {
    const name = `snap-${cases.findIndex((x) => x[0] === what)}`;
    const { dir, identity } = await container(name);
    await fs.mkdir(path.join(dir, "snaps", "s2"));
    const file = await plant(dir, "snapshot.json", JSON.stringify(journal(dir, identity)));
    await expectRefusedEverywhere(name, dir, file, why);
  });

  it("a snapshot's storage that is a symbolic link out", async () => {
    const name = "snap-link";
    const { dir, identity } = await container(name);
    await fs.mkdir(path.join(dir, "snaps", "s2"));
    await fs.symlink(victim, path.join(dir, "snaps", "s2", "rootfs"));
    const file = await plant(
      dir,
      "snapshot.json",
      JSON.stringify({ version: 2, container: identity, snapshot: "s2", storage: `dir:${dir}/snaps/s2/rootfs` }),
    );
    await expectRefusedEverywhere(name, dir, file, /snaps\/s2\/rootfs is a symbolic link/);
  });
});

describe("a committed swap from a volume of another name (LVM stand-ins)", () => {
  /** lvs finds only `present`; lvremove and lvrename log what they would change. */
  async function standIns(name: string, present: string): Promise<{ env: NodeJS.ProcessEnv; log: string }> {
    const dir = path.join(base, `bin-${name}`);
    const log = path.join(dir, "log");
    await fs.mkdir(dir);
    const script = (body: string) => `#!/bin/sh\necho "$(basename "$0") $*" >> "${log}"\n${body}\n`;
    await fs.writeFile(path.join(dir, "lvs"), script(`for a; do last="$a"; done\n[ "$last" = "${present}" ] && exit 0\nexit 5`), {
      mode: 0o755,
    });
    for (const tool of ["lvremove", "lvrename"]) await fs.writeFile(path.join(dir, tool), script("exit 0"), { mode: 0o755 });
    return { env: { PATH: `${dir}:${process.env.PATH}` }, log };
  }

  it("clean-up: only the parked name of the old volume is removed", async () => {
    const { dir, identity } = await container("committed");
    const { env, log } = await standIns("committed", "vg0/custom_lxcrootfs_old");
    const file = await plant(
      dir,
      "journal.json",
      JSON.stringify({ version: 2, container: identity, phase: "cleanup", newFinal: `dir:${dir}/rootfs`, oldFinal: "lvm:/dev/vg0/custom" }),
    );
    const r = await cli(["inspect", ...b(lxcPath, "committed")], env);
    expect(r.code).toBe(0);
    expect((await fs.readFile(log, "utf8")).split("\n").filter((l) => /^lv(remove|rename)/.test(l))).toEqual([
      "lvremove --yes --force vg0/custom_lxcrootfs_old",
    ]);
    await expect(fs.lstat(file)).rejects.toThrow(/ENOENT/);
    expect(await treeDigest(path.join(dir, "rootfs"))).toBe(seedDigest);
    await cliOk(["snapshot-destroy", ...b(lxcPath, "committed"), "--snapshot", "s1"]);
    await cliOk(["destroy", ...b(lxcPath, "committed")]);
  });

  it("not committed (the config not yet on the new store): refused, nothing renamed", async () => {
    const { dir, identity } = await container("uncommitted");
    const { env, log } = await standIns("uncommitted", "vg0/custom_lxcrootfs_old");
    const file = await plant(
      dir,
      "journal.json",
      JSON.stringify({
        version: 2,
        container: identity,
        phase: "swapping",
        newFinal: `dir:${dir}/rootfs.x`,
        oldFinal: "lvm:/dev/vg0/custom",
      }),
    );
    const r = await cli(["inspect", ...b(lxcPath, "uncommitted")], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/its oldFinal lvm:\/dev\/vg0\/custom: lvm:\/dev\/vg0\/custom is a volume neither named for uncommitted/);
    expect(await fs.readFile(log, "utf8").catch(() => "")).not.toMatch(/lvremove|lvrename/);
    await fs.rm(file);
    await cliOk(["snapshot-destroy", ...b(lxcPath, "uncommitted"), "--snapshot", "s1"]);
    await cliOk(["destroy", ...b(lxcPath, "uncommitted")]);
  });
});

describe("an update killed with its old rootfs parked", () => {
  /** dir → loop, killed once the old rootfs is parked under its temporary name. */
  async function killedUpdate(where: string, name: string): Promise<string> {
    await cliOk(["create", ...b(where, name), "--backing-store", "dir", "--from", `dir:${seed}`]);
    const run = startCli(["update", ...b(where, name), "--backing-store", "loop", "--size", "32M"], {
      LXC_ROOTFS_FAILPOINT: "swap:parked",
    });
    expect((await run.done).signal).toBe("SIGKILL");
    const dir = path.join(where, name);
    expect((await fs.readdir(dir)).sort()).toEqual([".lxc-rootfs", "config", "rootdev.lxc-rootfs-new", "rootfs.lxc-rootfs-old"]);
    return dir;
  }

  it("copied with cp -a to another lxcPath: the copy refuses, the original recovers whole", async () => {
    const original = await killedUpdate(lxcPath, "orig");
    const elsewhere = path.join(base, "elsewhere");
    await fs.mkdir(elsewhere);
    await must(["cp", "-a", original, path.join(elsewhere, "orig")]);
    const copy = path.join(elsewhere, "orig");
    const listing = async (d: string) => (await fs.readdir(d, { recursive: true })).map(String).sort();
    const [originalBefore, copyBefore] = [await listing(original), await listing(copy)];
    const configBefore = await fs.readFile(path.join(original, "config"), "utf8");
    for (const args of [["inspect"], ["update", "--backing-store", "dir"], ["destroy"], ["snapshot-destroy", "--snapshot", "s1"]]) {
      const r = await cli([args[0], ...b(elsewhere, "orig"), ...args.slice(1)]);
      // The original's files first: the copy's journal names them (before the fix, inspect moved them back).
      expect({ args, original: await listing(original), copy: await listing(copy) }).toEqual({
        args,
        original: originalBefore,
        copy: copyBefore,
      });
      expect(await fs.readFile(path.join(original, "config"), "utf8")).toBe(configBefore);
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split("\n")).toEqual([
        expect.stringMatching(
          new RegExp(
            `^lxc-rootfs: refusing to act on the journal ${copy}/\\.lxc-rootfs/journal\\.json: it was written for the container directory ${original} \\(device \\d+, inode \\d+\\), not for ${copy} .*move it away by hand`,
          ),
        ),
      ]);
    }

    // The original: rolled back, its data in place and whole, nothing left over.
    const r = await cli(["inspect", ...b(lxcPath, "orig")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/rolled back an interrupted change of .*orig: the previous rootfs is in place/);
    expect((await fs.readdir(original)).sort()).toEqual(["config", "rootfs"]);
    expect(await treeDigest(path.join(original, "rootfs"))).toBe(seedDigest);
    await cliOk(["destroy", ...b(lxcPath, "orig")]);
  });

  it("a journal of the previous format (no identity) is still recovered", async () => {
    const dir = await killedUpdate(lxcPath, "v1");
    const file = path.join(dir, ".lxc-rootfs", "journal.json");
    const v2 = JSON.parse(await fs.readFile(file, "utf8"));
    expect(v2).toMatchObject({ version: 2, phase: "swapping", container: { path: dir } });
    // As the previous version wrote it: whole locations, no version, no container.
    const loop = (p: string, mountPoint?: string) => ({ ...v1loc(`loop:${p}`), ...(mountPoint ? { mountPoint } : {}) });
    const v1 = {
      phase: "swapping",
      built: loop(`${dir}/rootdev.lxc-rootfs-new`),
      newFinal: loop(`${dir}/rootdev`, `${dir}/rootfs`),
      oldFinal: v1loc(`dir:${dir}/rootfs`),
      oldParked: v1loc(`dir:${dir}/rootfs.lxc-rootfs-old`),
    };
    await fs.writeFile(file, JSON.stringify(v1));
    const r = await cli(["update", ...b(lxcPath, "v1"), "--backing-store", "loop", "--size", "32M"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/rolled back an interrupted change of .*v1: the previous rootfs is in place/);
    expect(r.json!.backingStore).toBe("loop");
    expect((await fs.readdir(dir)).sort()).toEqual(["config", "rootdev", "rootfs"]);
    await cliOk(["destroy", ...b(lxcPath, "v1")]);
  });
});

describe("snapshot-destroy refuses a snapshot's storage before it unlists the snapshot", () => {
  async function expectKept(name: string, dir: string, why: RegExp): Promise<void> {
    const r = await cli(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "s1"]);
    // Still listed, and no journal that would block what comes next (before the fix: unlisted, then refused).
    expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", name, "-L"])).toMatch(/^s1 \(/);
    await expect(fs.lstat(path.join(dir, ".lxc-rootfs", "snapshot.json"))).rejects.toThrow(/ENOENT/);
    await cliOk(["inspect", ...b(lxcPath, name)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(why);
  }

  it("a dir snapshot whose rootfs is a symbolic link out", async () => {
    const { dir } = await container("order-link");
    const storage = path.join(dir, "snaps", "s1", "rootfs");
    await fs.rm(storage, { recursive: true });
    await fs.symlink(victim, storage);
    await expectKept(
      "order-link",
      dir,
      /refusing to delete dir:\S+\/snaps\/s1\/rootfs: \S+\/snaps\/s1\/config names storage outside \S+ \(\S+snaps\/s1\/rootfs is a symbolic link\)\. Nothing was changed\./,
    );
    expect(await treeDigest(victim)).toBe(victimDigest);
    await fs.unlink(storage);
    await fs.mkdir(storage);
    await cliOk(["snapshot-destroy", ...b(lxcPath, "order-link"), "--snapshot", "s1"]);
    await cliOk(["destroy", ...b(lxcPath, "order-link")]);
  });

  it("a loop snapshot whose image is attached to a loop device", async () => {
    const name = "order-loop";
    await cliOk(["create", ...b(lxcPath, name), "--backing-store", "loop", "--size", "32M", "--from", `dir:${seed}`]);
    await cliOk(["snapshot", ...b(lxcPath, name), "--snapshot", "s1"]);
    const dir = path.join(lxcPath, name);
    const image = path.join(dir, "snaps", "s1", "rootdev");
    const device = (await must(["losetup", "-f", "--show", "-r", image])).trim();
    try {
      await expectKept(name, dir, new RegExp(`${image} is in use \\(attached to ${device}\\)`));
    } finally {
      await must(["losetup", "-d", device]);
    }
    await loopsDetached(base);
    await cliOk(["snapshot-destroy", ...b(lxcPath, name), "--snapshot", "s1"]);
    await cliOk(["destroy", ...b(lxcPath, name)]);
  });
});
