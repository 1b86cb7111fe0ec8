/**
 * The scaffolding the language examples (examples/yaml, examples/python, examples/go) share: a `pulumi`
 * CLI project on a scratch btrfs lxcPath, and the checks of the one scenario every example plays: a loop
 * rootfs created, a marker written inside it, a move to btrfs that keeps the marker, and a clean end.
 */
import { promises as fs } from "fs";
import path from "path";
import { must, sh } from "./env";
import { CliProject, cliProject } from "./pulumi";

export interface Example extends CliProject {
  /** A btrfs filesystem of its own (a loop-mounted image), so the move to btrfs has somewhere to go. */
  lxcPath: string;
  /** The loop image the example creates first, and the subvolume it moves to. */
  image: string;
  subvolume: string;
  /** Unmounts the scratch btrfs, checks that nothing is left attached or mounted, removes it all. */
  cleanup(): Promise<void>;
}

export async function exampleOnBtrfs(label: string, project: string, stack: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Example> {
  const cli = await cliProject(label, project, stack, extraEnv);
  const lxcPath = path.join(cli.work, "btrfs");
  await fs.mkdir(lxcPath);
  await must(["truncate", "-s", "1G", path.join(cli.work, "btrfs.img")]);
  await must(["mkfs.btrfs", "-q", path.join(cli.work, "btrfs.img")]);
  await must(["mount", "-o", "loop", path.join(cli.work, "btrfs.img"), lxcPath]);
  const init = await cli.pulumi("stack", "init", stack);
  if (init.code !== 0) throw new Error(`pulumi stack init ${stack}: ${init.text}`);
  const set = await cli.pulumi("config", "set", "lxcPath", lxcPath);
  if (set.code !== 0) throw new Error(`pulumi config set lxcPath: ${set.text}`);
  return {
    ...cli,
    lxcPath,
    image: path.join(lxcPath, "web", "rootdev"),
    subvolume: path.join(lxcPath, "web", "rootfs"),
    async cleanup() {
      await sh(["umount", lxcPath]);
      await cli.cleanup();
    },
  };
}

const MARKER = "kept across the move\n";

/** The first up made a 256 MiB ext4 loop image; a marker is written inside it, which the move must keep. */
export async function expectLoopAndMark(ex: Example): Promise<void> {
  expect((await fs.stat(ex.image)).size).toBe(256 * 2 ** 20);
  expect(await must(["blkid", "-o", "value", "-s", "TYPE", ex.image])).toBe("ext4\n");
  const mp = path.join(ex.work, "mnt");
  await fs.mkdir(mp, { recursive: true });
  await must(["mount", "-o", "loop", ex.image, mp]);
  try {
    await fs.writeFile(path.join(mp, "marker"), MARKER);
  } finally {
    await must(["umount", mp]);
  }
}

/** After the move: a btrfs subvolume holding the marker, and no image left. */
export async function expectMovedToBtrfs(ex: Example): Promise<void> {
  expect(await must(["btrfs", "subvolume", "show", ex.subvolume])).toMatch(/Name:\s+rootfs/);
  expect(await fs.readFile(path.join(ex.subvolume, "marker"), "utf8")).toBe(MARKER);
  await expect(fs.lstat(ex.image)).rejects.toThrow(/ENOENT/);
}

/** After destroy: the container directory is gone. */
export async function expectDestroyed(ex: Example): Promise<void> {
  await expect(fs.lstat(path.dirname(ex.image))).rejects.toThrow(/ENOENT/);
}

/**
 * The scenario through the `pulumi` CLI, for an example `pulumi up` runs in its project directory: up,
 * the marker, `config set backingStore btrfs`, a preview that plans the copy as an update, the move, an
 * empty preview, destroy. `checkOutput` sees what each up printed.
 */
export async function playThroughCli(ex: Example, checkOutput: (text: string) => void = () => {}): Promise<void> {
  const { lxcPath, pulumi } = ex;
  const up = await pulumi("up", "--yes");
  if (up.code !== 0) throw new Error(up.text);
  checkOutput(up.text);
  expect(up.text).toMatch(new RegExp(`rootfsPath\\s*:\\s*"loop:${lxcPath}/web/rootdev"`));
  await expectLoopAndMark(ex);

  expect((await pulumi("config", "set", "backingStore", "btrfs")).code).toBe(0);
  const preview = await pulumi("preview");
  expect(preview.text).toMatch(new RegExp(`rootfs ${lxcPath}/web: copy \\d+ MiB file by file from loop ext4 256 MiB into a new btrfs`));
  expect(preview.text).toMatch(/~ 1 to update/);
  const moved = await pulumi("up", "--yes");
  if (moved.code !== 0) throw new Error(moved.text);
  checkOutput(moved.text);
  expect(moved.text).toMatch(new RegExp(`rootfsPath\\s*:\\s*"loop:${lxcPath}/web/rootdev" => "btrfs:${lxcPath}/web/rootfs"`));
  expect(moved.text).not.toMatch(/replace/);
  await expectMovedToBtrfs(ex);
  expect((await pulumi("preview", "--expect-no-changes")).code).toBe(0);

  expect((await pulumi("destroy", "--yes")).code).toBe(0);
  await expectDestroyed(ex);
}

/**
 * A preview of the example's create asks the host through the plugin, whatever the language (`previewOf`
 * runs one as the example does: `pulumi preview` by default): the plan line,
 * then a size the host cannot hold (64T on the 1 GiB scratch btrfs) fails the preview, and nothing is
 * made. The config's size is put back after.
 */
export async function expectCreatePreviews(
  ex: Example,
  previewOf: () => Promise<{ code: number; text: string }> = () => ex.pulumi("preview"),
): Promise<void> {
  const preview = await previewOf();
  expect(preview.code).toBe(0);
  expect(preview.text).toContain(`rootfs ${ex.lxcPath}/web: create loop ext4 256 MiB at loop:${ex.lxcPath}/web/rootdev, empty`);
  expect((await ex.pulumi("config", "set", "size", "64T")).code).toBe(0);
  const big = await previewOf();
  expect(big.code).not.toBe(0);
  expect(big.text).toMatch(new RegExp(`no space on ${ex.lxcPath}/web \\(loop\\): needs 64\\.0 TiB`));
  expect((await ex.pulumi("config", "rm", "size")).code).toBe(0);
  expect(await fs.readdir(ex.lxcPath)).toEqual([]);
}
