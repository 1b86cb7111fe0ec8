/**
 * The OS-image fixtures that scripts/setup-images.sh builds once per machine (docs/development.md lists
 * them), for the tests of `source`, and the two ways to compare a rootfs with an image: the manifest of a
 * tree (scripts/tree-manifest.sh) and GNU tar's exact unpack.
 */
import { existsSync, readFileSync } from "fs";
import os from "os";
import path from "path";
import { must, REPO } from "./env";

const SETUP = path.join(REPO, "scripts", "setup-images.sh");

/** GNU tar's flags for an unpack that keeps everything the fixtures hold (what setup-images.sh checks with). */
export const EXACT_TAR = ["--numeric-owner", "-p", "--acls", "--xattrs", "--xattrs-include=*", "--sparse"];

export interface ImageFixtures {
  dir: string;
  busybox: { tarball: string; manifest: string };
  debian: { xz: string; zst: string; manifest: string; lxcMeta: string; incusMeta: string };
  /** A static image server's root: LXC's meta/1.0/index-system and simplestreams' streams/v1/. */
  server: { root: string; indexSystem: string; streamsIndex: string; streamsImages: string };
  /** An OCI layout (tag `latest`) and what its unpack must hold (see oci.expect's comment). */
  oci: { layout: string; image: string; expect: string };
}

/** The fixtures' paths; throws, saying how to build them, when this machine has not. */
export function imageFixtures(): ImageFixtures {
  // The recipe version is declared once, in the script that builds it.
  const recipe = /^RECIPE=(\d+)$/m.exec(readFileSync(SETUP, "utf8"))?.[1];
  const cache = process.env.PULUMI_LXC_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-lxc");
  const dir = path.join(cache, "images", String(recipe));
  if (!existsSync(dir))
    throw new Error(
      `the OS-image fixtures are missing (${dir}): build them with \`bash scripts/setup-images.sh\` (scripts/setup-test-host.sh does)`,
    );
  const at = (...p: string[]) => path.join(dir, ...p);
  return {
    dir,
    busybox: { tarball: at("busybox.tar.gz"), manifest: at("busybox.manifest") },
    debian: {
      xz: at("debian-12.tar.xz"),
      zst: at("debian-12.tar.zst"),
      manifest: at("debian-12.manifest"),
      lxcMeta: at("debian-12.meta.tar.xz"),
      incusMeta: at("debian-12.incus.tar.xz"),
    },
    server: {
      root: at("server"),
      indexSystem: at("server", "meta", "1.0", "index-system"),
      streamsIndex: at("server", "streams", "v1", "index.json"),
      streamsImages: at("server", "streams", "v1", "images.json"),
    },
    oci: { layout: at("oci"), image: `${at("oci")}:latest`, expect: at("oci.expect") },
  };
}

/**
 * The config lines the fixture OCI image asks for (its config, which oci-image.sh writes: an entrypoint
 * and command, two variables, a directory and a numeric user), as the provider records them.
 */
export const OCI_FIXTURE_CONFIG = [
  `lxc.execute.cmd = '"/bin/sh" "-c" "id; pwd"'`,
  "lxc.environment = PATH=/usr/bin:/bin",
  "lxc.environment = FIXTURE=oci",
  "lxc.init.cwd = /srv",
  "lxc.init.uid = 1234",
  "lxc.init.gid = 5678",
];

/** The hex sha256 of the manifest the fixture OCI layout tags `latest`, read from its index. */
export function ociManifestHex(layout: string): string {
  const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const latest = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === "latest");
  if (!latest) throw new Error(`${layout} tags no image latest`);
  return latest.digest.slice("sha256:".length);
}

/** The manifest of a tree: one line per path, everything an exact unpack keeps (scripts/tree-manifest.sh). */
export function treeManifest(root: string): Promise<string> {
  return must(["bash", path.join(REPO, "scripts", "tree-manifest.sh"), root]);
}

/** Unpacks an archive (any compression GNU tar detects) into dir with EXACT_TAR, all of it or the members named. */
export async function unpackExact(archive: string, dir: string, members: string[] = []): Promise<void> {
  await must(["tar", ...EXACT_TAR, "-C", dir, "-xf", archive, ...members]);
}

/**
 * A one-layer OCI layout at `layout`, tagged `latest`, built by umoci from an exact tar of `tree` written to
 * `layer` (left for the caller, who may want its size); returns the layout's `source.url`.
 */
export async function ociLayoutOfTree(tree: string, layer: string, layout: string): Promise<string> {
  await must(["tar", "--create", "--file", layer, "--numeric-owner", "--acls", "--xattrs", "-C", tree, "."]);
  await must(["umoci", "init", "--layout", layout]);
  await must(["umoci", "new", "--image", `${layout}:latest`]);
  await must(["umoci", "raw", "add-layer", "--image", `${layout}:latest`, layer]);
  return `oci:${layout}:latest`;
}

/**
 * The manifest of the image shifted by `by` (100000 unless given), written out here rather than by the code
 * under test: each owner, group and named ACL id plus `by`, device nodes as they were, and ping's v2
 * capability as the v3 one whose root is host `by` (`setcap -n 100000 cap_net_raw+ep` writes those bytes
 * for 100000: its last four are the root id, little-endian).
 */
export function shiftedManifest(manifest: string, by = 100000): string {
  const plus = (n: string) => String(Number(n) + by);
  const rootid = Buffer.alloc(4);
  rootid.writeUInt32LE(by);
  return manifest
    .split("\n")
    .map((line) => {
      const [p, type] = line.split(" ");
      if (!p || type === "c" || type === "b") return line;
      return line
        .replace(/ (\d+):(\d+) /, (_, u: string, g: string) => ` ${plus(u)}:${plus(g)} `)
        .replace(/\b(user|group):(\d+):/g, (_, tag: string, id: string) => `${tag}:${plus(id)}:`)
        .replace(
          "security.capability=0x0100000200200000000000000000000000000000",
          `security.capability=0x0100000300200000000000000000000000000000${rootid.toString("hex")}`,
        );
    })
    .join("\n");
}
