/**
 * `source` through the real engine, with the dynamic provider and with the plugin (a YAML program): a
 * preview names the image by file name and digest, a wrong sha256 fails it, `up` records `sourceDigest`,
 * a new url with the same sha256 only records the url, and a new sha256 replaces the rootfs where it is
 * (deleted first), unpacked from the new image. An OCI image's config lines come out as `sourceConfig`.
 */
import { promises as fs } from "fs";
import path from "path";
import { must, REPO, setEnv, tempDir, withImageMounted } from "../helpers/env";
import { imageFixtures, OCI_FIXTURE_CONFIG, ociManifestHex } from "../helpers/images";
import { CliProject, cliProject, destroyStackUnder, makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

interface Image {
  url: string;
  sha256: string;
}

let images: string;
let one: Image;
let two: Image;
let oci: Image;
let restoreEnv: () => void;

/** A small rootfs tarball whose /etc/marker says `name`. */
async function image(name: string): Promise<Image> {
  const tree = path.join(images, name);
  await fs.mkdir(path.join(tree, "etc"), { recursive: true });
  await fs.writeFile(path.join(tree, "etc", "marker"), `${name}\n`);
  const url = path.join(images, `${name}.tar.gz`);
  await must(["tar", "--create", "--gzip", "--file", url, "--numeric-owner", "-C", tree, "."]);
  return { url, sha256: (await must(["sha256sum", url])).split(" ")[0] };
}

/** What /etc/marker says in the loop image at `lxcPath/web`. */
function marker(lxcPath: string): Promise<string> {
  return withImageMounted(path.join(lxcPath, "web", "rootdev"), lxcPath, (root) => fs.readFile(path.join(root, "etc", "marker"), "utf8"));
}

beforeAll(async () => {
  images = await tempDir("source-images");
  one = await image("one");
  two = await image("two");
  const f = imageFixtures();
  oci = { url: `oci:${f.oci.image}`, sha256: ociManifestHex(f.oci.layout) };
  // The providers run on this machine, as children of the engine: this environment reaches them.
  restoreEnv = setEnv({ LXC_ROOTFS_IMAGE_CACHE: path.join(images, "cache") });
});

afterAll(async () => {
  restoreEnv?.();
  await fs.rm(images, { recursive: true, force: true });
});

describe("the dynamic provider", () => {
  let lxcPath: string;
  let source: Record<string, unknown>;
  let t: TestStack;

  beforeAll(async () => {
    lxcPath = await tempDir("source-dynamic");
    t = await makeStack("source-dynamic", async () => {
      const r = new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size: "64M", source });
      return { sourceDigest: r.sourceDigest, sourceConfig: r.sourceConfig };
    });
  });
  afterAll(() => destroyStackUnder(t, lxcPath));

  it("previews the unpack, refuses a wrong sha256, and records the digest", async () => {
    source = { ...one, sha256: "f".repeat(64) };
    const refused = await t.stack.preview().then(
      () => "",
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/source\.sha256: invalid value "f{64}": the tarball's sha256, and .*one\.tar\.gz has sha256:/);
    source = { ...one };
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toContain(
      `rootfs ${lxcPath}/web: create loop ext4 64.0 MiB at loop:${lxcPath}/web/rootdev, unpacked from the image one.tar.gz (sha256:${one.sha256}`,
    );
    const up = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(up.result.outputs.sourceDigest.value).toBe(`sha256:${one.sha256}`);
    expect(await marker(lxcPath)).toBe("one\n");
    // A url may carry a credential: the state holds source only encrypted.
    expect(await must(["grep", "-rc", "one.tar.gz", path.join(t.dir, "state")]).catch((e: Error) => e.message)).toMatch(/exited 1/);
    expect(await must(["grep", "-rlc", "ciphertext", path.join(t.dir, "state")])).not.toBe("");
  });

  it("a new url with the same sha256 changes nothing on the host", async () => {
    const moved = path.join(images, "one-moved.tar.gz");
    await fs.copyFile(one.url, moved);
    source = { url: moved, sha256: one.sha256 };
    const preview = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(preview.result.changeSummary).not.toHaveProperty("replace");
    await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(await marker(lxcPath)).toBe("one\n");
  });

  it("a new sha256 replaces the rootfs in place, deleting it first, unpacked from the new image", async () => {
    source = { ...two };
    const preview = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(preview.result.changeSummary).toMatchObject({ replace: 1 });
    expect(preview.text).toContain(`replace: source sha256:${one.sha256} → sha256:${two.sha256}`);
    const up = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(up.result.outputs.sourceDigest.value).toBe(`sha256:${two.sha256}`);
    expect(await marker(lxcPath)).toBe("two\n");
  });

  it("an OCI image, by a new sha256, replaces it too, and records the config lines the image asks for, which a refresh keeps", async () => {
    source = { ...oci };
    const preview = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(preview.text).toContain(`unpacked from the image oci:oci:latest (sha256:${oci.sha256}`);
    const up = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(up.result.outputs.sourceDigest.value).toBe(`sha256:${oci.sha256}`);
    expect(up.result.outputs.sourceConfig.value).toEqual(OCI_FIXTURE_CONFIG);
    expect(
      await withImageMounted(path.join(lxcPath, "web", "rootdev"), lxcPath, (root) =>
        fs.readFile(path.join(root, "srv/layers/replace/new"), "utf8"),
      ),
    ).toBe("added by the second layer\n");
    await t.run((onOutput) => t.stack.refresh({ onOutput }));
    expect((await t.stack.outputs()).sourceConfig.value).toEqual(OCI_FIXTURE_CONFIG);
  });
});

