/**
 * The symlink race of issue 23, made deterministic: at each destructive step of destroy, update and
 * snapshot-destroy, LXC_ROOTFS_RACEPOINT renames the container directory away and puts a symlink to a
 * victim in its place, as an attacker timing it perfectly would. The victim, laid out with every name an
 * operation touches, is never changed, and the answer is an error, never a success.
 */
import { promises as fs } from "fs";
import path from "path";
import { cli, cliOk, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";

/** A container directory in every shape these operations reach into: a rootfs, an image, a snapshot, journals. */
async function makeVictim(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, "rootfs", "etc"), { recursive: true });
  await fs.writeFile(path.join(dir, "rootfs", "etc", "precious"), "the victim's data\n");
  await fs.writeFile(path.join(dir, "config"), `lxc.rootfs.path = dir:${dir}/rootfs\nlxc.uts.name = victim\n`);
  await fs.writeFile(path.join(dir, "rootdev"), Buffer.alloc(8192, 3));
  for (const old of ["rootfs.lxc-rootfs-old", "rootfs.lxc-rootfs-new"]) {
    await fs.mkdir(path.join(dir, old));
    await fs.writeFile(path.join(dir, old, "kept"), old);
  }
  await fs.writeFile(path.join(dir, "rootdev.lxc-rootfs-old"), Buffer.alloc(4096, 5));
  await fs.mkdir(path.join(dir, "snaps", "s1", "rootfs"), { recursive: true });
  await fs.writeFile(path.join(dir, "snaps", "s1", "config"), `lxc.rootfs.path = loop:${dir}/snaps/s1/rootdev\n`);
  await fs.writeFile(path.join(dir, "snaps", "s1", "rootdev"), Buffer.alloc(4096, 9));
  await fs.mkdir(path.join(dir, ".lxc-rootfs"));
  await fs.writeFile(path.join(dir, ".lxc-rootfs", "note"), "the victim's own work directory\n");
}

type Setup = (lxcPath: string) => Promise<void>;
const create =
  (store: string, ...more: string[]): Setup =>
  async (lxcPath) => {
    await cliOk(["create", "--lxcpath", lxcPath, "--name", "c", "--backing-store", store, ...more]);
    // A dir rootfs holds a file, so that removing it is work, not an empty rmdir.
    if (store === "dir") await fs.writeFile(path.join(lxcPath, "c", "rootfs", "own"), "own data\n");
  };
const withSnapshot =
  (store: string, ...more: string[]): Setup =>
  async (lxcPath) => {
    await create(store, ...more)(lxcPath);
    await cliOk(["snapshot", "--lxcpath", lxcPath, "--name", "c", "--snapshot", "s1"]);
  };

/** [operation, the step raced (LXC_ROOTFS_RACEPOINT), how the container is made, the command]. */
const CASES: Array<[string, string, Setup, string[]]> = [
  ["destroy dir", "remove-tree", create("dir"), ["destroy"]],
  ["destroy dir", "read#2", create("dir"), ["destroy"]],
  ["destroy loop", "remove-file", create("loop", "--size", "32M"), ["destroy"]],
  ["destroy loop", "remove-empty-dir", create("loop", "--size", "32M"), ["destroy"]],
  ["update dir→loop", "write-file", create("dir"), ["update", "--backing-store", "loop", "--size", "32M"]],
  ["update dir→loop", "rename", create("dir"), ["update", "--backing-store", "loop", "--size", "32M"]],
  ["update dir→loop", "rename#2", create("dir"), ["update", "--backing-store", "loop", "--size", "32M"]],
  ["update dir→loop", "commit-file#3", create("dir"), ["update", "--backing-store", "loop", "--size", "32M"]],
  ["update dir→loop", "remove-tree", create("dir"), ["update", "--backing-store", "loop", "--size", "32M"]],
  ["update loop→dir", "remove-file", create("loop", "--size", "32M"), ["update", "--backing-store", "dir"]],
  ["snapshot-destroy", "remove-file", withSnapshot("loop", "--size", "32M"), ["snapshot-destroy", "--snapshot", "s1"]],
  ["snapshot-destroy", "remove-file#2", withSnapshot("loop", "--size", "32M"), ["snapshot-destroy", "--snapshot", "s1"]],
  ["snapshot-destroy", "remove-tree", withSnapshot("loop", "--size", "32M"), ["snapshot-destroy", "--snapshot", "s1"]],
];

describe("the container directory swapped for a symlink at a destructive step", () => {
  it.each(CASES)("%s, raced at %s: the victim is untouched and the answer is an error", async (_op, step, setup, args) => {
    const lxcPath = await tempDir("race");
    // A victim of its own per case: one case that reached it cannot make the others fail.
    const victim = path.join(await tempDir("race-victim"), "c");
    await makeVictim(victim);
    const victimDigest = await treeDigest(path.dirname(victim));
    try {
      await setup(lxcPath);
      const [command, ...rest] = args;
      const r = await cli([command, "--lxcpath", lxcPath, "--name", "c", ...rest], {
        LXC_ROOTFS_RACEPOINT: step,
        LXC_ROOTFS_RACE_VICTIM: victim,
      });
      // The race did happen: the container directory is a symlink to the victim now.
      expect((await fs.lstat(path.join(lxcPath, "c"))).isSymbolicLink()).toBe(true);
      expect(await treeDigest(path.dirname(victim))).toBe(victimDigest);
      expect(r.code).toBe(1);
      expect(r.json?.destroyed).not.toBe(true);
      expect(r.stderr).toMatch(/was replaced while this operation ran/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      await expectNoLeaks(lxcPath);
    } finally {
      await fs.rm(lxcPath, { recursive: true, force: true });
      await fs.rm(path.dirname(victim), { recursive: true, force: true });
    }
  });
});
