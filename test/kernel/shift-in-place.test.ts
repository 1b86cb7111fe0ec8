/**
 * A change of `idmap` on a rootfs that exists, on the real kernel: its owners shifted in place, the data
 * kept. The busybox image (setuid, ACLs, a capability, device nodes, hard links) on dir, loop and btrfs:
 * privileged → 100000 → 101000 (maps that overlap where it has ids: two passes) → privileged, each step
 * the image's manifest moved by the map (contents, modes, mtimes and all), the preview naming the files.
 * Killed midway (in a walk, right after a chown that strips a setuid bit, between two passes), the next
 * update finishes the shift from its journal and the tree is wholly in the new map. Ids the new map
 * leaves out, and a root owned by a map the rootfs is not said to be in, are refused before any write.
 */
import { promises as fs } from "fs";
import path from "path";
import {
  createRootfs as create,
  destroyRootfs as destroy,
  inspectRootfs as inspect,
  planRootfsUpdate as planUpdate,
  updateRootfs as update,
} from "../../provider/src/api";
import { IdmapEntry } from "../../provider/src/model/idmap";
import { Store } from "../../provider/src/model/requests";
import { cli, mountScratchBtrfs, must, startCli, tempDir, withImageMounted } from "../helpers/env";
import { imageFixtures, shiftedManifest, treeManifest } from "../helpers/images";
import { expectNoLeaks } from "../helpers/leaks";

const f = imageFixtures();
const by = (hostId: number): IdmapEntry[] => [{ kind: "both", containerId: 0, hostId, size: 65536 }];
let lxcPath: string;
let bpath: string;
let btrfs: { dir: string; release(): Promise<void> };
let image: string;

beforeAll(async () => {
  lxcPath = await tempDir("reshift");
  btrfs = await mountScratchBtrfs("reshift-btrfs", "1G");
  bpath = path.join(btrfs.dir, "lxc");
  await fs.mkdir(bpath);
  image = await fs.readFile(f.busybox.manifest, "utf8");
});

afterEach(async () => {
  await expectNoLeaks(lxcPath);
  await expectNoLeaks(bpath);
});

afterAll(async () => {
  await btrfs?.release();
  await fs.rm(lxcPath, { recursive: true, force: true });
});

const b = (where: string, name: string) => ["--lxcpath", where, "--name", name];
const LOOP = { size: 128 * 2 ** 20, fstype: "ext4" as const };

/** A busybox rootfs of `store`, privileged; its manifest and inode count read as the tests compare them. */
async function made(store: Store, name: string) {
  const where = store === "btrfs" ? bpath : lxcPath;
  const ref = { container: name, lxcPath: where };
  await create({ ...ref, backingStore: store, source: { url: f.busybox.tarball }, ...(store === "loop" ? LOOP : {}) }, {});
  const inTree = <T>(fn: (root: string) => Promise<T>) =>
    store === "loop" ? withImageMounted(path.join(where, name, "rootdev"), where, fn) : fn(path.join(where, name, "rootfs"));
  const inodes = await inTree(async (root) => new Set((await must(["find", root, "-xdev", "-printf", "%i\\n"])).trim().split("\n")).size);
  const journal = path.join(where, name, ".lxc-rootfs", "shift.json");
  return { ref, where, manifest: () => inTree(treeManifest), inodes, journal };
}

const exists = (p: string) =>
  fs.lstat(p).then(
    () => true,
    () => false,
  );

