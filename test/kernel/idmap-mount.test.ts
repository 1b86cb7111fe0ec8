/**
 * `idmapMode: "mount"` on the real kernel and LXC: the busybox image on dir, its owners kept as the
 * image's and the config given `lxc.rootfs.options = idmap=container`, runs unprivileged under lxc-execute
 * (`/` and the setuid file root's inside, a file it makes host 0's); switched to shift, its owners are
 * moved by the map in place and the option goes; back to mount, they are the image's again and the option
 * is back; owners found shifted under the option go back to none; destroy takes the option with it. Refused before anything is made: a loop store (LXC's own
 * reason), no map, a dir on a filesystem that cannot idmap a mount (overlay), and a shift under a user's own
 * idmapped-mount line.
 */
import { promises as fs } from "fs";
import path from "path";
import {
  createRootfs as create,
  destroyRootfs as destroy,
  inspectRootfs as inspect,
  planRootfsCreate as planCreate,
  planRootfsUpdate as planUpdate,
  updateRootfs as update,
} from "../../provider/src/api";
import { IdmapEntry } from "../../provider/src/model/idmap";
import { cli, must, tempDir } from "../helpers/env";
import { imageFixtures, shiftedManifest, treeManifest } from "../helpers/images";
import { expectNoLeaks } from "../helpers/leaks";
import { execute, reachableByContainerRoot } from "../helpers/lxc";

const f = imageFixtures();
const MAP: IdmapEntry[] = [{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }];
/** An unprivileged busybox container's config, as a user writes it: LXC's user-namespace defaults and the map. */
const config = (name: string) =>
  [
    "lxc.include = /usr/share/lxc/config/userns.conf",
    "lxc.idmap = u 0 100000 65536",
    "lxc.idmap = g 0 100000 65536",
    `lxc.uts.name = ${name}`,
    "lxc.net.0.type = empty",
    "lxc.apparmor.profile = unconfined",
    "",
  ].join("\n");
const OPTION = "lxc.rootfs.options = idmap=container";

let lxcPath: string;
let image: string;

beforeAll(async () => {
  lxcPath = await tempDir("idmap-mount");
  await reachableByContainerRoot(lxcPath);
  image = await fs.readFile(f.busybox.manifest, "utf8");
});

afterEach(async () => {
  await expectNoLeaks(lxcPath);
});

afterAll(async () => {
  await must(["lxc-stop", "-P", lxcPath, "-n", "mnt", "-k"]).catch(() => undefined);
  await fs.rm(lxcPath, { recursive: true, force: true });
});

async function container(name: string): Promise<{ ref: { container: string; lxcPath: string }; configText(): Promise<string> }> {
  await fs.mkdir(path.join(lxcPath, name));
  await fs.writeFile(path.join(lxcPath, name, "config"), config(name));
  return { ref: { container: name, lxcPath }, configText: () => fs.readFile(path.join(lxcPath, name, "config"), "utf8") };
}

