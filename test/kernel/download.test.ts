/**
 * `source` by URL: the host fetches the image with curl into its cache, keyed by sha256, against a loopback
 * HTTP server that counts what it is asked. A preview fetches nothing (one HEAD); a second rootfs from the
 * same image fetches nothing; a cached file that lost its digest is fetched again; a wrong sha256, a 404, a
 * closed port and a cut-off body each fail with nothing kept and no credential in any message.
 */
import { promises as fs } from "fs";
import http from "http";
import { AddressInfo } from "net";
import path from "path";
import { createRootfs, destroyRootfs, planRootfsCreate } from "../../provider/src/api";
import { must, setEnv, tempDir } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { imageFixtures, treeManifest } from "../helpers/images";

let lxcPath: string;
let cache: string;
let server: http.Server;
let base: string;
let sha256: string;
let manifest: string;
const requests: string[] = [];
let restoreEnv: () => void;

/** A URL to the server that carries what must never be shown: a user, a password and a token. */
const url = (p: string, port?: number) => `http://user:pw-SECRET@127.0.0.1:${port ?? new URL(base).port}${p}?token=tok-SECRET`;

beforeAll(async () => {
  lxcPath = await tempDir("download");
  cache = await tempDir("download-cache");
  // The core runs in this process: its cache and curl's proxy settings come from this environment.
  restoreEnv = setEnv({ LXC_ROOTFS_IMAGE_CACHE: cache, NO_PROXY: "127.0.0.1" });
  const fixtures = imageFixtures();
  const image = await fs.readFile(fixtures.busybox.tarball);
  manifest = await fs.readFile(fixtures.busybox.manifest, "utf8");
  sha256 = (await must(["sha256sum", fixtures.busybox.tarball])).split(" ")[0];
  server = http.createServer((req, res) => {
    const p = new URL(req.url!, "http://x").pathname;
    requests.push(`${req.method} ${p}`);
    if (p === "/busybox.tar.gz") {
      res.writeHead(200, { "content-length": image.length });
      res.end(req.method === "HEAD" ? undefined : image);
    } else if (p === "/endless.tar.gz") {
      // A chunked body, no length said, that goes on: 64 KiB every 50 ms until the client hangs up.
      res.writeHead(200);
      if (req.method === "HEAD") return res.end();
      const timer = setInterval(() => res.write(Buffer.alloc(65536)), 50);
      res.on("close", () => clearInterval(timer));
    } else if (p === "/cut.tar.gz") {
      // Says the whole image, sends half of it, and hangs up.
      res.writeHead(200, { "content-length": image.length });
      if (req.method === "HEAD") return res.end();
      res.write(image.subarray(0, image.length >> 1), () => res.destroy());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => expectNoLeaks(lxcPath));

afterAll(async () => {
  await destroyRootfs({ container: "web", lxcPath }).catch(() => undefined);
  server?.close();
  restoreEnv?.();
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(cache, { recursive: true, force: true });
});

const spec = (container: string, source: Record<string, unknown>) => ({ container, lxcPath, backingStore: "dir", source });
const cached = async () => (await fs.readdir(cache)).sort();
/** The requests made since `since`, then forgotten. */
const asked = (since: number) => requests.slice(since);

/** An error's message, which must name the URL without its user, password or query. */
async function failure(p: Promise<unknown>): Promise<string> {
  const message = await p.then(
    () => "",
    (e: Error) => e.message,
  );
  expect(message).not.toBe("");
  expect(message).not.toMatch(/SECRET|user:/);
  return message;
}

async function nothingMade(name: string): Promise<void> {
  await expect(fs.lstat(path.join(lxcPath, name))).rejects.toMatchObject({ code: "ENOENT" });
  expect((await cached()).filter((f) => f.startsWith(".part-"))).toEqual([]);
}

it("a preview asks the server with one HEAD and fetches nothing", async () => {
  const n = requests.length;
  const plan = await planRootfsCreate(spec("web", { url: url("/busybox.tar.gz"), sha256 }));
  expect(plan!.summary).toMatch(
    new RegExp(`unpacked from the image busybox\\.tar\\.gz \\(sha256:${sha256}, fetched at up: 2 MiB, then counted\\)$`),
  );
  expect(asked(n)).toEqual(["HEAD /busybox.tar.gz"]);
  expect(await cached()).toEqual([]);
  await nothingMade("web");
});

it("a create fetches the image once into the cache and unpacks it exactly; a second rootfs fetches nothing", async () => {
  const n = requests.length;
  const made = await createRootfs(spec("web", { url: url("/busybox.tar.gz"), sha256 }));
  expect(made).toMatchObject({ method: "unpack", sourceDigest: `sha256:${sha256}` });
  expect(asked(n)).toEqual(["GET /busybox.tar.gz"]);
  expect(await cached()).toEqual([`sha256-${sha256}`]);
  expect(await treeManifest(path.join(lxcPath, "web", "rootfs"))).toBe(manifest);
  await createRootfs(spec("web2", { url: url("/busybox.tar.gz"), sha256 }));
  expect(asked(n)).toEqual(["GET /busybox.tar.gz"]);
  await destroyRootfs({ container: "web2", lxcPath });
});

it("a cached image that lost its digest is fetched again", async () => {
  const file = path.join(cache, `sha256-${sha256}`);
  const handle = await fs.open(file, "r+");
  await handle.write(Buffer.from("rot"), 0, 3, 4096);
  await handle.close();
  const n = requests.length;
  await createRootfs(spec("again", { url: url("/busybox.tar.gz"), sha256 }));
  expect(asked(n)).toEqual(["GET /busybox.tar.gz"]);
  expect(await treeManifest(path.join(lxcPath, "again", "rootfs"))).toBe(manifest);
  await destroyRootfs({ container: "again", lxcPath });
});

it("the cache keeps to its bound: the least recently used go, none used within the hour, and a running fetch counts", async () => {
  const MiB = 2 ** 20;
  const entry = async (name: string, bytes: number, hoursAgo: number) => {
    await fs.writeFile(path.join(cache, name), Buffer.alloc(bytes));
    const t = new Date(Date.now() - hoursAgo * 3600_000);
    await fs.utimes(path.join(cache, name), t, t);
  };
  const [oldest, older, recent] = ["7", "8", "9"].map((c) => `sha256-${c.repeat(64)}`);
  await fs.rm(path.join(cache, `sha256-${sha256}`), { force: true });
  await entry(oldest, 2 * MiB, 3);
  await entry(older, 2 * MiB, 2);
  await entry(recent, 2 * MiB, 0.5);
  // A fetch another create runs, its file still growing.
  await entry(".part-running", 4 * MiB, 0);
  const restore = setEnv({ LXC_ROOTFS_IMAGE_CACHE_BYTES: String(7 * MiB) });
  try {
    // The busybox image (2 MiB) makes 12 MiB: the two older ones go; the cache is still past its bound, but
    // the one used within the hour stays, and so do the new one and the running fetch.
    await createRootfs(spec("evict", { url: url("/busybox.tar.gz"), sha256 }));
    expect(await cached()).toEqual([".part-running", `sha256-${sha256}`, recent].sort());
  } finally {
    restore();
    await fs.rm(path.join(cache, ".part-running"));
    await fs.rm(path.join(cache, recent));
  }
  await destroyRootfs({ container: "evict", lxcPath });
});

describe("refused with nothing kept, and no credential shown", () => {
  it("a sha256 other than what the server sends", async () => {
    const wrong = "0".repeat(64);
    const message = await failure(createRootfs(spec("bad", { url: url("/busybox.tar.gz"), sha256: wrong })));
    expect(message).toContain(
      `source.sha256: invalid value "${wrong}": the sha256 of what ${base}/busybox.tar.gz serves, which is sha256:${sha256}`,
    );
    expect(await cached()).toEqual([`sha256-${sha256}`]);
    await nothingMade("bad");
  });

  it("no sha256 for an image fetched by URL", async () => {
    const message = await failure(createRootfs(spec("bad", { url: url("/busybox.tar.gz") })));
    expect(message).toMatch(/source\.sha256: .*required for an image fetched by URL/);
    await nothingMade("bad");
  });

  it("a 404, at preview and at create", async () => {
    expect(await failure(planRootfsCreate(spec("bad", { url: url("/none.tar.gz"), sha256: "1".repeat(64) })))).toContain(
      `the image at ${base}/none.tar.gz cannot be fetched: the server answered 404`,
    );
    expect(await failure(createRootfs(spec("bad", { url: url("/none.tar.gz"), sha256: "1".repeat(64) })))).toMatch(
      new RegExp(`fetching the image at ${base}/none\\.tar\\.gz failed: .*404`),
    );
    await nothingMade("bad");
  });

  it("a port where nothing listens", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const message = await failure(createRootfs(spec("bad", { url: url("/busybox.tar.gz", port), sha256: "2".repeat(64) })));
    expect(message).toMatch(
      new RegExp(`fetching the image at http://127\\.0\\.0\\.1:${port}/busybox\\.tar\\.gz failed: .*(connect|refused)`, "i"),
    );
    await nothingMade("bad");
  });

  it("a rootfs already there, before anything is fetched", async () => {
    const other = "4".repeat(64); // not cached: a create that went on would fetch it
    const n = requests.length;
    expect(await failure(createRootfs(spec("web", { url: url("/busybox.tar.gz"), sha256: other })))).toMatch(/already exists/);
    expect(asked(n)).toEqual([]);
  });

  it("an image larger than the cache's bound, which could not stay in it, its length said or not", async () => {
    const restore = setEnv({ LXC_ROOTFS_IMAGE_CACHE_BYTES: String(2 ** 20) });
    try {
      const message = await failure(createRootfs(spec("bad", { url: url("/busybox.tar.gz"), sha256: "5".repeat(64) })));
      expect(message).toMatch(new RegExp(`fetching the image at ${base}/busybox\\.tar\\.gz failed: .*(maximum|size)`, "i"));
      // Debian 12's curl lets a chunked body past --max-filesize: the core stops it.
      const endless = await failure(createRootfs(spec("bad", { url: url("/endless.tar.gz"), sha256: "6".repeat(64) })));
      expect(endless).toBe(
        `fetching the image at ${base}/endless.tar.gz failed: it is larger than the image cache's bound, ${2 ** 20} bytes (LXC_ROOTFS_IMAGE_CACHE_BYTES). Nothing was changed.`,
      );
    } finally {
      restore();
    }
    await nothingMade("bad");
  });

  it("a body cut off before its end", async () => {
    const message = await failure(createRootfs(spec("bad", { url: url("/cut.tar.gz"), sha256: "3".repeat(64) })));
    expect(message).toMatch(new RegExp(`fetching the image at ${base}/cut\\.tar\\.gz failed`));
    await nothingMade("bad");
  });
});
