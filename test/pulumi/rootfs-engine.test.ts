/**
 * The Rootfs resource through the real Pulumi engine: up, an empty preview and refresh, a backing-store
 * change that keeps the data, a grow in place, drift found by refresh, re-creation, destroy.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, cliOk, makeSampleTree, must, tempDir, treeDigest, imageDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { destroyStackUnder, makeStack, serializedProviders, TestStack } from "../helpers/pulumi";

// The compiled package, as a user gets it: what the engine's dynamic provider host will load.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const M = 2 ** 20;
let lxcPath: string;
let seed: string;
let seedDigest: string;
let desired: Record<string, unknown>;
let t: TestStack;

beforeAll(async () => {
  lxcPath = await tempDir("engine");
  seed = path.join(lxcPath, "seed");
  await fs.mkdir(seed);
  await makeSampleTree(seed, 2);
  seedDigest = await treeDigest(seed);
  desired = { container: "web", lxcPath, backingStore: "loop", size: "256M", fstype: "ext4", from: `dir:${seed}` };
  t = await makeStack("engine", async () => {
    const r = new Rootfs("web", desired);
    return { rootfsPath: r.rootfsPath, sizeBytes: r.sizeBytes, backingStore: r.backingStore, fstype: r.fstype };
  });
});

afterAll(() => destroyStackUnder(t, lxcPath));

const image = () => path.join(lxcPath, "web", "rootdev");

describe("Rootfs through the engine", () => {
  it("up creates a sparse 256M ext4 image filled from `from`", async () => {
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.summary.resourceChanges).toMatchObject({ create: 2 });
    expect(result.outputs.rootfsPath.value).toBe(`loop:${image()}`);
    expect(result.outputs.sizeBytes.value).toBe(256 * M);
    expect((await fs.stat(image())).size).toBe(256 * M);
    expect(await imageDigest(image(), lxcPath)).toBe(seedDigest);
  });

  it("serializes a provider that holds no koffi and no native path", async () => {
    const providers = await serializedProviders(t.stack);
    expect(providers.length).toBe(1);
    expect(providers[0]).toMatch(/adapters\/dynamic\/impl\.js/);
    expect(providers[0]).not.toMatch(/koffi|\.node\b|libc\.so/);
  });

  it("a provider serialized by an earlier version, which loads pulumi/dynamic-impl.js, gets the same implementation", () => {
    const dist = path.join(REPO, "dist", "provider", "src");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const [old, now] = [require(path.join(dist, "pulumi", "dynamic-impl.js")), require(path.join(dist, "adapters", "dynamic", "impl.js"))];
    for (const method of ["check", "diff", "create", "read", "update", "remove"]) expect(old[method]).toBe(now[method]);
  });

  it("a second preview and a refresh show no changes", async () => {
    const { result: preview } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(preview.changeSummary).toEqual({ same: 2 });
    const { result: refresh } = await t.run((onOutput) => t.stack.refresh({ onOutput }));
    expect(refresh.summary.resourceChanges).toEqual({ same: 2 });
  });

  it('"256M" and 268435456 are the same size: no diff', async () => {
    desired.size = 268435456;
    const { result } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(result.changeSummary).toEqual({ same: 2 });
  });

  it("loop → dir: the preview says update and what it will cost; the data survives", async () => {
    desired.backingStore = "dir";
    delete desired.size;
    delete desired.fstype;
    // `preview --diff` shows the property change; it prints the provider's lines on stderr, which the
    // Automation API's output leaves out (the README's Limits say so; cli.test.ts reads the CLI's stderr).
    const plan = /rootfs .*\/web: copy \d+ MiB file by file from loop ext4 256 MiB into a new dir/;
    const { result: diffPreview, text: diffText } = await t.run((onOutput) => t.stack.preview({ onOutput, diff: true }));
    expect(diffPreview.changeSummary).toEqual({ same: 1, update: 1 });
    expect(diffText).toMatch(/~ backingStore: "loop" => "dir"/);
    expect(diffText).not.toMatch(plan);
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toMatch(plan);
    const { result: up, text: upText } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(up.summary.resourceChanges).toEqual({ same: 1, update: 1 });
    expect(upText).toMatch(/updated by file-copy \(cp\)/);
    expect(up.outputs.backingStore.value).toBe("dir");
    expect(await treeDigest(path.join(lxcPath, "web", "rootfs"))).toBe(seedDigest);
    await expect(fs.lstat(image())).rejects.toThrow(/ENOENT/);
  });

  it("back to loop, then a larger size grows in place", async () => {
    Object.assign(desired, { backingStore: "loop", size: "256M", fstype: "ext4" });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    desired.size = "512M";
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toMatch(/grow in place: loop ext4 256 MiB → 512 MiB/);
    const { result, text: upText } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(upText).toMatch(/updated by grow-in-place/);
    expect(result.outputs.sizeBytes.value).toBe(512 * M);
    expect((await fs.stat(image())).size).toBe(512 * M);
    expect(await imageDigest(image(), lxcPath)).toBe(seedDigest);
  });

  it("refresh shows an image resized out of band", async () => {
    await must(["truncate", "-s", "640M", image()]);
    await must(["e2fsck", "-fy", image()]);
    await must(["resize2fs", image()]);
    const { result } = await t.run((onOutput) => t.stack.refresh({ onOutput }));
    expect(result.summary.resourceChanges).toMatchObject({ update: 1 });
    const outputs = await t.stack.outputs();
    // Stack outputs are recomputed on the next up; the resource's state already holds the new size.
    const state = await t.stack.exportStack();
    const web = state.deployment.resources.find((r: { type: string }) => r.type === "pulumi-nodejs:dynamic/lxc:Rootfs");
    expect(web.outputs.sizeBytes).toBe(640 * M);
    expect(outputs.sizeBytes.value).toBe(512 * M);
    // The next preview puts it back to the declared size: a shrink, which ext4 allows offline.
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toMatch(/shrink in place \(offline\): loop ext4 640 MiB → 512 MiB/);
  });

  it("refresh shows an image reformatted out of band", async () => {
    await must(["mkfs.xfs", "-f", "-q", image()]);
    await t.run((onOutput) => t.stack.refresh({ onOutput }));
    const state = await t.stack.exportStack();
    const web = state.deployment.resources.find((r: { type: string }) => r.type === "pulumi-nodejs:dynamic/lxc:Rootfs");
    expect(web.outputs.fstype).toBe("xfs");
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toMatch(/copy \d+ MiB file by file from loop xfs 640 MiB into a new loop ext4 512 MiB/);
  });

  it("a rootfs deleted out of band drops out of the state on refresh, and up recreates it", async () => {
    await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "web"]);
    const { result: refresh } = await t.run((onOutput) => t.stack.refresh({ onOutput }));
    expect(refresh.summary.resourceChanges).toMatchObject({ delete: 1 });
    const { result: up } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(up.summary.resourceChanges).toMatchObject({ create: 1 });
    expect((await fs.stat(image())).size).toBe(512 * M);
    expect(await imageDigest(image(), lxcPath)).toBe(seedDigest);
  });

  it("destroy leaves no image, no mount and no loop device", async () => {
    const { result } = await t.run((onOutput) => t.stack.destroy({ onOutput }));
    expect(result.summary.resourceChanges).toMatchObject({ delete: 2 });
    await expect(fs.lstat(path.join(lxcPath, "web"))).rejects.toThrow(/ENOENT/);
    await expectNoLeaks(lxcPath);
  });
});
