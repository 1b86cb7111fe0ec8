/**
 * `idmap` through the real engine, with the dynamic provider: the preview says the owners are shifted into
 * the map, `up` makes the rootfs owned by the map's root and records the map as the output `idmap`, a
 * refresh keeps it, the same map changes nothing, and another map is refused at preview (a shift in place
 * is not built yet, and a replacement would lose the data), the rootfs left as it is.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, tempDir, withImageMounted } from "../helpers/env";
import { imageFixtures } from "../helpers/images";
import { destroyStackUnder, makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const PROXMOX = [{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }];
let lxcPath: string;
let idmap: Record<string, unknown>[];
let t: TestStack;

/** The owner of the loop image's root directory and of its setuid binary, and that binary's mode. */
function owners(): Promise<string> {
  return withImageMounted(path.join(lxcPath, "web", "rootdev"), lxcPath, async (root) => {
    const [top, suid] = await Promise.all([fs.stat(root), fs.stat(path.join(root, "usr", "bin", "setuid-root"))]);
    return `${top.uid}:${top.gid} ${suid.uid}:${suid.gid} ${(suid.mode & 0o7777).toString(8)}`;
  });
}

beforeAll(async () => {
  lxcPath = await tempDir("idmap-engine");
  const source = { url: imageFixtures().busybox.tarball };
  t = await makeStack("idmap-dynamic", async () => {
    const r = new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size: "64M", source, idmap });
    return { idmap: r.idmap };
  });
});
afterAll(() => destroyStackUnder(t, lxcPath));

it("shifts the rootfs at create, records the map, keeps it on refresh, and refuses another one", async () => {
  idmap = PROXMOX;
  const preview = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(preview.text).toMatch(/; its owners then shifted into u\/g 0:100000:65536/);
  const up = await t.run((onOutput) => t.stack.up({ onOutput }));
  expect(up.result.outputs.idmap.value).toEqual(PROXMOX);
  expect(await owners()).toBe("100000:100000 100000:100000 4755");
  await t.run((onOutput) => t.stack.refresh({ onOutput }));
  expect((await t.stack.outputs()).idmap.value).toEqual(PROXMOX);
  expect((await t.run((onOutput) => t.stack.preview({ onOutput }))).result.changeSummary).toEqual({ same: 2 });

  idmap = [{ kind: "both", containerId: 0, hostId: 200000, size: 65536 }];
  const refused = await t.stack.preview().then(
    () => "",
    (e: Error) => e.message,
  );
  expect(refused).toMatch(
    /idmap: invalid value .*200000.*: the map this rootfs was shifted into at create, u\/g 0:100000:65536: shifting a rootfs that exists into another is not built yet/,
  );
  expect(await owners()).toBe("100000:100000 100000:100000 4755");
  idmap = PROXMOX;
});