describe("a change of idmap on a rootfs that exists", () => {
  it.each(["dir", "loop", "btrfs"] as Store[])(
    "on %s: shifted in place to 100000, to an overlapping 101000, and back, the data kept, the preview naming the files",
    async (store) => {
      const r = await made(store, `inplace-${store}`);
      const files = store === "loop" ? /about (\d+) files/ : new RegExp(`shift the owners of ${r.inodes} files`);

      const plan = await planUpdate(r.ref, { idmap: by(100000) }, {});
      expect(plan?.summary).toMatch(files);
      expect(plan?.summary).toContain("in place from none (privileged) to u/g 0:100000:65536");
      if (store === "loop") {
        // The filesystem's own tally: every inode in use, its reserved ones too.
        const tally = Number(files.exec(plan!.summary)![1]);
        expect(tally).toBeGreaterThanOrEqual(r.inodes);
        expect(tally).toBeLessThanOrEqual(r.inodes + 16);
      }
      const first = await update(r.ref, { idmap: by(100000) }, {});
      expect(first).toMatchObject({ strategy: "none", idmap: by(100000) });
      expect(await r.manifest()).toBe(shiftedManifest(image));

      // 0:101000 lands on ids the tree holds (container 1000 is host 101000 now): two passes.
      const overlap = await planUpdate({ ...r.ref, recordedIdmap: by(100000) }, { idmap: by(101000) }, {});
      expect(overlap?.summary).toContain("from u/g 0:100000:65536 to u/g 0:101000:65536");
      if (store !== "loop") expect(overlap?.summary).toContain("two passes");
      await update({ ...r.ref, recordedIdmap: by(100000) }, { idmap: by(101000) }, {});
      expect(await r.manifest()).toBe(shiftedManifest(image, 101000));

      await update({ ...r.ref, recordedIdmap: by(101000) }, { idmap: [] }, {});
      expect(await r.manifest()).toBe(image);
      // In the map already, as its root's owner says with no record: nothing to do, and the plan says so.
      expect(await planUpdate(r.ref, { idmap: [] }, {})).toMatchObject({ strategy: "none", summary: "no change" });
      expect(await exists(r.journal)).toBe(false);
      await destroy(r.ref, {});
    },
  );
});

describe("a shift in place killed", () => {
  it.each([
    ["dir", "in the middle of its walk", "shift-midway", by(100000)],
    ["loop", "in the middle of its walk", "shift-midway", by(100000)],
    // Busybox has two such files, setuid-root and ping (its capability): each is the one cut, in one run or the other.
    ["dir", "right after the first chown that cleared a setuid bit or dropped a capability", "shift-chowned#1", by(100000)],
    ["dir", "right after the second chown that cleared a setuid bit or dropped a capability", "shift-chowned#2", by(100000)],
    ["loop", "between its two passes", "shift:pass-2", by(101000)],
  ] as Array<[Store, string, string, IdmapEntry[]]>)(
    "on %s %s: the next update finishes it from the journal, every id moved once",
    async (store, _, point, to) => {
      const r = await made(store, `killed-${store}-${point.replace(/[^a-z0-9]/g, "")}`);
      const idmapFlags = (m: IdmapEntry[]) => m.flatMap((e) => ["--idmap", `b ${e.containerId} ${e.hostId} ${e.size}`]);
      // Overlapping maps: from 100000 first, which the config's lines say (the CLI keeps no record).
      if (to[0].hostId !== 100000) {
        await update(r.ref, { idmap: by(100000) }, {});
        await fs.appendFile(path.join(r.where, r.ref.container, "config"), "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n");
      }
      const before = await r.manifest();
      const [name, nth] = point.split("#");
      const run = startCli(["update", ...b(r.where, r.ref.container), ...idmapFlags(to)], {
        LXC_ROOTFS_FAILPOINT: name,
        ...(name === "shift-midway" ? { LXC_ROOTFS_FAILPOINT_AFTER: "40" } : nth ? { LXC_ROOTFS_FAILPOINT_AFTER: nth } : {}),
      });
      expect(await run.done).toMatchObject({ signal: "SIGKILL" });
      expect(await exists(r.journal)).toBe(true);
      const cut = await r.manifest();
      expect(cut).not.toBe(shiftedManifest(image, to[0].hostId));
      if (point !== "shift:pass-2") expect(cut).not.toBe(before);
      // A preview waits for the recovery the update does first.
      expect(await planUpdate(r.ref, { idmap: to }, {})).toBeNull();

      const again = await cli(["update", ...b(r.where, r.ref.container), ...idmapFlags(to)]);
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(/finishing the shift of .* from pass \d of \d/);
      expect(await r.manifest()).toBe(shiftedManifest(image, to[0].hostId));
      expect(await exists(r.journal)).toBe(false);
      await destroy(r.ref, {});
    },
  );
});

