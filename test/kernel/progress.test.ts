/**
 * Progress of long work, on the real kernel with a disk made slow for real (reads of the test's disk
 * limited by the blkio controller, the data dropped from the page cache first): a block copy, a file copy
 * in the mount helper through the agent, an unpack by the CLI at a terminal (and nothing when stderr is
 * not one), and a download from a server that sends slowly. Each says what it does, bytes done of the
 * total, and the rate, every 3 s, and nothing in its first 3 s.
 */
import { ChildProcess, spawn } from "child_process";
import { createHash, randomBytes } from "crypto";
import { promises as fs } from "fs";
import http from "http";
import { AddressInfo } from "net";
import path from "path";
import { createRootfs, destroyRootfs } from "../../provider/src/api";
import { agentCore } from "../../provider/src/adapters/remote/core";
import { fetchImage } from "../../provider/src/host/download";
import { run } from "../../provider/src/host/run";
import { startProgress } from "../../provider/src/executor/progress";
import { CLI, must, REPO, setEnv, sh, tempDir, waitForFile } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";
import { dropFromCache, withReadsThrottled } from "../helpers/throttle";
import { ociLayoutOfTree } from "../helpers/images";

const MiB = 2 ** 20;
/** The slow disk: 40 MiB/s of reads. 320 MiB of data then take 8 s to read: two or three lines. */
const RATE = 40 * MiB;
const SEED_MIB = 320;

let lxcPath: string;
let seed: string;
const src = () => `loop:${lxcPath}/src/rootdev`;

/** A progress line's figures, in bytes: done, total (null when none is said) and the rate. */
function figures(line: string, what: string): { done: number; total: number | null; approx: boolean; rate: number } {
  const num = String.raw`(\d+(?:\.\d)?) (B|KiB|MiB|GiB)`;
  const m = new RegExp(`^${what.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${num}(?: of (~?)${num})?, ${num}/s$`).exec(line);
  if (!m) throw new Error(`not a progress line of ${what}: ${JSON.stringify(line)}`);
  const bytes = (n: string, unit: string) => Number(n) * 1024 ** ["B", "KiB", "MiB", "GiB"].indexOf(unit);
  return {
    done: bytes(m[1], m[2]),
    total: m[4] === undefined ? null : bytes(m[4], m[5]),
    approx: m[3] === "~",
    rate: bytes(m[6], m[7]),
  };
}

/** Lines of a copy read at RATE: two at least, their done figures growing, each rate near RATE. */
function expectPaced(lines: string[], what: string): ReturnType<typeof figures>[] {
  const got = lines.map((l) => figures(l, what));
  expect(got.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < got.length; i++) expect(got[i].done).toBeGreaterThan(got[i - 1].done);
  // The first window includes the start (a mount, cp starting): its rate may be lower; none is faster.
  for (const g of got) expect(g.rate).toBeLessThanOrEqual(RATE * 1.3);
  expect(Math.max(...got.map((g) => g.rate))).toBeGreaterThan(RATE * 0.5);
  return got;
}

/** Lines with the time each came, from the start of the work. */
function timedSink(): { lines: string[]; at: number[]; sink: (line: string) => void } {
  const start = Date.now();
  const lines: string[] = [];
  const at: number[] = [];
  return { lines, at, sink: (l) => (lines.push(l), at.push(Date.now() - start)) };
}

function expectSpaced(at: number[]): void {
  expect(at[0]).toBeGreaterThanOrEqual(3000);
  for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(2900);
}

beforeAll(async () => {
  lxcPath = await tempDir("progress");
  seed = path.join(lxcPath, "seed");
  await fs.mkdir(seed);
  await must(["sh", "-c", `head -c ${SEED_MIB}M /dev/urandom > "$0"`, path.join(seed, "random.bin")]);
  await fs.writeFile(path.join(seed, "marker"), "the data survives\n");
  await createRootfs({ container: "src", lxcPath, backingStore: "loop", size: "1G", from: `dir:${seed}` });
});

afterAll(async () => {
  await destroyRootfs({ container: "src", lxcPath });
  await expectNoLeaksAndRemove(lxcPath);
});

it("a block copy says how far it is, of the allocated bytes, every 3 s", async () => {
  const allocated = (await fs.stat(path.join(lxcPath, "src", "rootdev"))).blocks * 512;
  await dropFromCache(path.join(lxcPath, "src", "rootdev"));
  const { lines, at, sink } = timedSink();
  const made = await withReadsThrottled(lxcPath, RATE, () =>
    createRootfs({ container: "blk", lxcPath, backingStore: "loop", size: "1G", from: src() }, { progress: sink }),
  );
  expect(made.method).toBe("sparse-copy");
  const got = expectPaced(lines, "copying blocks");
  expectSpaced(at);
  // The total is what the copy moves, no estimate: the image's data extents, the seed's and the filesystem's.
  for (const g of got) {
    expect(g.approx).toBe(false);
    expect(g.total).toBeGreaterThan(SEED_MIB * MiB);
    expect(g.total).toBeLessThanOrEqual(allocated);
  }
  await destroyRootfs({ container: "blk", lxcPath });
});

