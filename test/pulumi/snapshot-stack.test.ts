/**
 * RootfsSnapshot through the real engine (the dynamic provider): a stack takes a snapshot of its rootfs
 * and destroys them in order; a preview says how a snapshot will be taken; a store change keeps the
 * snapshot; refresh drops one deleted on the host and refuses one re-created there; a rootfs that still
 * has snapshots is not destroyed.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, makeSampleTree, must, tempDir, treeDigest, symlinkedLxcPath } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";
import { makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs, RootfsSnapshot } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

let lxcPath: string;
let seed: string;
let seedDigest: string;

beforeAll(async () => {
  lxcPath = await tempDir("snapstack");
  seed = path.join(lxcPath, "seed");
  await makeSampleTree(seed, 8);
  seedDigest = await treeDigest(seed);
});
afterAll(() => expectNoLeaksAndRemove(lxcPath));

/** A stack of one rootfs (its container named after the stack) and snapshots of it by name. */
function webStack(label: string, store: () => string, snapshots: () => string[]): Promise<TestStack> {
  return makeStack(label, async () => {
    const web = new Rootfs("web", {
      container: label,
      lxcPath,
      backingStore: store(),
      size: store() === "loop" ? "256M" : undefined,
      from: `dir:${seed}`,
    });
    const out: Record<string, unknown> = { web: web.rootfsPath };
    for (const name of snapshots()) {
      const s = new RootfsSnapshot(name, { container: web.container, lxcPath, name, comment: `kept as ${name}` });
      out[name] = s.rootfsPath;
      out[`${name}Method`] = s.method;
    }
    return out;
  });
}

it("takes a snapshot in the stack, keeps it through a store change, and destroys both in order", async () => {
  let store = "dir";
  let snaps = ["pre-upgrade"];
  const t = await webStack(
    "order",
    () => store,
    () => snaps,
  );
  const up = await t.stack.up();
  expect(up.summary.resourceChanges).toEqual({ create: 3 });
  expect(up.outputs["pre-upgrade"].value).toBe(`dir:${lxcPath}/order/snaps/pre-upgrade/rootfs`);
  expect(up.outputs["pre-upgradeMethod"].value).toBe("cp");
  expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", "order", "-L"])).toContain("pre-upgrade");

  // A new snapshot of a rootfs that exists: the preview says how, and what it moves.
  snaps = ["pre-upgrade", "second"];
  const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(text).toMatch(
    new RegExp(`snapshot second of ${lxcPath}/order: snapshot second of dir:${lxcPath}/order/rootfs: a copy of the files, \\d+ MiB`),
  );
  await t.stack.up();

  // The rootfs moves to loop; its snapshots are copies of their own and stay, as the preview says.
  store = "loop";
  const moved = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(moved.text).toMatch(/snapshots pre-upgrade, second stay as they are/);
  await t.stack.up();
  expect(await treeDigest(path.join(lxcPath, "order", "snaps", "pre-upgrade", "rootfs"))).toBe(seedDigest);

  await t.destroy();
  expect(await fs.readdir(lxcPath)).toEqual(["seed"]);
});