describe("a shift in place refused", () => {
  it("for ids the new map leaves out, naming how many, before anything is written", async () => {
    const r = await made("dir", "refused-lost");
    const stray = path.join(lxcPath, "refused-lost", "rootfs", "srv", "stray");
    await fs.writeFile(stray, "x");
    await fs.chown(stray, 70000, 70000);
    const before = await r.manifest();
    const refusal =
      /idmap: .*a map that maps every id of this rootfs: its owners, groups, ACL entries or capabilities hold 1 host id that none \(privileged\) and this map do not both map \(70000\)/;
    await expect(planUpdate(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(refusal);
    await expect(update(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(refusal);
    expect(await r.manifest()).toBe(before);
    expect(await exists(r.journal)).toBe(false);
    await destroy(r.ref, {});
  });

  it("for a rootfs in use (a mount inside it), before anything is written", async () => {
    const r = await made("dir", "refused-inuse");
    const inner = path.join(lxcPath, "refused-inuse", "rootfs", "tmp");
    await must(["mount", "-t", "tmpfs", "tmpfs", inner]);
    try {
      const before = await must([
        "stat",
        "-c",
        "%u:%g",
        path.join(lxcPath, "refused-inuse", "rootfs"),
        path.join(lxcPath, "refused-inuse", "rootfs", "bin"),
      ]);
      await expect(update(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(/is in use \(mounted at .*tmp\).*Nothing was changed/);
      expect(
        await must([
          "stat",
          "-c",
          "%u:%g",
          path.join(lxcPath, "refused-inuse", "rootfs"),
          path.join(lxcPath, "refused-inuse", "rootfs", "bin"),
        ]),
      ).toBe(before);
    } finally {
      await must(["umount", inner]);
    }
    expect(await r.manifest()).toBe(image);
    expect(await exists(r.journal)).toBe(false);
    await destroy(r.ref, {});
  });

  it("for a root owned by container root of no map it is said to be in", async () => {
    const r = await made("loop", "refused-root");
    const before = await r.manifest();
    // Recorded (wrongly) as 200000's: the survey finds host root's root and refuses before the first write.
    await expect(update({ ...r.ref, recordedIdmap: by(200000) }, { idmap: by(100000) }, {})).rejects.toThrow(
      /has its root owned by 0:0, container root neither in the map it is taken to be in \(u\/g 0:200000:65536\) nor in idmap/,
    );
    expect(await r.manifest()).toBe(before);
    await destroy(r.ref, {});
  });
});

describe("a crafted shift journal", () => {
  it("naming another container's rootfs is refused before anything is touched, that rootfs left as it is", async () => {
    const victim = await made("dir", "journal-victim");
    const r = await made("dir", "journal-crafted");
    const before = await victim.manifest();
    const st = await fs.stat(path.join(lxcPath, "journal-crafted"), { bigint: true });
    await fs.mkdir(path.dirname(r.journal), { recursive: true });
    await fs.writeFile(
      r.journal,
      JSON.stringify({
        version: 2,
        container: { path: path.join(lxcPath, "journal-crafted"), dev: st.dev.toString(), ino: st.ino.toString() },
        rootfs: `dir:${path.join(lxcPath, "journal-victim", "rootfs")}`,
        fstype: null,
        passes: [{ from: [], to: by(100000) }],
        pass: 0,
        special: [],
      }),
    );
    await expect(update(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(
      /refusing to act on the journal .*shift\.json: .*journal-victim\/rootfs is outside .*journal-crafted.*Nothing was changed/,
    );
    expect(await victim.manifest()).toBe(before);
    await fs.rm(r.journal);
    await destroy(r.ref, {});
    await destroy(victim.ref, {});
  });

  it("whose second pass does not start where its first ends is refused, the tree left as it is", async () => {
    const r = await made("dir", "journal-gap");
    const st = await fs.stat(path.join(lxcPath, "journal-gap"), { bigint: true });
    await fs.mkdir(path.dirname(r.journal), { recursive: true });
    await fs.writeFile(
      r.journal,
      JSON.stringify({
        version: 2,
        container: { path: path.join(lxcPath, "journal-gap"), dev: st.dev.toString(), ino: st.ino.toString() },
        rootfs: `dir:${path.join(lxcPath, "journal-gap", "rootfs")}`,
        fstype: null,
        passes: [
          { from: [], to: by(100000) },
          { from: by(300000), to: by(200000) },
        ],
        pass: 1,
        special: [],
      }),
    );
    await expect(update(r.ref, { idmap: by(200000) }, {})).rejects.toThrow(
      /refusing to act on the journal .*shift\.json: its second pass does not start from the map its first ends in/,
    );
    expect(await r.manifest()).toBe(image);
    await fs.rm(r.journal);
    await destroy(r.ref, {});
  });
});

describe("what an inspect sees of a rootfs's owners", () => {
  it("on dir: drift from the recorded map to the one its root says, the config's when it fits; never on loop", async () => {
    const r = await made("dir", "seen-dir");
    const root = path.join(lxcPath, "seen-dir", "rootfs");
    await update(r.ref, { idmap: by(100000) }, {});
    expect((await inspect({ ...r.ref, recordedIdmap: by(100000) }, {}))?.idmap).toBeUndefined();
    // Chowned back by hand: refresh shows none (privileged), and an update shifts back into the map.
    await must(["chown", "-hR", "0:0", root]);
    expect((await inspect({ ...r.ref, recordedIdmap: by(100000) }, {}))?.idmap).toEqual([]);
    expect((await inspect(r.ref, {}))?.idmap).toBeUndefined();
    // Chowned by hand into a map of two ranges the config names: that map, since it maps every id below the root.
    const lines = ["u 0 200000 1000", "u 1000 300000 64536", "g 0 200000 1000", "g 1000 300000 64536"];
    await fs.appendFile(path.join(lxcPath, "seen-dir", "config"), lines.map((l) => `lxc.idmap = ${l}\n`).join(""));
    await must(["chown", "-h", "200000:200000", root]);
    await must(["chown", "-h", "301000:301000", path.join(root, "srv")]);
    expect((await inspect({ ...r.ref, recordedIdmap: by(100000) }, {}))?.idmap).toEqual([
      { kind: "uid", containerId: 0, hostId: 200000, size: 1000 },
      { kind: "uid", containerId: 1000, hostId: 300000, size: 64536 },
      { kind: "gid", containerId: 0, hostId: 200000, size: 1000 },
      { kind: "gid", containerId: 1000, hostId: 300000, size: 64536 },
    ]);
    // Neither: 65536 ids from the root's owner.
    await must(["chown", "-h", "400000:400000", root]);
    expect((await inspect({ ...r.ref, recordedIdmap: by(100000) }, {}))?.idmap).toEqual([
      { kind: "uid", containerId: 0, hostId: 400000, size: 65536 },
      { kind: "gid", containerId: 0, hostId: 400000, size: 65536 },
    ]);
    await must(["chown", "-hR", "0:0", root]);
    await destroy(r.ref, {});

    const l = await made("loop", "seen-loop");
    await update(l.ref, { idmap: by(100000) }, {});
    expect((await inspect(l.ref, {}))?.idmap).toBeUndefined();
    await destroy(l.ref, {});
  });
});

describe("found by review, and now held", () => {
  it("on btrfs, a nested snapshot's inode (same number, size, mtime as its origin's) gets no setuid bit or capability back", async () => {
    const r = await made("btrfs", "rv-subvol");
    const root = path.join(bpath, "rv-subvol", "rootfs");
    const [layer0, layer1] = [path.join(root, "layer0"), path.join(root, "layer1")];
    await must(["btrfs", "subvolume", "create", layer0]);
    await fs.writeFile(path.join(layer0, "tool"), "#!/bin/sh\n");
    await fs.chmod(path.join(layer0, "tool"), 0o4755);
    await fs.writeFile(path.join(layer0, "pinger"), "#!/bin/sh\n");
    await must(["setcap", "cap_net_raw+ep", path.join(layer0, "pinger")]);
    // A later layer as a snapshot: the same inodes, then hardened.
    await must(["btrfs", "subvolume", "snapshot", layer0, layer1]);
    await fs.chmod(path.join(layer1, "tool"), 0o700);
    await must(["setcap", "-r", path.join(layer1, "pinger")]);
    try {
      await update(r.ref, { idmap: by(100000) }, {});
      const modeOf = async (p: string) => ((await fs.lstat(p)).mode & 0o7777).toString(8);
      expect([await modeOf(path.join(layer1, "tool")), await modeOf(path.join(layer0, "tool"))]).toEqual(["700", "4755"]);
      expect((await must(["getcap", path.join(layer1, "pinger")])).trim()).toBe("");
      expect(await must(["getcap", path.join(layer0, "pinger")])).toMatch(/cap_net_raw=ep/);
    } finally {
      await must(["btrfs", "subvolume", "delete", layer1]);
      await must(["btrfs", "subvolume", "delete", layer0]);
    }
    await destroy(r.ref, {});
  });

  it("2000 setuid files (a task larger than one argument may be) and two passes: finished, not stopped in the middle range", async () => {
    const r = await made("dir", "rv-many");
    await update(r.ref, { idmap: by(100000) }, {});
    const many = path.join(lxcPath, "rv-many", "rootfs", "srv", "many");
    await fs.mkdir(many);
    await fs.chown(many, 100000, 100000);
    for (let i = 0; i < 2000; i++) {
      const p = path.join(many, `f${i}`);
      await fs.writeFile(p, "");
      await fs.chown(p, 100000, 100000);
      await fs.chmod(p, 0o4755);
    }
    await update({ ...r.ref, recordedIdmap: by(100000) }, { idmap: by(101000) }, {});
    expect(await must(["stat", "-c", "%u:%g %a", path.join(lxcPath, "rv-many", "rootfs"), path.join(many, "f1999")])).toBe(
      "101000:101000 755\n101000:101000 4755\n",
    );
    expect(await exists(r.journal)).toBe(false);
    await destroy(r.ref, {});
  });

  it("more setuid files than a journal carries: a shift in place is refused before any write, a move's one pass shifts them", async () => {
    const r = await made("dir", "rv-toomany");
    const many = path.join(lxcPath, "rv-toomany", "rootfs", "srv", "many");
    await fs.mkdir(many);
    // MAX_SPECIAL + 1, made by one shell rather than 5001 round trips.
    await must(["sh", "-c", 'cd "$1" && seq 5001 | sed "s/^/f/" | xargs touch && chmod 4755 f*', "sh", many]);
    await expect(update(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(
      /has 5\d\d\d setuid, setgid or capable files, more than the 5000/,
    );
    expect((await fs.lstat(path.join(many, "f5001"))).uid).toBe(0);
    expect(await exists(r.journal)).toBe(false);
    // A move to another store shifts its new store in one pass, unjournaled: the limit is not its.
    await update(r.ref, { backingStore: "loop", ...LOOP, idmap: by(100000) }, {});
    const moved = await withImageMounted(path.join(lxcPath, "rv-toomany", "rootdev"), lxcPath, (root) =>
      must(["stat", "-c", "%u:%g %a", root, path.join(root, "srv", "many", "f5001")]),
    );
    expect(moved).toBe("100000:100000 755\n100000:100000 4755\n");
    await destroy(r.ref, {});
  });

  it("an ext4 image whose journal was not replayed (a crash) is refused its read-only survey, not read as it was before", async () => {
    const r = await made("loop", "rv-dirty");
    const image = path.join(lxcPath, "rv-dirty", "rootdev");
    await must(["debugfs", "-w", "-R", "feature needs_recovery", image]);
    const sum = await must(["sha256sum", image]);
    await expect(update(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(
      /rv-dirty\/rootdev's ext4 journal has not been replayed .*check it with its fsck, then re-run\. Nothing was changed\./,
    );
    expect(await must(["sha256sum", image])).toBe(sum);
    await must(["debugfs", "-w", "-R", "feature -needs_recovery", image]);
    await destroy(r.ref, {});
  });

  it("a config LXC wrote through a symlinked lxcPath (lxc-create -P /link) names the same rootfs: shifted", async () => {
    const r = await made("dir", "rv-link");
    const link = `${lxcPath}-link`;
    await fs.symlink(lxcPath, link);
    const config = path.join(lxcPath, "rv-link", "config");
    const text = await fs.readFile(config, "utf8");
    await fs.writeFile(config, text.replace(/^lxc\.rootfs\.path = .*$/m, `lxc.rootfs.path = dir:${link}/rv-link/rootfs`));
    await update({ container: "rv-link", lxcPath: link }, { idmap: by(100000) }, {});
    expect((await fs.lstat(path.join(lxcPath, "rv-link", "rootfs", "bin", "busybox"))).uid).toBe(100000);
    expect(await exists(r.journal)).toBe(false);
    await destroy({ container: "rv-link", lxcPath: link }, {});
    await fs.rm(link);
  });

  it("a rootfs the config does not name is refused a journaled shift, before anything is written", async () => {
    const r = await made("dir", "rv-noconf");
    const config = path.join(lxcPath, "rv-noconf", "config");
    const lines = (await fs.readFile(config, "utf8")).split("\n").filter((l) => !/^\s*lxc\.rootfs\.path\s*=/.test(l));
    await fs.writeFile(config, lines.join("\n"));
    await expect(update(r.ref, { idmap: by(100000) }, {})).rejects.toThrow(
      /the container's config names no lxc\.rootfs\.path.*Nothing was changed/,
    );
    expect(await r.manifest()).toBe(image);
    await fs.appendFile(config, `lxc.rootfs.path = dir:${path.join(lxcPath, "rv-noconf", "rootfs")}\n`);
    await destroy(r.ref, {});
  });

  it("a killed shift whose journal was moved away is not taken for done: its root is shifted last, and the rest refused", async () => {
    const r = await made("dir", "rv-moved");
    const args = ["update", ...b(lxcPath, "rv-moved"), "--idmap", "b 0 100000 65536"];
    const run = startCli(args, { LXC_ROOTFS_FAILPOINT: "shift-midway", LXC_ROOTFS_FAILPOINT_AFTER: "40" });
    expect(await run.done).toMatchObject({ signal: "SIGKILL" });
    expect((await fs.lstat(path.join(lxcPath, "rv-moved", "rootfs"))).uid).toBe(0);
    await fs.rename(r.journal, path.join(path.dirname(lxcPath), "rv-moved.shift.json"));
    const again = await cli(args);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/a map that maps every id of this rootfs/);
    // Put back (the refused run left no work directory), the journal finishes it.
    await fs.mkdir(path.dirname(r.journal), { recursive: true });
    await fs.rename(path.join(path.dirname(lxcPath), "rv-moved.shift.json"), r.journal);
    expect((await cli(args)).code).toBe(0);
    expect(await r.manifest()).toBe(shiftedManifest(image));
    await destroy(r.ref, {});
  });

  it("ids written between a kill and the finish are refused by the finish, not given to the overflow id", async () => {
    const r = await made("dir", "rv-late");
    await update(r.ref, { idmap: by(100000) }, {});
    await fs.appendFile(path.join(lxcPath, "rv-late", "config"), "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n");
    const args = ["update", ...b(lxcPath, "rv-late"), "--idmap", "b 0 101000 65536"];
    expect(await startCli(args, { LXC_ROOTFS_FAILPOINT: "shift:pass-2" }).done).toMatchObject({ signal: "SIGKILL" });
    const late = path.join(lxcPath, "rv-late", "rootfs", "srv", "late");
    await fs.writeFile(late, "data");
    await fs.chown(late, 100033, 100033);
    const again = await cli(args);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/holds ids its interrupted shift neither moves nor made \(100033\).*The journal is kept/);
    expect((await fs.lstat(late)).uid).toBe(100033);
    await fs.rm(late);
    expect((await cli(args)).code).toBe(0);
    expect(await exists(r.journal)).toBe(false);
    await destroy(r.ref, {});
  });

  it("on loop, a grow with an idmap whose shift is refused leaves the size as it was", async () => {
    const r = await made("loop", "rv-grow");
    const mp = await fs.mkdtemp(path.join(lxcPath, ".rw-"));
    await must(["mount", "-o", "loop", path.join(lxcPath, "rv-grow", "rootdev"), mp]);
    try {
      await fs.writeFile(path.join(mp, "srv", "stray"), "x");
      await fs.chown(path.join(mp, "srv", "stray"), 70000, 70000);
    } finally {
      await must(["umount", mp]);
      await fs.rmdir(mp);
    }
    const before = (await inspect(r.ref, {}))!.sizeBytes;
    await expect(update(r.ref, { size: 256 * 2 ** 20, idmap: by(100000) }, {})).rejects.toThrow(/Nothing was changed/);
    expect((await inspect(r.ref, {}))!.sizeBytes).toBe(before);
    await destroy(r.ref, {});
  });
});