it("a file copy in the mount helper reaches the caller through the agent, as it runs", async () => {
  const bundle = await tempDir("progress-agent");
  await fs.cp(path.join(REPO, "dist", "bundle"), bundle, { recursive: true });
  let child: ChildProcess | undefined;
  try {
    await dropFromCache(path.join(lxcPath, "src", "rootdev"));
    const { lines, at, sink } = timedSink();
    const made = await withReadsThrottled(lxcPath, RATE, async () => {
      // Started inside the throttle: the agent, its mount helper and cp are its children.
      child = spawn(process.execPath, [path.join(bundle, "agent.js")], { stdio: ["pipe", "pipe", "inherit"], cwd: "/" });
      const core = agentCore({ stdin: child.stdin!, stdout: child.stdout! }, "test agent");
      const r = await core.create({ container: "files", lxcPath, backingStore: "dir", from: src() }, { progress: sink });
      core.close();
      return r;
    });
    expect(made.method).toBe("cp");
    const got = expectPaced(lines, "copying files");
    expectSpaced(at);
    // The total is the plan's estimate: the source filesystem's used bytes.
    for (const g of got) expect(g.approx || g.total === null).toBe(true);
    expect(got[0].total).toBeGreaterThanOrEqual(SEED_MIB * MiB);
    expect(await fs.readFile(path.join(lxcPath, "files", "rootfs", "marker"), "utf8")).toBe("the data survives\n");
    await destroyRootfs({ container: "files", lxcPath });
  } finally {
    child?.kill();
    await fs.rm(bundle, { recursive: true, force: true });
  }
});

it("the CLI shows an unpack's progress on its terminal, one line rewritten in place, and nothing to a pipe", async () => {
  const tarball = path.join(lxcPath, "seed.tar");
  await must(["tar", "--create", "--file", tarball, "--numeric-owner", "-C", seed, "."]);
  const size = (await fs.stat(tarball)).size;
  const hold = path.join(lxcPath, "hold");
  /**
   * The CLI's create, held once the image is checked (which reads it all, into the page cache) and the
   * store made: the image leaves the cache then, so the unpack reads it from the slow disk.
   */
  const create = (name: string, tty: boolean) =>
    withReadsThrottled(lxcPath, RATE, async (t) => {
      const argv = [process.execPath, CLI, "create", "--lxcpath", lxcPath, "--name", name, "--backing-store", "loop", "--size", "1G"];
      const command = [...argv, "--source", tarball].map((a) => `'${a}'`).join(" ");
      // script(1) gives the CLI a terminal; what it shows there comes back on script's stdout.
      const running = sh(t.argv(tty ? ["script", "--quiet", "--return", "--command", command, "/dev/null"] : ["sh", "-c", command]), {
        env: { LXC_ROOTFS_HOLDPOINT: "fill:formatted", LXC_ROOTFS_HOLD_FILE: hold },
      });
      await waitForFile(hold);
      await dropFromCache(tarball);
      await fs.rm(hold);
      return running;
    });

  const tty = await create("tty", true);
  expect(tty.code).toBe(0);
  const shown = tty.stdout.split("\r\x1b[K");
  // Each line overwrites the last; the last is cleared before the result is printed.
  const got = expectPaced(shown.slice(1, -1), "unpacking seed.tar");
  // The total is the tarball's size: what tar is fed.
  for (const g of got) {
    expect(g.approx).toBe(false);
    expect(Math.abs(g.total! - size)).toBeLessThan(0.01 * size);
  }
  expect(JSON.parse(shown.at(-1)!)).toMatchObject({ rootfsPath: `loop:${lxcPath}/tty/rootdev` });

  const piped = await create("piped", false);
  expect(piped.code).toBe(0);
  expect(piped.stderr).toBe("");
  expect(JSON.parse(piped.stdout)).toMatchObject({ rootfsPath: `loop:${lxcPath}/piped/rootdev` });
  for (const name of ["tty", "piped"]) await destroyRootfs({ container: name, lxcPath });
  await fs.rm(tarball);
});

