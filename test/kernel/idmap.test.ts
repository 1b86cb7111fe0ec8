/**
 * `idmap` at create, through the core's API on the real kernel: a rootfs made for an unprivileged container
 * has its owners shifted into the map before it is swapped in, from the input or else the container
 * config's `lxc.idmap` lines; `from` a privileged rootfs is shifted, `from` one already in the map is copied
 * as it is, `from` one in another map is refused; overlay takes none; a bad map is refused naming its entry.
 */
import { promises as fs } from "fs";
import path from "path";
import { createRootfs as create, destroyRootfs as destroy, planRootfsCreate as planCreate } from "../../provider/src/api";
import { InvalidInput } from "../../provider/src/model/errors";
import { mountScratchBtrfs, must, tempDir, withImageMounted } from "../helpers/env";
import { imageFixtures, shiftedManifest, treeManifest } from "../helpers/images";
import { expectNoLeaks } from "../helpers/leaks";

const f = imageFixtures();
const PROXMOX = [{ kind: "both" as const, containerId: 0, hostId: 100000, size: 65536 }];
let lxcPath: string;
let bpath: string;
let btrfs: { dir: string; release(): Promise<void> };
let image: string;

beforeAll(async () => {
  lxcPath = await tempDir("idmap");
  btrfs = await mountScratchBtrfs("idmap-btrfs", "1G");
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

/** The manifest of a container's rootfs, its holes not told (a file copy makes holes of zeros). */
async function manifestOf(where: string, name: string): Promise<string> {
  const image = path.join(where, name, "rootdev");
  const m = await fs
    .stat(image)
    .then(() => withImageMounted(image, where, treeManifest))
    .catch(() => treeManifest(path.join(where, name, "rootfs")));
  return m.replace(/ hole=yes/g, "");
}

const holesUntold = (m: string) => m.replace(/ hole=yes/g, "");

describe("a rootfs for an unprivileged container", () => {
  it.each([
    ["dir", {}],
    ["loop", { backingStore: "loop" as const, size: 128 * 2 ** 20, fstype: "ext4" as const }],
    ["btrfs", { backingStore: "btrfs" as const }],
  ])("from an image on %s: every owner shifted into the idmap before it is swapped in", async (store, over) => {
    const where = store === "btrfs" ? bpath : lxcPath;
    const spec = {
      container: `img-${store}`,
      lxcPath: where,
      backingStore: "dir" as const,
      source: { url: f.busybox.tarball },
      idmap: PROXMOX,
      ...over,
    };
    expect((await planCreate(spec, {}))!.summary).toMatch(/; its owners then shifted into u\/g 0:100000:65536$/);
    const made = await create(spec, {});
    expect(made.idmap).toEqual(PROXMOX);
    expect(await manifestOf(where, spec.container)).toBe(holesUntold(shiftedManifest(image)));
    await destroy({ container: spec.container, lxcPath: where }, {});
  });

  it("takes the container config's lxc.idmap lines when no idmap is given", async () => {
    await fs.mkdir(path.join(lxcPath, "cfg"));
    await fs.writeFile(path.join(lxcPath, "cfg", "config"), "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n");
    const spec = { container: "cfg", lxcPath, backingStore: "dir" as const, source: { url: f.busybox.tarball } };
    expect((await planCreate(spec, {}))!.summary).toMatch(/; its owners then shifted into u\/g 0:100000:65536$/);
    const made = await create(spec, {});
    expect(made.idmap).toEqual([
      { kind: "uid", containerId: 0, hostId: 100000, size: 65536 },
      { kind: "gid", containerId: 0, hostId: 100000, size: 65536 },
    ]);
    expect(await manifestOf(lxcPath, "cfg")).toBe(holesUntold(shiftedManifest(image)));
    await destroy({ container: "cfg", lxcPath }, {});
  });

  it("from a privileged rootfs: the copy is shifted, the source left as it is; from one already in the map: copied as it is", async () => {
    await create({ container: "plain", lxcPath, backingStore: "dir", source: { url: f.busybox.tarball } }, {});
    const fromPlain = { container: "shifted", lxcPath, backingStore: "dir", from: `dir:${lxcPath}/plain/rootfs`, idmap: PROXMOX };
    expect((await planCreate(fromPlain, {}))?.summary).toMatch(/; its owners then shifted into u\/g 0:100000:65536$/);
    // A file of an id the map leaves out: the preview counts it.
    const srv = path.join(lxcPath, "plain", "rootfs", "srv");
    const stray = path.join(srv, "stray");
    const { atime, mtime } = await fs.stat(srv);
    await fs.writeFile(stray, "x");
    await fs.chown(stray, 70000, 70000);
    expect((await planCreate(fromPlain, {}))?.summary).toMatch(
      /; its owners then shifted into u\/g 0:100000:65536, where 1 host id of `from` it leaves out become nobody's$/,
    );
    await fs.rm(stray);
    // As the image made it: the manifest compared below holds the directory's mtime.
    await fs.utimes(srv, atime, mtime);
    await create(fromPlain, {});
    expect(await manifestOf(lxcPath, "plain")).toBe(holesUntold(image));
    expect(await manifestOf(lxcPath, "shifted")).toBe(holesUntold(shiftedManifest(image)));
    // Its root is the map's root: never shifted twice (an ACL's 101234 would become 201234).
    const again = {
      container: "again",
      lxcPath,
      backingStore: "loop" as const,
      size: 128 * 2 ** 20,
      from: `dir:${lxcPath}/shifted/rootfs`,
      idmap: PROXMOX,
    };
    expect((await planCreate(again, {}))?.summary).toMatch(/; its owners are in u\/g 0:100000:65536 already: copied as they are$/);
    expect((await create(again, {})).idmap).toEqual(PROXMOX);
    expect(await manifestOf(lxcPath, "again")).toBe(holesUntold(shiftedManifest(image)));
    for (const c of ["plain", "shifted", "again"]) await destroy({ container: c, lxcPath }, {});
  });

  it("from a rootfs in another map: refused, its map not known, nothing left", async () => {
    await create({ container: "other", lxcPath, backingStore: "dir", source: { url: f.busybox.tarball } }, {});
    await must(["chown", "200000:200000", path.join(lxcPath, "other", "rootfs")]);
    await expect(
      create({ container: "x", lxcPath, backingStore: "dir", from: `dir:${lxcPath}/other/rootfs`, idmap: PROXMOX }, {}),
    ).rejects.toThrow(
      /is owned by 200000:200000, root neither on the host nor in idmap \(u\/g 0:100000:65536\): the map its files are in is not known/,
    );
    await expect(fs.lstat(path.join(lxcPath, "x"))).rejects.toMatchObject({ code: "ENOENT" });
    await destroy({ container: "other", lxcPath }, {});
  });
});

describe("refused before anything is made", () => {
  it.each([
    [[{ kind: "both", containerId: 0, hostId: 100000, size: 0 }], /^idmap\[0\]\.size: invalid value 0: /],
    [
      [
        { kind: "uid", containerId: 0, hostId: 100000, size: 65536 },
        { kind: "uid", containerId: 1000, hostId: 1000, size: 1 },
      ],
      /^idmap\[1\]: .*shares container ids 1000 to 1000/,
    ],
    [[{ kind: "both", containerId: 0, hostId: 2 ** 32 - 2, size: 2 }], /^idmap\[0\]/],
    [
      [{ kind: "both", containerId: 1, hostId: 100001, size: 65535 }],
      /^idmap: invalid value .*: a map that maps container root \(uid 0 and gid 0\)/,
    ],
  ])("the bad map %j", async (idmap, why) => {
    const spec = { container: "bad", lxcPath, backingStore: "dir", source: { url: f.busybox.tarball }, idmap };
    await expect(planCreate(spec, {})).rejects.toThrow(InvalidInput);
    await expect(create(spec, {})).rejects.toThrow(why);
    await expect(fs.lstat(path.join(lxcPath, "bad"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("overlay: the idmap input, and the config's lxc.idmap lines, with the reason", async () => {
    await create({ container: "lower", lxcPath, backingStore: "dir", source: { url: f.busybox.tarball } }, {});
    const spec = { container: "layered", lxcPath, backingStore: "overlay" as const, from: `dir:${lxcPath}/lower/rootfs` };
    await expect(create({ ...spec, idmap: PROXMOX }, {})).rejects.toThrow(
      /^idmap: invalid value .*none for overlay: a shift of its owners would rewrite the lower layer/,
    );
    await fs.mkdir(path.join(lxcPath, "layered"));
    await fs.writeFile(path.join(lxcPath, "layered", "config"), "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n");
    await expect(create(spec, {})).rejects.toThrow(/the container's config maps its ids \(lxc\.idmap\), and overlay takes no shift/);
    await fs.rm(path.join(lxcPath, "layered"), { recursive: true });
    await destroy({ container: "lower", lxcPath }, {});
  });
});
