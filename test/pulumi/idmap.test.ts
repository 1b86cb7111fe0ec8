/**
 * `idmap` through the real engine, with the dynamic provider: the preview says the owners are shifted into
 * the map, `up` makes the rootfs owned by the map's root and records the map as the output `idmap`, a
 * refresh keeps it, the same map changes nothing; another map is an update that shifts the owners in place,
 * the preview naming the files, the data kept; `[]` makes it privileged again. On dir, a refresh sees owners
 * chowned out of the map by hand, and the next up shifts them back; `idmapMode: "mount"` then shifts them
 * in place to none and writes LXC's idmapped-mount line, which a refresh takes for no drift.
 */
import { createHash } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import { must, REPO, tempDir, withImageMounted } from "../helpers/env";
import { imageFixtures } from "../helpers/images";
import { destroyStackUnder, makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const PROXMOX = [{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }];
let lxcPath: string;
let idmap: Record<string, unknown>[];
let t: TestStack;
let drift: TestStack;
let dirPath: string;
let idmapMode: string | undefined;

/** The owner of the loop image's root directory and of its setuid binary, and that binary's mode. */
function owners(): Promise<string> {
  return withImageMounted(path.join(lxcPath, "web", "rootdev"), lxcPath, async (root) => {
    const [top, suid] = await Promise.all([fs.stat(root), fs.stat(path.join(root, "usr", "bin", "setuid-root"))]);
    return `${top.uid}:${top.gid} ${suid.uid}:${suid.gid} ${(suid.mode & 0o7777).toString(8)}`;
  });
}

/** The sha256 of busybox itself: the data a shift keeps. */
function data(): Promise<string> {
  return withImageMounted(path.join(lxcPath, "web", "rootdev"), lxcPath, async (root) =>
    createHash("sha256")
      .update(await fs.readFile(path.join(root, "bin", "busybox")))
      .digest("hex"),
  );
}

beforeAll(async () => {
  lxcPath = await tempDir("idmap-engine");
  const source = { url: imageFixtures().busybox.tarball };
  t = await makeStack("idmap-dynamic", async () => {
    const r = new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size: "64M", source, idmap });
    return { idmap: r.idmap };
  });
});
afterAll(async () => {
  await destroyStackUnder(t, lxcPath);
  if (drift) await destroyStackUnder(drift, dirPath);
});

it("shifts the rootfs at create, records the map, keeps it on refresh, and shifts it in place to another and back", async () => {
  idmap = PROXMOX;
  const preview = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(preview.text).toMatch(/; its owners then shifted into u\/g 0:100000:65536/);
  const up = await t.run((onOutput) => t.stack.up({ onOutput }));
  expect(up.result.outputs.idmap.value).toEqual(PROXMOX);
  expect(await owners()).toBe("100000:100000 100000:100000 4755");
  await t.run((onOutput) => t.stack.refresh({ onOutput }));
  expect((await t.stack.outputs()).idmap.value).toEqual(PROXMOX);
  expect((await t.run((onOutput) => t.stack.preview({ onOutput }))).result.changeSummary).toEqual({ same: 2 });

  const kept = await data();

  idmap = [{ kind: "both", containerId: 0, hostId: 200000, size: 65536 }];
  const shift = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(shift.result.changeSummary).toEqual({ same: 1, update: 1 });
  expect(shift.text).toMatch(/shift the owners of about \d+ files in place from u\/g 0:100000:65536 to u\/g 0:200000:65536/);
  expect(await owners()).toBe("100000:100000 100000:100000 4755");
  const moved = await t.run((onOutput) => t.stack.up({ onOutput }));
  expect(moved.result.outputs.idmap.value).toEqual(idmap);
  expect(await owners()).toBe("200000:200000 200000:200000 4755");
  expect(await data()).toBe(kept);

  // Privileged again.
  idmap = [];
  const back = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(back.text).toMatch(/shift the owners of about \d+ files in place from u\/g 0:200000:65536 to none \(privileged\)/);
  await t.run((onOutput) => t.stack.up({ onOutput }));
  expect(await owners()).toBe("0:0 0:0 4755");
  expect(await data()).toBe(kept);
  expect((await t.run((onOutput) => t.stack.preview({ onOutput }))).result.changeSummary).toEqual({ same: 2 });
});

it("on dir, a refresh shows owners chowned out of the map by hand, and the next up shifts them back", async () => {
  dirPath = await tempDir("idmap-drift");
  const source = { url: imageFixtures().busybox.tarball };
  drift = await makeStack("idmap-drift", async () => {
    const r = new Rootfs("tree", { container: "tree", lxcPath: dirPath, backingStore: "dir", source, idmap: PROXMOX, idmapMode });
    return { idmap: r.idmap };
  });
  const root = path.join(dirPath, "tree", "rootfs");
  await drift.run((onOutput) => drift.stack.up({ onOutput }));
  expect((await fs.stat(root)).uid).toBe(100000);
  // Made privileged by hand: chown does not touch ACL entries, which are cleared (a shift back would refuse their ids).
  await must(["chown", "-hR", "0:0", root]);
  await must(["setfacl", "-R", "-b", "-k", path.join(root, "srv", "acl")]);

  await drift.run((onOutput) => drift.stack.refresh({ onOutput }));
  // The stack's outputs are the program's, from the last up: the resource's own in the state are refreshed.
  const state = await drift.stack.exportStack();
  const tree = state.deployment.resources.find((r: { outputs?: { container?: string } }) => r.outputs?.container === "tree");
  expect(tree.outputs.idmap).toEqual([]);
  const back = await drift.run((onOutput) => drift.stack.preview({ onOutput }));
  expect(back.text).toMatch(/shift the owners of \d+ files in place from none \(privileged\) to u\/g 0:100000:65536/);
  await drift.run((onOutput) => drift.stack.up({ onOutput }));
  expect(await must(["stat", "-c", "%u:%g", root, path.join(root, "usr", "bin", "setuid-root")])).toBe("100000:100000\n100000:100000\n");
  expect((await drift.stack.outputs()).idmap.value).toEqual(PROXMOX);
  expect((await drift.run((onOutput) => drift.stack.preview({ onOutput }))).result.changeSummary).toEqual({ same: 2 });

  // LXC's idmapped mount: the owners back to host root's, in place, and the config's line written.
  idmapMode = "mount";
  const toMount = await drift.run((onOutput) => drift.stack.preview({ onOutput }));
  expect(toMount.text).toMatch(
    /shift the owners of \d+ files in place from u\/g 0:100000:65536 to none \(privileged\); then write lxc\.rootfs\.options = idmap=container/,
  );
  await drift.run((onOutput) => drift.stack.up({ onOutput }));
  expect(await must(["stat", "-c", "%u:%g", root])).toBe("0:0\n");
  expect(await fs.readFile(path.join(dirPath, "tree", "config"), "utf8")).toContain("lxc.rootfs.options = idmap=container");
  await drift.run((onOutput) => drift.stack.refresh({ onOutput }));
  const mounted = (await drift.stack.exportStack()).deployment.resources.find(
    (r: { outputs?: { container?: string } }) => r.outputs?.container === "tree",
  );
  expect(mounted.outputs).toMatchObject({ idmapMode: "mount", idmap: PROXMOX });
  expect((await drift.run((onOutput) => drift.stack.preview({ onOutput }))).result.changeSummary).toEqual({ same: 2 });
});