it("mount on dir: the owners kept, LXC maps them (busybox runs unprivileged); to shift and back in place, the data kept", async () => {
  const { ref, configText } = await container("mnt");
  const rootfs = path.join(lxcPath, "mnt", "rootfs");
  const spec = { ...ref, backingStore: "dir", source: { url: f.busybox.tarball }, idmap: MAP, idmapMode: "mount" };
  expect((await planCreate(spec, {}))?.summary).toContain(
    "its owners kept, LXC mounting it idmapped into u/g 0:100000:65536 (lxc.rootfs.options = idmap=container)",
  );
  const created = await create(spec, {});
  expect(created).toMatchObject({ idmapMode: "mount", idmap: MAP });
  expect(await treeManifest(rootfs)).toBe(image);
  expect(await configText()).toContain(OPTION);

  // Inside: root, `/` and the setuid file root's (its bit kept); a file made there is host 0's on disk.
  expect(await execute(lxcPath, "mnt", "id -u; stat -c '%u:%g %a' / /usr/bin/setuid-root; touch /root/made-inside")).toBe(
    "0\n0:0 755\n0:0 4755\n",
  );
  const made = path.join(rootfs, "root", "made-inside");
  expect(await fs.stat(made)).toMatchObject({ uid: 0, gid: 0 });
  await fs.rm(made);
  // LXC made /proc and /sys and touched / and /root as it ran: the tree the switches below move is this one.
  const ran = await treeManifest(rootfs);
  // A root owned by host 0 is no drift while the config mounts it idmapped.
  const seen = await inspect({ ...ref, recordedIdmap: MAP }, {});
  expect(seen).toMatchObject({ idmapMode: "mount" });
  expect(seen).not.toHaveProperty("idmap");

  const recorded = { ...ref, recordedIdmap: MAP };
  const toShift = await planUpdate(recorded, { idmapMode: "shift" }, {});
  expect(toShift?.summary).toMatch(
    /^shift the owners of \d+ files in place from none \(privileged\) to u\/g 0:100000:65536; then remove lxc\.rootfs\.options = idmap=container/,
  );
  expect(await update(recorded, { idmapMode: "shift" }, {})).toMatchObject({ idmapMode: "shift", idmap: MAP });
  expect(await treeManifest(rootfs)).toBe(shiftedManifest(ran));
  expect(await configText()).not.toContain("lxc.rootfs.options");

  const toMount = await planUpdate(recorded, { idmapMode: "mount" }, {});
  expect(toMount?.summary).toMatch(
    /^shift the owners of \d+ files in place from u\/g 0:100000:65536 to none \(privileged\); then write lxc\.rootfs\.options = idmap=container/,
  );
  expect(await update(recorded, { idmapMode: "mount" }, {})).toMatchObject({ idmapMode: "mount", idmap: MAP });
  expect(await treeManifest(rootfs)).toBe(ran);
  expect(await configText()).toContain(OPTION);
  // In mount mode already: nothing to do.
  expect(await planUpdate(recorded, { idmapMode: "mount", idmap: MAP }, {})).toMatchObject({ strategy: "none", summary: "no change" });

  // Owners shifted under the idmapped mount (the line put back by hand): an inspect says shift, what the owners
  // are, and an update in mount mode shifts them back to none, the line kept.
  const mounted = await configText();
  await update(recorded, { idmapMode: "shift" }, {});
  await fs.writeFile(path.join(lxcPath, "mnt", "config"), mounted);
  expect(await inspect(recorded, {})).toMatchObject({ idmapMode: "shift" });
  const back = await planUpdate(recorded, { idmapMode: "mount" }, {});
  expect(back?.summary).toMatch(/^shift the owners of \d+ files in place from u\/g 0:100000:65536 to none \(privileged\)$/);
  await update(recorded, { idmapMode: "mount" }, {});
  expect(await treeManifest(rootfs)).toBe(ran);
  expect(await configText()).toBe(mounted);

  await destroy(ref, {});
  const after = await configText();
  expect(after).not.toContain("lxc.rootfs.options");
  expect(after).toContain("lxc.uts.name = mnt");
}, 60000);

it("refuses mount on loop with LXC's reason, without a map, and on a filesystem that cannot idmap a mount", async () => {
  const { ref } = await container("refused");
  const source = { url: f.busybox.tarball };
  await expect(planCreate({ ...ref, backingStore: "loop", source, idmap: MAP, idmapMode: "mount" }, {})).rejects.toThrow(
    /^idmapMode: invalid value "mount": shift for loop; mount is for dir only: .*"Idmapped rootfs currently only supports the "dir" storage driver"/,
  );
  // The CLI's flag, named as typed: exit 2 before anything is touched.
  const flagged = await cli(["create-plan", "--lxcpath", lxcPath, "--name", "refused", "--backing-store", "loop", "--idmap-mode", "mount"]);
  expect(flagged.code).toBe(2);
  expect(flagged.stderr).toMatch(/--idmap-mode: invalid value "mount": shift for loop; mount is for dir only/);
  // The config's lxc.idmap would do; this one has none, and no idmap is given.
  await fs.writeFile(path.join(lxcPath, "refused", "config"), "lxc.uts.name = refused\n");
  await expect(create({ ...ref, backingStore: "dir", source, idmapMode: "mount" }, {})).rejects.toThrow(
    /^idmapMode: invalid value "mount": shift, or an idmap: .*; neither gives one/,
  );
  await expect(fs.lstat(path.join(lxcPath, "refused", "rootfs"))).rejects.toMatchObject({ code: "ENOENT" });
  // A shift under a user's own idmapped-mount line would be mapped twice.
  await fs.writeFile(path.join(lxcPath, "refused", "config"), `${config("refused")}${OPTION}\n`);
  await expect(create({ ...ref, backingStore: "dir", source }, {})).rejects.toThrow(
    /^idmapMode: invalid value "shift": mount here: .*refused\/config has LXC mount the rootfs idmapped/,
  );
  await expect(fs.lstat(path.join(lxcPath, "refused", "rootfs"))).rejects.toMatchObject({ code: "ENOENT" });

  // An lxcPath on overlayfs, whose mounts the kernel cannot idmap.
  const layers = await tempDir("idmap-mount-overlay");
  const [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map((d) => path.join(layers, d));
  for (const d of [lower, upper, work, merged]) await fs.mkdir(d);
  await must(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    await expect(
      planCreate({ container: "ov", lxcPath: merged, backingStore: "dir", source, idmap: MAP, idmapMode: "mount" }, {}),
    ).rejects.toThrow(
      /^idmapMode: invalid value "mount": shift here: .*\/ov\/rootfs is on overlay, whose mounts the kernel cannot idmap \(LXC's idmap=container needs ext2\/3\/4, xfs, btrfs, tmpfs\)/,
    );
  } finally {
    await must(["umount", merged]);
    await fs.rm(layers, { recursive: true, force: true });
  }
}, 30000);
