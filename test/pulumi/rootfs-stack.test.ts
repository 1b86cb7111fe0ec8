/**
 * Whole-stack behaviour through the real engine: bad input stops a preview; 20 rootfs come up in parallel;
 * an lxcPath spelled another way is an update, not a replacement.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, tempDir, symlinkedLxcPath } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";
import { makeStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

let lxcPath: string;
beforeAll(async () => {
  lxcPath = await tempDir("stack");
});
afterAll(() => expectNoLeaksAndRemove(lxcPath));

it("a bad backingStore stops `pulumi preview`, naming the property; nothing is created", async () => {
  const t = await makeStack("bad", async () => {
    new Rootfs("bad", { container: "bad", lxcPath, backingStore: "nfs" });
  });
  let text = "";
  const err = await t.stack.preview({ onOutput: (s) => (text += s) }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect(text + String((err as Error).message)).toMatch(/backingStore: invalid value "nfs": one of dir, loop, btrfs, overlay, lvm, zfs/);
  await expect(fs.lstat(path.join(lxcPath, "bad"))).rejects.toThrow(/ENOENT/);
  await t.destroy();
});

it("a size that cannot be parsed stops the preview too", async () => {
  const t = await makeStack("badsize", async () => {
    new Rootfs("bad", { container: "bad", lxcPath, backingStore: "loop", size: "2 gigs" });
  });
  let text = "";
  const err = await t.stack.preview({ onOutput: (s) => (text += s) }).catch((e: Error) => e);
  expect(text + String((err as Error).message)).toMatch(/size: invalid value "2 gigs"/);
  await t.destroy();
});

it("a preview of a fresh stack validates what it knows and waits for the rest (an overlay over a dir made in the same stack)", async () => {
  const t = await makeStack("unknowns", async () => {
    const base = new Rootfs("base", { container: "base", lxcPath, backingStore: "dir" });
    const snap = new Rootfs("snap", { container: "snap", lxcPath, backingStore: "overlay", from: base.rootfsPath });
    return { snap: snap.rootfsPath };
  });
  const preview = await t.stack.preview();
  expect(preview.changeSummary).toEqual({ create: 3 });
  const up = await t.stack.up();
  expect(up.outputs.snap.value).toBe(`overlay:${lxcPath}/base/rootfs:${lxcPath}/snap/overlay/delta`);
  await t.destroy();
  expect(await fs.readdir(lxcPath)).toEqual([]);
});

it("20 loop rootfs in one stack come up in parallel and go away", async () => {
  const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const t = await makeStack("twenty", async () => {
    const out: Record<string, unknown> = {};
    for (const n of names) out[n] = new Rootfs(n, { container: n, lxcPath, backingStore: "loop", size: "64M" }).rootfsPath;
    return out;
  });
  const up = await t.stack.up({ parallel: 20 });
  expect(up.summary.resourceChanges).toEqual({ create: 21 });
  for (const n of names) {
    expect(up.outputs[n].value).toBe(`loop:${lxcPath}/${n}/rootdev`);
    expect((await fs.stat(path.join(lxcPath, n, "rootdev"))).size).toBe(64 * 2 ** 20);
  }
  const refresh = await t.stack.refresh({ parallel: 20 });
  expect(refresh.summary.resourceChanges).toEqual({ same: 21 });
  await t.destroy();
  expect(await fs.readdir(lxcPath)).toEqual([]);
});

it("an lxcPath respelled through a symlink to the same directory is an update that keeps the rootfs, never a replacement", async () => {
  const { real, link } = await symlinkedLxcPath(lxcPath);
  let spelling = real;
  const t = await makeStack("respelled", async () => {
    return { rootfsPath: new Rootfs("web", { container: "web", lxcPath: spelling, backingStore: "loop", size: "64M" }).rootfsPath };
  });
  await t.stack.up();
  const image = path.join(real, "web", "rootdev");
  await fs.writeFile(path.join(real, "web", "marker"), "kept");
  const before = await fs.stat(image);
  spelling = link;
  const { result: preview, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(preview.changeSummary).toEqual({ same: 1, update: 1 });
  expect(text).toMatch(/names the same directory/);
  const up = await t.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 1, update: 1 });
  const after = await fs.stat(image);
  expect([after.ino, after.size]).toEqual([before.ino, before.size]);
  expect(await fs.readFile(path.join(real, "web", "marker"), "utf8")).toBe("kept");
  await fs.rm(path.join(real, "web", "marker"));
  const state = await t.stack.exportStack();
  const web = (state.deployment.resources as Array<{ type: string; outputs?: Record<string, unknown> }>).find(
    (r) => r.outputs?.container === "web",
  );
  expect(web?.outputs?.lxcPath).toBe(link);
  const again = await t.stack.preview();
  expect(again.changeSummary).toEqual({ same: 2 });
  await t.destroy();
  expect(await fs.readdir(real)).toEqual([]);
  await fs.rm(link);
  await fs.rmdir(real);
});
