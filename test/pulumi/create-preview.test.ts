/**
 * A preview of a new rootfs asks its host, as a preview of an update does: through the real engine, each
 * create that `up` would refuse fails the preview with the create's own error, and the host is left as it
 * was (no container directory, no config, no lock file). A create the host can hold previews clean, with a
 * plan line that `up` then carries out.
 */
import { createHash } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import { REPO, must, tempDir } from "../helpers/env";
import { destroyStackUnder, failedPreview as previewThatFails, makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const LOCKS = "/run/lxc-rootfs/locks";
let lxcPath: string;
let desired: Record<string, unknown>;
let t: TestStack;

beforeAll(async () => {
  lxcPath = await tempDir("create-preview");
  t = await makeStack("create-preview", async () => {
    const r = new Rootfs("web", desired);
    return { rootfsPath: r.rootfsPath };
  });
});

afterAll(() => destroyStackUnder(t, lxcPath));

/** Everything a preview could leave behind: the lxcPath's tree and the lock directory. */
async function hostState(): Promise<string[]> {
  const tree = await must(["find", lxcPath, "-printf", "%p %y %s\n"]);
  const locks = await fs.readdir(LOCKS).catch(() => []);
  return [...tree.split("\n").sort(), ...locks.map((l) => `lock ${l}`).sort()];
}

/** A preview that must fail, and leave the host as it was: the engine's whole output. */
const failedPreview = () => previewThatFails(t, hostState);

describe("a preview of a new rootfs runs the create's host checks, and changes nothing", () => {
  it("a btrfs rootfs on a lxcPath that is not btrfs", async () => {
    expect((await fs.statfs(lxcPath)).type).not.toBe(0x9123683e);
    desired = { container: "web", lxcPath, backingStore: "btrfs" };
    expect(await failedPreview()).toContain(`backingStore: invalid value "btrfs": lxcPath ${lxcPath} must be on a btrfs filesystem`);
  });

  it("a 64 TiB loop image, more than the lxcPath's filesystem holds", async () => {
    desired = { container: "web", lxcPath, backingStore: "loop", size: "64T", fstype: "ext4" };
    expect(await failedPreview()).toMatch(new RegExp(`no space on ${lxcPath}/web \\(loop\\): needs 64\\.0 TiB`));
  });

  it("an lvm rootfs in a volume group that does not exist", async () => {
    desired = { container: "web", lxcPath, backingStore: "lvm", size: "1G", vgName: "no-such-vg-here" };
    expect(await failedPreview()).toMatch(/vgName: invalid value "no-such-vg-here": an existing LVM volume group/);
  });

  it("a `from` that names nothing previews with a line saying so, not its value (another resource may make it before the create)", async () => {
    const from = path.join(lxcPath, "nothing", "rootfs");
    desired = { container: "web", lxcPath, backingStore: "dir", from };
    const before = await hostState();
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(await hostState()).toEqual(before);
    expect(text).toContain(`rootfs ${lxcPath}/web: \`from\` names nothing on the host now: the create checks it again at up`);
    expect(text).not.toContain(from);
  });

  it("a container whose rootfs lxc-create already made, which no stack manages: adopt it or pick another name", async () => {
    await must(["lxc-create", "-P", lxcPath, "-n", "made", "-t", "/bin/true", "-B", "dir"]);
    desired = { container: "made", lxcPath, backingStore: "dir" };
    const text = await failedPreview();
    expect(text).toContain(
      `a rootfs is already at dir:${lxcPath}/made/rootfs: adopt it with pulumi import lxc:index:Rootfs <name> ${lxcPath}/made`,
    );
    await must(["lxc-destroy", "-P", lxcPath, "-n", "made"]);
  });

  it("a create the host can hold previews clean with its plan line, changing nothing, and up does what it said", async () => {
    desired = { container: "web", lxcPath, backingStore: "loop", size: "256M", fstype: "ext4" };
    const before = await hostState();
    let text = "";
    await t.stack.preview({ onOutput: (s) => (text += s) });
    expect(await hostState()).toEqual(before);
    const line = `rootfs ${lxcPath}/web: create loop ext4 256 MiB at loop:${lxcPath}/web/rootdev, empty`;
    expect(text).toContain(line);
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.outputs.rootfsPath.value).toBe(`loop:${lxcPath}/web/rootdev`);
    expect((await fs.stat(`${lxcPath}/web/rootdev`)).size).toBe(256 * 2 ** 20);
    expect((await must(["blkid", "-o", "value", "-s", "TYPE", `${lxcPath}/web/rootdev`])).trim()).toBe("ext4");
  });

  it("a replacement checks its delete half: it names the snapshots the delete would refuse, and without them the plan says both halves", async () => {
    await must(["lxc-snapshot", "-P", lxcPath, "-n", "web"]);
    desired = { ...desired, container: "web2" };
    // Snapshots the stack holds are deleted before the rootfs, so the delete half can only say what it sees.
    const snapped = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(snapped.text).toContain(
      `rootfs ${lxcPath}/web2: replace: container "web" → "web2"; then delete the old rootfs, which has snapshots snap0 now: the delete refuses unless they are gone by then`,
    );
    await must(["lxc-snapshot", "-P", lxcPath, "-n", "web", "-d", "snap0"]);
    const before = await hostState();
    const { result, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(result.changeSummary).toEqual({ same: 1, replace: 1 });
    expect(await hostState()).toEqual(before);
    expect(text).toContain(`rootfs ${lxcPath}/web2: replace: container "web" → "web2"; then delete loop:${lxcPath}/web/rootdev`);
    expect(text).toContain(`rootfs ${lxcPath}/web2: create loop ext4 256 MiB at loop:${lxcPath}/web2/rootdev, empty`);
  });

  it("a preview of an update and a refresh leave no lock file for a rootfs that has none (as after a reboot clears /run)", async () => {
    const lock = path.join(LOCKS, `${createHash("sha256").update(path.join(lxcPath, "web")).digest("hex").slice(0, 32)}.lock`);
    await fs.rm(lock, { force: true });
    desired = { container: "web", lxcPath, backingStore: "loop", size: "320M", fstype: "ext4" };
    const before = await hostState();
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toContain(`rootfs ${lxcPath}/web: grow in place: loop ext4 256 MiB → 320 MiB`);
    await t.run((onOutput) => t.stack.refresh({ onOutput }));
    expect(await hostState()).toEqual(before);
    await expect(fs.lstat(lock)).rejects.toThrow(/ENOENT/);
  });
});
