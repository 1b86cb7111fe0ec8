/**
 * SIGKILL in the middle of an operation, at every step of the swap and in the middle of the copy: the
 * old rootfs is intact, the config never points at a half-made store, nothing stays mounted or attached,
 * and running the same command again completes it and leaves nothing behind.
 */
import { promises as fs } from "fs";
import path from "path";
import { cliOk, imageDigest, must, startCli, tempDir, treeDigest, waitForFile } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";

const MiB = 2 ** 20;
let lxcPath: string;
let src: string;
let srcDigest: string;
let bin: string;

/** About 200 MB: a few large random files and thousands of small ones. */
async function makeBigTree(root: string): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  for (let i = 0; i < 4; i++)
    await must(["dd", "if=/dev/urandom", `of=${path.join(root, `big${i}.bin`)}`, "bs=1M", "count=48", "status=none"]);
  for (let d = 0; d < 20; d++) {
    const dir = path.join(root, "small", `d${d}`);
    await fs.mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: 100 }, (_, i) => fs.writeFile(path.join(dir, `f${i}`), `${d}/${i}\n`.repeat(200 + i))));
  }
}

/** The digest of whatever the container's config points at (the rootfs LXC would boot). */
async function configuredDigest(name: string): Promise<{ store: string; digest: string | null }> {
  const config = await fs.readFile(path.join(lxcPath, name, "config"), "utf8");
  const rootfs = /^lxc\.rootfs\.path = (\w+):(.*)$/m.exec(config)!;
  const exists = await fs.stat(rootfs[2]).then(
    () => true,
    () => false,
  );
  if (!exists) return { store: rootfs[1], digest: null };
  return { store: rootfs[1], digest: rootfs[1] === "loop" ? await imageDigest(rootfs[2], lxcPath) : await treeDigest(rootfs[2]) };
}

/** Where the old data can be while a swap is stopped half-way: in place, or parked under its -old name. */
async function oldDataDigest(name: string, store: "loop" | "dir"): Promise<string> {
  const dir = path.join(lxcPath, name);
  const candidates = store === "loop" ? ["rootdev", "rootdev.lxc-rootfs-old"] : ["rootfs", "rootfs.lxc-rootfs-old"];
  for (const c of candidates) {
    const p = path.join(dir, c);
    const st = await fs.lstat(p).catch(() => null);
    if (!st) continue;
    if (store === "loop" && st.isFile()) return imageDigest(p, lxcPath);
    if (store === "dir" && st.isDirectory() && (await fs.readdir(p)).length) return treeDigest(p);
  }
  throw new Error(`old ${store} data of ${name} not found in ${candidates.join(", ")}`);
}

beforeAll(async () => {
  lxcPath = await tempDir("interrupt");
  src = path.join(lxcPath, "src");
  await makeBigTree(src);
  expect(Number((await must(["du", "-sb", src])).split("\t")[0])).toBeGreaterThan(200 * 1000 * 1000);
  srcDigest = await treeDigest(src);
  bin = await tempDir("interrupt-bin");
  // Stand-ins that announce they are running, then run slowly: something to kill in the middle of.
  // cp's stand-in copies the same tree (its last two arguments) with rsync held to 25 MB/s.
  await fs.writeFile(
    path.join(bin, "cp"),
    `#!/bin/sh\ntouch "$READY"\neval "src=\\\${$(($# - 1))} dst=\\\${$#}"\nexec /usr/bin/rsync -aHAXS --numeric-ids --bwlimit=25000 "$src/" "$dst/"\n`,
    { mode: 0o755 },
  );
  await fs.writeFile(path.join(bin, "mkfs.ext4"), `#!/bin/sh\n/sbin/mkfs.ext4 "$@" || exit 1\ntouch "$READY"\nsleep 60\n`, { mode: 0o755 });
}, 120000);

// Autoclear loop devices detach a moment after the kill: settle.
afterEach(() => expectNoLeaks(lxcPath, { settle: true }));

