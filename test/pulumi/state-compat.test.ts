/**
 * Stacks made by an earlier version keep working: the state of fixtures/state-0.1.0 (a loop Rootfs and a
 * snapshot of it, whose serialized providers load the implementation by its path in dist/) refreshes,
 * previews with no changes, updates and destroys under this code.
 */
import { promises as fs } from "fs";
import path from "path";
import { inspectRootfsSnapshot } from "../../provider/src/api";
import { cliOk, REPO, tempDir } from "../helpers/env";
import { destroyStackUnder, makeStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs, RootfsSnapshot } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

it("a stack written by 0.1.0 refreshes, previews clean, updates and destroys", async () => {
  const lxcPath = await tempDir("state-compat");
  // The host as that stack left it: what its two resources made.
  await cliOk(["create", "--lxcpath", lxcPath, "--name", "web", "--backing-store", "loop", "--size", "64M", "--fstype", "ext4"]);
  await cliOk(["snapshot", "--lxcpath", lxcPath, "--name", "web", "--snapshot", "s1", "--comment", "before"]);
  const taken = await inspectRootfsSnapshot({ container: "web", lxcPath, name: "s1" });
  const text = await fs.readFile(path.join(__dirname, "fixtures", "state-0.1.0", "deployment.json"), "utf8");
  const deployment = JSON.parse(text.replaceAll("@REPO@", REPO).replaceAll("@LXCPATH@", lxcPath));
  for (const r of deployment.resources) {
    // The moment a snapshot was taken is the host's: this one's, not the fixture's.
    if (r.outputs?.timestamp) Object.assign(r.outputs, { createdAt: taken!.createdAt, timestamp: taken!.timestamp });
  }
  let size = "64M";
  const t = await makeStack("state-compat", async () => {
    const web = new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size, fstype: "ext4" });
    const s = new RootfsSnapshot("s1", { container: web.container, lxcPath, name: "s1", comment: "before" });
    return { rootfsPath: web.rootfsPath, snapshot: s.rootfsPath };
  });
  await t.stack.importStack({ version: 3, deployment });
  const refresh = await t.stack.refresh();
  expect(refresh.summary.resourceChanges).toEqual({ same: 3 });
  expect((await t.stack.preview()).changeSummary).toEqual({ same: 3 });
  size = "128M";
  const up = await t.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 2, update: 1 });
  expect((await fs.stat(path.join(lxcPath, "web", "rootdev"))).size).toBe(128 * 2 ** 20);
  await destroyStackUnder(t, lxcPath);
});