it("an OCI image says how far its copy into the cache is, then its unpack, of the layers' bytes", async () => {
  // 10 MiB/s, and 80 MiB of layer that gzip cannot shrink: each step takes 8 s, two lines or more.
  const rate = 10 * MiB;
  const tree = path.join(lxcPath, "oci-tree");
  const layer = path.join(lxcPath, "oci-layer.tar");
  const layout = path.join(lxcPath, "oci-layout");
  const cache = path.join(lxcPath, "oci-cache");
  const hold = path.join(lxcPath, "oci-hold");
  await fs.mkdir(tree);
  await must(["sh", "-c", `head -c 80M /dev/urandom > "$0"`, path.join(tree, "random.bin")]);
  const url = await ociLayoutOfTree(tree, layer, layout);
  const restore = setEnv({ LXC_ROOTFS_IMAGE_CACHE: cache, LXC_ROOTFS_HOLDPOINT: "fill:formatted", LXC_ROOTFS_HOLD_FILE: hold });
  try {
    await dropFromCache(layout);
    const { lines, sink } = timedSink();
    const made = await withReadsThrottled(lxcPath, rate, async () => {
      const creating = createRootfs({ container: "oci", lxcPath, backingStore: "dir", source: { url } }, { progress: sink });
      // Held once the copy is cached and counted (which reads it): out of the page cache again, the unpack reads it slowly.
      await waitForFile(hold, 120_000);
      await dropFromCache(cache);
      await fs.rm(hold);
      return creating;
    });
    expect(made.method).toBe("unpack");
    const layerBytes = (await fs.stat(layer)).size;
    for (const what of ["fetching oci:oci-layout:latest", "unpacking oci:oci-layout:latest"]) {
      const got = lines.filter((l) => l.startsWith(`${what}: `)).map((l) => figures(l, what));
      expect(got.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < got.length; i++) expect(got[i].done).toBeGreaterThan(got[i - 1].done);
      // Of the layers' bytes (gzip leaves random data as large as it was), read at the disk's rate.
      for (const g of got) {
        expect(g.total).toBeGreaterThan(layerBytes * 0.95);
        expect(g.total).toBeLessThan(layerBytes * 1.05);
        expect(g.rate).toBeLessThanOrEqual(rate * 1.3);
      }
    }
    await destroyRootfs({ container: "oci", lxcPath });
  } finally {
    restore();
    for (const p of [tree, layer, layout, cache]) await fs.rm(p, { recursive: true, force: true });
  }
});

describe("a download", () => {
  const body = randomBytes(8 * MiB);
  const sha256 = createHash("sha256").update(body).digest("hex");
  let server: http.Server;
  let base: string;
  const saved = { cache: process.env.LXC_ROOTFS_IMAGE_CACHE, noProxy: process.env.NO_PROXY };

  beforeAll(async () => {
    // fetchImage runs in this process: its cache and curl's proxy settings come from this environment.
    process.env.LXC_ROOTFS_IMAGE_CACHE = await tempDir("progress-cache");
    process.env.NO_PROXY = "127.0.0.1";
    // 128 KiB each 80 ms: 1.6 MiB/s, 5 s for the image.
    server = http.createServer((req, res) => {
      res.writeHead(200, req.url === "/sized.tar" ? { "content-length": body.length } : {});
      let at = 0;
      const timer = setInterval(() => {
        res.write(body.subarray(at, (at += 128 * 1024)));
        if (at >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 80);
      res.on("close", () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await fs.rm(process.env.LXC_ROOTFS_IMAGE_CACHE!, { recursive: true, force: true });
    process.env.LXC_ROOTFS_IMAGE_CACHE = saved.cache;
    if (saved.cache === undefined) delete process.env.LXC_ROOTFS_IMAGE_CACHE;
    process.env.NO_PROXY = saved.noProxy;
    if (saved.noProxy === undefined) delete process.env.NO_PROXY;
  });

  it.each([
    ["sized.tar", 8 * MiB],
    ["chunked.tar", null],
  ])("of %s says the bytes fetched, of the length the server gives if it gives one", async (name, total) => {
    const { lines, at, sink } = timedSink();
    const reporter = startProgress(sink, `fetching ${name}`);
    try {
      await fetchImage(run, `${base}/${name}`, sha256, reporter);
    } finally {
      reporter.stop();
      await fs.rm(path.join(process.env.LXC_ROOTFS_IMAGE_CACHE!, `sha256-${sha256}`), { force: true });
    }
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expectSpaced(at);
    for (const line of lines) {
      const g = figures(line, `fetching ${name}`);
      expect(g).toMatchObject({ total, approx: false });
      expect(g.done).toBeGreaterThan(0);
      expect(g.rate).toBeGreaterThan(0.8 * MiB);
      expect(g.rate).toBeLessThan(3.2 * MiB);
    }
  });
});