it("refresh drops a snapshot deleted on the host, and refuses one re-created there", async () => {
  let snaps = ["keep", "gone"];
  const t = await webStack(
    "refresh",
    () => "dir",
    () => snaps,
  );
  await t.stack.up();
  await must(["lxc-snapshot", "-P", lxcPath, "-n", "refresh", "-d", "gone"]);
  const refreshed = await t.stack.refresh();
  expect(refreshed.summary.resourceChanges).toMatchObject({ delete: 1, same: 3 });
  snaps = ["keep"];
  expect((await t.stack.preview()).changeSummary).toEqual({ same: 3 });

  // Read from another time zone (a runner on UTC, a laptop elsewhere), it is still the one taken; a
  // comment edited on the host does not make the program's differ, which would take the snapshot again.
  await fs.writeFile(path.join(lxcPath, "refresh", "snaps", "keep", "comment"), "edited on the host\n");
  const tz = process.env.TZ;
  process.env.TZ = "Asia/Tokyo";
  try {
    await t.stack.refresh();
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
  expect((await t.stack.preview()).changeSummary).toEqual({ same: 3 });

  // Someone re-takes "keep" by hand: other data under the recorded name.
  await must(["lxc-snapshot", "-P", lxcPath, "-n", "refresh", "-d", "keep"]);
  await new Promise((r) => setTimeout(r, 1100));
  await must([
    "node",
    path.join(REPO, "bin", "lxc-rootfs.js"),
    "snapshot",
    "--lxcpath",
    lxcPath,
    "--name",
    "refresh",
    "--snapshot",
    "keep",
  ]);
  const err = await t.stack.refresh().catch((e: Error) => e);
  expect(String(err)).toMatch(/refresh\/snaps\/keep is not the snapshot this stack took/);
  // A destroy refuses it too, and leaves it: it is not this stack's.
  expect(String(await t.stack.destroy().catch((e: Error) => e))).toMatch(/is not the snapshot this stack took/);
  expect(await must(["lxc-snapshot", "-P", lxcPath, "-n", "refresh", "-L"])).toContain("keep");
  await must(["lxc-snapshot", "-P", lxcPath, "-n", "refresh", "-d", "keep"]);
  await t.stack.refresh();
  await t.destroy();
  expect(await fs.readdir(lxcPath)).toEqual(["seed"]);
});

it("a rootfs with a snapshot the stack does not hold is not destroyed, and the error names it", async () => {
  const t = await webStack(
    "refused",
    () => "dir",
    () => [],
  );
  await t.stack.up();
  await must(["lxc-snapshot", "-P", lxcPath, "-n", "refused"]);
  const err = await t.stack.destroy().catch((e: Error) => e);
  expect(String(err)).toMatch(new RegExp(`${lxcPath}/refused has snapshots snap0: destroy them first`));
  expect(await treeDigest(path.join(lxcPath, "refused", "rootfs"))).toBe(seedDigest);
  await must(["lxc-snapshot", "-P", lxcPath, "-n", "refused", "-d", "snap0"]);
  await t.destroy();
  expect(await fs.readdir(lxcPath)).toEqual(["seed"]);
});

it("an lxcPath respelled through a symlink to the same directory keeps the snapshot: an update that records it, never a replacement", async () => {
  const { real, link } = await symlinkedLxcPath(lxcPath);
  let spelling = real;
  const t = await makeStack("respelled", async () => {
    const web = new Rootfs("web", { container: "web", lxcPath: spelling, backingStore: "dir", from: `dir:${seed}` });
    const s = new RootfsSnapshot("s1", { container: web.container, lxcPath: spelling, name: "s1" });
    return { createdAt: s.createdAt };
  });
  const up = await t.stack.up();
  const snapDir = path.join(real, "web", "snaps", "s1");
  const before = await fs.stat(snapDir);
  const snapDigest = await treeDigest(path.join(snapDir, "rootfs"));
  spelling = link;
  const { result: preview, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(preview.changeSummary).toEqual({ same: 1, update: 2 });
  expect(text).toMatch(/snapshot s1 of .*link\/web: .*names the same directory/);
  const again = await t.stack.up();
  expect(again.summary.resourceChanges).toEqual({ same: 1, update: 2 });
  expect(again.outputs.createdAt.value).toBe(up.outputs.createdAt.value);
  expect((await fs.stat(snapDir)).ino).toBe(before.ino);
  expect(await treeDigest(path.join(snapDir, "rootfs"))).toBe(snapDigest);
  expect((await t.stack.preview()).changeSummary).toEqual({ same: 3 });
  await t.destroy();
  expect(await fs.readdir(real)).toEqual([]);
  await fs.rm(link);
  await fs.rmdir(real);
});

it("a new comment replaces the snapshot under its name: the preview passes, and up deletes it, then takes it again", async () => {
  let comment = "first";
  const t = await makeStack("recomment", async () => {
    const web = new Rootfs("web", { container: "recomment", lxcPath, backingStore: "dir", from: `dir:${seed}` });
    const s = new RootfsSnapshot("pre", { container: web.container, lxcPath, name: "pre", comment });
    return { snap: s.rootfsPath };
  });
  await t.stack.up();
  const commentFile = path.join(lxcPath, "recomment", "snaps", "pre", "comment");
  expect(await fs.readFile(commentFile, "utf8")).toBe("first\n");
  comment = "second";
  const { result: preview, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(preview.changeSummary).toEqual({ same: 2, replace: 1 });
  expect(text).toContain(`snapshot pre of ${lxcPath}/recomment: taken again once the snapshot it replaces is deleted`);
  const { result: up } = await t.run((onOutput) => t.stack.up({ onOutput }));
  expect(up.summary.resourceChanges).toEqual({ same: 2, replace: 1 });
  expect(await fs.readFile(commentFile, "utf8")).toBe("second\n");
  expect(await treeDigest(path.join(lxcPath, "recomment", "snaps", "pre", "rootfs"))).toBe(seedDigest);
  await t.destroy();
});

it("a rootfs renamed (replaced) with a snapshot the stack holds: preview and up pass, the snapshot is taken again of the new one, the old is gone", async () => {
  let container = "ren";
  const t = await makeStack("rename", async () => {
    const web = new Rootfs("web", { container, lxcPath, backingStore: "dir", from: `dir:${seed}` });
    const s = new RootfsSnapshot("pre", { container: web.container, lxcPath, name: "pre" });
    return { snap: s.rootfsPath };
  });
  await t.stack.up();
  container = "ren2";
  const { result: preview } = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(preview.changeSummary).toEqual({ same: 1, replace: 2 });
  const { result: up } = await t.run((onOutput) => t.stack.up({ onOutput }));
  expect(up.outputs.snap.value).toBe(`dir:${lxcPath}/ren2/snaps/pre/rootfs`);
  expect(await treeDigest(path.join(lxcPath, "ren2", "snaps", "pre", "rootfs"))).toBe(seedDigest);
  await expect(fs.lstat(path.join(lxcPath, "ren"))).rejects.toThrow(/ENOENT/);
  await t.destroy();
});
