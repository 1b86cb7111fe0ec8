/**
 * RootfsSnapshot on a remote host through the real engine: the snapshot is taken by the agent on the host
 * (a real sshd whose lxcPath the test process cannot see), a preview reads its plan from there, LXC there
 * lists it, the connection stays secret, and the destroy leaves the host empty.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO } from "../helpers/env";
import { makeStack, TestStack } from "../helpers/pulumi";
import { connectionTo, inside, SshHost, startSshHost } from "../helpers/sshd";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs, RootfsSnapshot } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

let h: SshHost;
let t: TestStack;
let names: string[] = [];

beforeAll(async () => {
  h = await startSshHost({ fs: "btrfs", size: "1G" });
  t = await makeStack("remote-snapshot", async () => {
    const connection = connectionTo(h);
    const web = new Rootfs("web", { container: "web", lxcPath: h.lxcPath, backingStore: "btrfs", connection });
    const outs: Record<string, unknown> = {};
    for (const name of names) {
      const s = new RootfsSnapshot(name, { container: web.container, lxcPath: h.lxcPath, name, connection });
      outs[name] = s.id;
      outs[`${name}Method`] = s.method;
    }
    return outs;
  });
}, 120_000);

afterAll(async () => {
  await t?.destroy().catch(() => undefined);
  await h?.stop();
});

it("is taken on the host, planned from there, listed by its LXC, and destroyed with its rootfs", async () => {
  await t.stack.up();
  names = ["pre"];
  const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
  expect(text).toMatch(new RegExp(`snapshot pre of ${h.lxcPath}/web: .*a read-only btrfs subvolume snapshot, no data copied`));
  const up = await t.stack.up();
  expect(up.outputs.pre.value).toBe(`${h.host}:${h.lxcPath}/web/snaps/pre`);
  expect(up.outputs.preMethod.value).toBe("snapshot");
  expect(await inside(h, `lxc-snapshot -P ${h.lxcPath} -n web -L`)).toMatch(/^pre \(/);
  expect(await inside(h, `btrfs property get -ts ${h.lxcPath}/web/snaps/pre/rootfs ro`)).toBe("ro=true");
  // Nothing ran here, and no key material reached the state.
  expect(await fs.readdir(h.lxcPath)).toEqual([]);
  const stateDir = path.join(t.dir, "state");
  let state = "";
  for (const f of await fs.readdir(stateDir, { recursive: true })) {
    const p = path.join(stateDir, String(f));
    if ((await fs.stat(p)).isFile()) state += await fs.readFile(p, "utf8");
  }
  expect(state).toContain("snaps/pre");
  const keyBody = h.privateKey.split("\n").find((l) => l.length > 40 && !l.startsWith("-----")) as string;
  expect(state).not.toContain(keyBody);
  const refresh = await t.stack.refresh();
  expect(refresh.summary.resourceChanges).toEqual({ same: 3 });

  names = [];
  await t.stack.up();
  expect(await inside(h, `lxc-snapshot -P ${h.lxcPath} -n web -L`)).toMatch(/No snapshots/);
  await t.stack.destroy();
  expect(await inside(h, `ls -A ${h.lxcPath}`)).toBe("");
});
