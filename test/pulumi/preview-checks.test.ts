/**
 * A preview that passes means the up will not fail on what the host can tell: through the real engine,
 * the diff runs the update's own host checks and counts the bytes the host holds now.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, must, tempDir } from "../helpers/env";
import { destroyStackUnder, makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const M = 2 ** 20;
let lxcPath: string;
let desired: Record<string, unknown>;
let t: TestStack;

beforeAll(async () => {
  lxcPath = await tempDir("preview");
  desired = { container: "web", lxcPath, backingStore: "loop", size: "512M", fstype: "ext4" };
  t = await makeStack("preview", async () => {
    const r = new Rootfs("web", desired);
    return { sizeBytes: r.sizeBytes, usedBytes: r.usedBytes };
  });
  await t.run((onOutput) => t.stack.up({ onOutput }));
});

afterAll(() => destroyStackUnder(t, lxcPath));

const image = () => path.join(lxcPath, "web", "rootdev");

/** A preview that must fail: the engine's whole output. */
async function failedPreview(): Promise<string> {
  let text = "";
  const err = await t.stack.preview({ onOutput: (s) => (text += s) }).then(
    () => null,
    (e: Error) => e,
  );
  expect(err).not.toBeNull();
  return `${text}\n${err?.message}`;
}

describe("previews run the update's host checks", () => {
  it("a store the lxcPath cannot hold (btrfs on a non-btrfs lxcPath) fails the preview with the update's message", async () => {
    expect((await fs.statfs(lxcPath)).type).not.toBe(0x9123683e);
    desired.backingStore = "btrfs";
    delete desired.fstype;
    const text = await failedPreview();
    expect(text).toContain(`backingStore: invalid value "btrfs": lxcPath ${lxcPath} must be on a btrfs filesystem`);
    Object.assign(desired, { backingStore: "loop", fstype: "ext4" });
  });

  it("a size the host has no room for fails the preview with the update's message", async () => {
    desired.size = "64T";
    const text = await failedPreview();
    expect(text).toMatch(new RegExp(`no space on ${lxcPath}/web \\(loop\\): needs 64\\.0 TiB`));
    desired.size = "512M";
  });

  it("the plan counts the bytes in the rootfs now, not those of the last refresh", async () => {
    const recorded = (await t.stack.outputs()).usedBytes.value as number;
    expect(recorded).toBeLessThan(50 * M);
    // 300 MiB written inside the image behind the engine's back, from a mount namespace of its own.
    await must([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mp=$(mktemp -d) && mount -o loop "$1" "$mp" && dd if=/dev/zero of="$mp/fill" bs=1M count=300 status=none && umount "$mp" && rmdir "$mp"',
      "sh",
      image(),
    ]);
    desired.backingStore = "dir";
    delete desired.size;
    delete desired.fstype;
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    const copied = Number(/copy (\d+) MiB file by file from loop ext4 512 MiB into a new dir/.exec(text)?.[1]);
    expect(copied).toBeGreaterThanOrEqual(300);
    expect(copied).toBeLessThan(350);
    Object.assign(desired, { backingStore: "loop", size: "512M", fstype: "ext4" });
  });

  it("a change the host can take previews clean, and up makes it", async () => {
    desired.size = "640M";
    const { result, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(result.changeSummary).toEqual({ same: 1, update: 1 });
    expect(text).toMatch(/grow in place: loop ext4 512 MiB → 640 MiB/);
    const { result: up } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(up.outputs.sizeBytes.value).toBe(640 * M);
    expect((await fs.stat(image())).size).toBe(640 * M);
  });
});