afterAll(async () => {
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(bin, { recursive: true, force: true });
});

const b = (name: string) => ["--lxcpath", lxcPath, "--name", name];
const POINTS = ["copy", "swap:built", "swap:parked", "swap:moved", "swap:committed"];

async function killAt(point: string, args: string[]): Promise<void> {
  const ready = path.join(lxcPath, `.ready-${Date.now()}`);
  if (point === "copy") {
    const run = startCli(args, { PATH: `${bin}:${process.env.PATH}`, READY: ready });
    await waitForFile(ready);
    await new Promise((r) => setTimeout(r, 1500));
    run.child.kill("SIGKILL");
    expect((await run.done).signal).toBe("SIGKILL");
    await fs.rm(ready, { force: true });
  } else {
    const run = startCli(args, { LXC_ROOTFS_FAILPOINT: point });
    expect((await run.done).signal).toBe("SIGKILL");
  }
}

describe.each([
  ["loop", "dir", ["--backing-store", "dir"]],
  ["dir", "loop", ["--backing-store", "loop", "--size", "512M"]],
] as Array<["loop" | "dir", "loop" | "dir", string[]]>)("%s → %s with 200 MB, killed", (from, to, updateArgs) => {
  it.each(POINTS)("at %s: old data intact, config never on a half-made store, re-run completes", async (point) => {
    const name = `${from}-${point.replace(":", "-")}`;
    await cliOk(["create", ...b(name), "--backing-store", from, ...(from === "loop" ? ["--size", "512M"] : []), "--from", `dir:${src}`]);
    await killAt(point, ["update", ...b(name), ...updateArgs]);
    await expectNoLeaks(lxcPath, { settle: true });

    // What LXC would boot is either the old rootfs, whole, or (once the swap committed) the new one, whole.
    const configured = await configuredDigest(name);
    if (configured.digest !== null) expect(configured.digest).toBe(srcDigest);
    if (configured.store === from) expect(await oldDataDigest(name, from)).toBe(srcDigest);

    const rerun = await cliOk(["update", ...b(name), ...updateArgs]);
    expect(rerun.backingStore).toBe(to);
    const after = await configuredDigest(name);
    expect(after).toEqual({ store: to, digest: srcDigest });
    expect((await fs.readdir(path.join(lxcPath, name))).sort()).toEqual(
      to === "loop" ? ["config", "rootdev", "rootfs"] : ["config", "rootfs"],
    );
    await cliOk(["destroy", ...b(name)]);
  });
});

describe("interrupted create", () => {
  it.each([
    ["mkfs", ["--backing-store", "loop", "--size", "512M"]],
    ["the copy from `from`", ["--backing-store", "loop", "--size", "512M", "--from", `dir:SRC`]],
  ])("killed during %s: the re-run succeeds and no temporary image remains", async (_what, args) => {
    const name = `create-${_what.length}`;
    const ready = path.join(lxcPath, `.ready-${name}`);
    const run = startCli(["create", ...b(name), ...args.map((a) => a.replace("SRC", src))], {
      PATH: `${bin}:${process.env.PATH}`,
      READY: ready,
    });
    await waitForFile(ready);
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill("SIGKILL");
    expect((await run.done).signal).toBe("SIGKILL");
    await expectNoLeaks(lxcPath, { settle: true });
    // No config points at the half-made image.
    const config = await fs.readFile(path.join(lxcPath, name, "config"), "utf8").catch(() => "");
    expect(config).not.toMatch(/lxc\.rootfs\.path/);

    const out = await cliOk(["create", ...b(name), ...args.map((a) => a.replace("SRC", src))]);
    expect(out.sizeBytes).toBe(512 * MiB);
    expect((await fs.readdir(path.join(lxcPath, name))).sort()).toEqual(["config", "rootdev", "rootfs"]);
    if (args.includes("--from")) expect(await imageDigest(path.join(lxcPath, name, "rootdev"), lxcPath)).toBe(srcDigest);
    await cliOk(["destroy", ...b(name)]);
  });
});