describe("the plugin (YAML)", () => {
  let lxcPath: string;
  let pulumi: CliProject["pulumi"];
  let cleanup: CliProject["cleanup"];
  const set = async (key: string, value: string) => expect((await pulumi("config", "set", key, value)).code).toBe(0);

  beforeAll(async () => {
    let work: string;
    ({ work, pulumi, cleanup } = await cliProject("source-yaml", path.join(__dirname, "fixtures", "source-yaml"), "source"));
    lxcPath = path.join(work, "lxc");
    await fs.mkdir(lxcPath);
    expect((await pulumi("stack", "init", "source")).code).toBe(0);
    await set("lxcPath", lxcPath);
  });
  afterAll(async () => {
    expect((await pulumi("destroy", "--yes")).code).toBe(0);
    await cleanup();
  });

  it("creates from an image, records its digest, and a new sha256 replaces it in place", async () => {
    await set("url", one.url);
    await set("sha256", one.sha256);
    const preview = await pulumi("preview");
    expect(preview.code).toBe(0);
    expect(preview.text).toContain(`unpacked from the image one.tar.gz (sha256:${one.sha256}`);
    const up = await pulumi("up", "--yes");
    expect(up.code).toBe(0);
    expect(up.text).toMatch(new RegExp(`sourceDigest\\s*:\\s*"sha256:${one.sha256}"`));
    expect((await pulumi("stack", "export", "--stack", "source")).stdout).not.toContain("one.tar.gz");
    expect(await marker(lxcPath)).toBe("one\n");

    await set("url", two.url);
    await set("sha256", two.sha256);
    const replaced = await pulumi("up", "--yes");
    expect(replaced.code).toBe(0);
    expect(replaced.text).toMatch(/1 replaced/);
    expect(replaced.text).toMatch(new RegExp(`sourceDigest\\s*:\\s*"sha256:${one.sha256}" => "sha256:${two.sha256}"`));
    expect(await marker(lxcPath)).toBe("two\n");

    await set("url", oci.url);
    await set("sha256", oci.sha256);
    const fromOci = await pulumi("up", "--yes");
    expect(fromOci.code).toBe(0);
    expect(fromOci.text).toMatch(/1 replaced/);
    expect(JSON.parse((await pulumi("stack", "output", "sourceConfig", "--json")).stdout)).toEqual(OCI_FIXTURE_CONFIG);
  });
});
