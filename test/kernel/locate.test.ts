/**
 * Finding a rootfs whose config names none: LXC's own names, else where the state last saw it (the
 * ref's rootfsPath), but never a path outside the container directory.
 */
import { promises as fs } from "fs";
import path from "path";
import { createRootfs, destroyRootfs, inspectRootfs } from "../../provider/src/api";
import { cli, cliOk, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";

let lxcPath: string;
let outside: string;
beforeAll(async () => {
  lxcPath = await tempDir("locate");
  outside = await tempDir("locate-outside");
  await fs.mkdir(path.join(outside, "rootfs"));
  await fs.writeFile(path.join(outside, "rootfs", "keep"), "outside");
});
afterAll(async () => {
  await expectNoLeaksAndRemove(lxcPath);
  await fs.rm(outside, { recursive: true, force: true });
});

/** Takes lxc.rootfs.path out of the container's config, as a hand edit would. */
async function forgetInConfig(container: string): Promise<void> {
  const config = path.join(lxcPath, container, "config");
  const text = await fs.readFile(config, "utf8");
  await fs.writeFile(config, text.replace(/^lxc\.rootfs\.path.*\n/m, ""));
}

it("a loop rootfs is found under LXC's own name", async () => {
  await createRootfs({ container: "lp", lxcPath, backingStore: "loop", size: "64M" });
  await forgetInConfig("lp");
  expect(await inspectRootfs({ container: "lp", lxcPath })).toMatchObject({
    backingStore: "loop",
    rootfsPath: `loop:${lxcPath}/lp/rootdev`,
  });
  expect(await destroyRootfs({ container: "lp", lxcPath })).toEqual({ destroyed: true });
});

it("an overlay is found where the state last saw it, and destroyed there", async () => {
  const lower = path.join(lxcPath, "lower");
  await fs.mkdir(lower);
  const created = await createRootfs({ container: "ov", lxcPath, backingStore: "overlay", from: `dir:${lower}` });
  await forgetInConfig("ov");
  expect(await inspectRootfs({ container: "ov", lxcPath })).toBeNull();
  const ref = { container: "ov", lxcPath, rootfsPath: created.rootfsPath };
  expect(await inspectRootfs(ref)).toMatchObject({ backingStore: "overlay", rootfsPath: created.rootfsPath });
  expect(await destroyRootfs(ref)).toEqual({ destroyed: true });
  await expect(fs.lstat(path.join(lxcPath, "ov"))).rejects.toThrow(/ENOENT/);
  await fs.rmdir(lower);
});

it("a recorded place outside the container directory is never used", async () => {
  await fs.mkdir(path.join(lxcPath, "away"));
  await fs.writeFile(path.join(lxcPath, "away", "config"), "lxc.uts.name = away\n");
  const before = await treeDigest(outside);
  const ref = { container: "away", lxcPath, rootfsPath: `dir:${outside}/rootfs` };
  expect(await inspectRootfs(ref)).toBeNull();
  expect(await destroyRootfs(ref)).toEqual({ destroyed: false, reason: "no rootfs found" });
  expect(await treeDigest(outside)).toBe(before);
  await fs.rm(path.join(lxcPath, "away"), { recursive: true });
});

it("the CLI names the place with --rootfs-path, and refuses store flags on destroy, saying how to find the rootfs", async () => {
  const lower = path.join(lxcPath, "lower2");
  await fs.mkdir(lower);
  const created = await cliOk(["create", "--lxcpath", lxcPath, "--name", "ov2", "--backing-store", "overlay", "--from", `dir:${lower}`]);
  await forgetInConfig("ov2");
  const flagged = await cli(["destroy", "--lxcpath", lxcPath, "--name", "ov2", "--backing-store", "overlay"]);
  expect(flagged.code).toBe(2);
  expect(flagged.stderr).toMatch(
    /^lxc-rootfs: --backing-store does not apply to destroy; the rootfs is found from the container's config, or named with --rootfs-path/,
  );
  expect(await cliOk(["destroy", "--lxcpath", lxcPath, "--name", "ov2", "--rootfs-path", created.rootfsPath])).toEqual({ destroyed: true });
  await expect(fs.lstat(path.join(lxcPath, "ov2"))).rejects.toThrow(/ENOENT/);
  await fs.rmdir(lower);
});
