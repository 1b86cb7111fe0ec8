/**
 * `images:<dist>/<release>`: an image found through an image server's simplestreams index, the fixture's
 * server tree (scripts/setup-images.sh) served over HTTP on loopback. A preview reads the index and sends
 * one HEAD; the create fetches the newest rootfs for this host's architecture, checked against the sha256
 * the index gives, and records it; an alias the server does not list, and a sha256 the server's newest
 * image does not have, are refused naming what there is.
 */
import { promises as fs } from "fs";
import http from "http";
import { AddressInfo } from "net";
import path from "path";
import { createRootfs, destroyRootfs, planRootfsCreate } from "../../provider/src/api";
import { serverArch } from "../../provider/src/model/streams";
import { must, setEnv, tempDir, withImageMounted } from "../helpers/env";
import { expectNoLeaks } from "../helpers/leaks";
import { imageFixtures } from "../helpers/images";

let lxcPath: string;
let cache: string;
let server: http.Server;
let base: string;
let sha256: string;
const requests: string[] = [];
const ARCH = serverArch(process.arch);
let restoreEnv: () => void;

beforeAll(async () => {
  lxcPath = await tempDir("image-server");
  cache = await tempDir("image-server-cache");
  restoreEnv = setEnv({ LXC_ROOTFS_IMAGE_CACHE: cache, NO_PROXY: "127.0.0.1" });
  const { server: tree, debian } = imageFixtures();
  sha256 = (await must(["sha256sum", debian.xz])).split(" ")[0];
  // A static server of the tree, as an image server is: files by path, 404 otherwise.
  server = http.createServer(async (req, res) => {
    const p = decodeURIComponent(new URL(req.url!, "http://x").pathname);
    requests.push(`${req.method} ${p}`);
    const file = path.join(tree.root, path.normalize(p));
    const st = file.startsWith(tree.root) ? await fs.stat(file).catch(() => null) : null;
    if (!st?.isFile()) return res.writeHead(404).end();
    res.writeHead(200, { "content-length": st.size });
    res.end(req.method === "HEAD" ? undefined : await fs.readFile(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => expectNoLeaks(lxcPath));

afterAll(async () => {
  server?.close();
  restoreEnv?.();
  await fs.rm(lxcPath, { recursive: true, force: true });
  await fs.rm(cache, { recursive: true, force: true });
});

const spec = (source: Record<string, unknown>) => ({
  container: "deb",
  lxcPath,
  backingStore: "loop",
  size: "512M",
  source: { server: base, ...source },
});

it("a preview finds the image in the index and sends one HEAD for it; the create fetches it, checked, and LXC's tree is Debian's", async () => {
  let n = requests.length;
  const plan = await planRootfsCreate(spec({ url: "images:debian/bookworm" }));
  expect(plan!.summary).toMatch(
    new RegExp(
      `unpacked from the image images:debian/bookworm/default \\(\\d{8}_\\d\\d:\\d\\d\\) \\(sha256:${sha256}, fetched at up: 39 MiB, then counted\\)$`,
    ),
  );
  expect(requests.slice(n).map((r) => r.replace(/\/\d{8}_\d\d:\d\d\//, "/SERIAL/"))).toEqual([
    "GET /streams/v1/index.json",
    "GET /streams/v1/images.json",
    `HEAD /images/debian/bookworm/${ARCH}/default/SERIAL/rootfs.tar.xz`,
  ]);
  n = requests.length;
  // An alias of the product (debian/12) names it too.
  const made = await createRootfs(spec({ url: "images:debian/12" }));
  // The LXC metadata beside the rootfs: its config lines, with LXC_TEMPLATE_CONFIG filled in, for the user's config.
  const kernelArch = { x64: "x86_64", arm64: "aarch64" }[process.arch as string];
  expect(made).toMatchObject({
    method: "unpack",
    sourceDigest: `sha256:${sha256}`,
    sourceConfig: ["lxc.include = /usr/share/lxc/config/debian.common.conf", `lxc.arch = ${kernelArch}`],
  });
  expect(
    requests
      .slice(n)
      .filter((r) => /(rootfs|meta)\.tar\.xz$/.test(r))
      .map((r) => r.replace(/.*\//, "")),
  ).toEqual(["rootfs.tar.xz", "meta.tar.xz"]);
  // Its templates: the rootfs's LXC_NAME becomes the container's name, as LXC's download template makes it.
  const [version, hostname, hosts] = await withImageMounted(path.join(lxcPath, "deb", "rootdev"), lxcPath, (root) =>
    Promise.all(["debian_version", "hostname", "hosts"].map((f) => fs.readFile(path.join(root, "etc", f), "utf8"))),
  );
  expect(version).toMatch(/^12\./);
  expect(hostname).toBe("deb\n");
  expect(hosts).toContain("127.0.1.1\tdeb\n");
  expect(hosts).not.toContain("LXC_NAME");
  await destroyRootfs({ container: "deb", lxcPath });
});

it("an alias the server does not list for this architecture, and a sha256 its newest image does not have, are refused", async () => {
  await expect(planRootfsCreate(spec({ url: "images:alpine/3.20" }))).rejects.toThrow(
    `source.url: invalid value "images:alpine/3.20/default": an image the server lists for ${ARCH}; it lists debian:bookworm:${ARCH}:default`,
  );
  await expect(createRootfs(spec({ url: "images:debian/bookworm", sha256: "4".repeat(64) }))).rejects.toThrow(
    new RegExp(`source\\.sha256: .*the server's newest images:debian/bookworm \\(\\d{8}_\\d\\d:\\d\\d\\) is sha256:${sha256}`),
  );
  await expect(planRootfsCreate(spec({ url: "images:debian" }))).rejects.toThrow(/source\.url: .*images:<dist>\/<release>\[\/<variant>\]/);
  await expect(fs.lstat(path.join(lxcPath, "deb"))).rejects.toMatchObject({ code: "ENOENT" });
});
