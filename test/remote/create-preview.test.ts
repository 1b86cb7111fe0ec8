/**
 * A preview of a new rootfs on a remote host asks that host, over SSH, with the create's own checks: a
 * store the host's lxcPath cannot hold, no room, a rootfs already there, a closed port, and a port change
 * that would replace a rootfs onto a closed port each fail the preview, and the host is left as it was.
 * A create the host can hold previews clean with its plan line, and 20 of them with --parallel 16 take
 * one SSH connection.
 */
import net from "net";
import path from "path";
import { REPO } from "../helpers/env";
import { failedPreview as previewThatFails, makeStack, TestStack } from "../helpers/pulumi";
import { connectionTo, inside, SshHost, startSshHost } from "../helpers/sshd";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

let a: SshHost;
let t: TestStack;
/** What the program declares, by resource name: set by each test. */
let desired = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  a = await startSshHost({ size: "512M" });
  t = await makeStack("remote-create-preview", async () => {
    for (const [name, args] of desired) new Rootfs(name, args);
  });
}, 60_000);

afterAll(async () => {
  await t?.destroy().catch(() => undefined);
  await a?.stop();
});

const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

/** What a preview could change on the host: its lxcPath's tree, and its lock directory. */
const hostState = () => inside(a, `find ${a.lxcPath} /run/lxc-rootfs/locks -printf '%p %y %s\\n' 2>/dev/null | sort; true`);

/** A preview that must fail, and leave the host as it was: the engine's whole output. */
const failedPreview = () => previewThatFails(t, hostState);

const one = (args: Record<string, unknown>) =>
  new Map([["web", { container: "web", lxcPath: a.lxcPath, connection: connectionTo(a), ...args }]]);

describe("a preview of a new rootfs on a remote host asks the host", () => {
  it("a btrfs rootfs on the host's lxcPath, which is not btrfs", async () => {
    desired = one({ backingStore: "btrfs" });
    expect(await failedPreview()).toContain(`backingStore: invalid value "btrfs": lxcPath ${a.lxcPath} must be on a btrfs filesystem`);
  });

  it("a loop image larger than the host's lxcPath holds", async () => {
    desired = one({ backingStore: "loop", size: "4G" });
    expect(await failedPreview()).toMatch(new RegExp(`no space on ${a.lxcPath}/web \\(loop\\): needs 4\\.0 GiB`));
  });

  it("a rootfs already on the host's disk, which no stack manages", async () => {
    await inside(
      a,
      `mkdir -p ${a.lxcPath}/made/rootfs && echo 'lxc.rootfs.path = dir:${a.lxcPath}/made/rootfs' > ${a.lxcPath}/made/config`,
    );
    desired = new Map([["made", { container: "made", lxcPath: a.lxcPath, connection: connectionTo(a), backingStore: "dir" }]]);
    expect(await failedPreview()).toContain(
      `a rootfs is already at dir:${a.lxcPath}/made/rootfs: adopt it with pulumi import lxc:index:Rootfs <name> 127.0.0.1:${a.lxcPath}/made`,
    );
    await inside(a, `rm -rf ${a.lxcPath}/made`);
  });

  it("a closed port fails the preview within the dial limits, naming the host", async () => {
    const port = await closedPort();
    desired = one({ backingStore: "dir", connection: { ...connectionTo(a), port, dialErrorLimit: 2, perDialTimeout: 2 } });
    const started = Date.now();
    const text = await failedPreview();
    expect(text).toContain(`ssh root@127.0.0.1:${port}: connect ECONNREFUSED`);
    expect(text).toContain("after 2 dials of at most 2 s");
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("PULUMI_LXC_PREVIEW_UNREACHABLE=warn: a closed port previews with a warning naming the host, and up still fails there; a bad value is refused", async () => {
    const port = await closedPort();
    desired = one({ backingStore: "dir", connection: { ...connectionTo(a), port, dialErrorLimit: 2, perDialTimeout: 2 } });
    process.env.PULUMI_LXC_PREVIEW_UNREACHABLE = "warn";
    try {
      const { result, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
      expect(result.changeSummary).toEqual({ create: 2 });
      expect(text).toContain(
        `rootfs ${a.lxcPath}/web: warning: root@127.0.0.1:${port} is unreachable, so nothing was checked there (PULUMI_LXC_PREVIEW_UNREACHABLE=warn): ssh root@127.0.0.1:${port}: connect ECONNREFUSED`,
      );
      const up = await t
        .run((onOutput) => t.stack.up({ onOutput }))
        .then(
          () => "up succeeded",
          (e: Error) => e.message,
        );
      expect(up).toContain(`ssh root@127.0.0.1:${port}: connect ECONNREFUSED`);
      process.env.PULUMI_LXC_PREVIEW_UNREACHABLE = "maybe";
      expect(await failedPreview()).toContain('PULUMI_LXC_PREVIEW_UNREACHABLE: invalid value "maybe": warn, or fail (the default)');
    } finally {
      delete process.env.PULUMI_LXC_PREVIEW_UNREACHABLE;
    }
  });

  it("20 creates the host can hold preview clean with their plan lines over one SSH connection (--parallel 16), changing nothing", async () => {
    desired = new Map(
      Array.from({ length: 20 }, (_, i) => [
        `r${i}`,
        { container: `r${i}`, lxcPath: a.lxcPath, connection: connectionTo(a), backingStore: "dir" },
      ]),
    );
    const before = await hostState();
    const connections = await a.connections();
    const { result, text } = await t.run((onOutput) => t.stack.preview({ onOutput, parallel: 16 }));
    // The stack's own resource is there when a test before made it (a failed up makes it too).
    expect(result.changeSummary).toMatchObject({ create: 20 });
    expect(await hostState()).toBe(before);
    expect(await a.connections()).toBe(connections + 1);
    for (let i = 0; i < 20; i++) expect(text).toContain(`rootfs ${a.lxcPath}/r${i}: create dir at dir:${a.lxcPath}/r${i}/rootfs, empty`);
  });

  it("a port change that replaces a rootfs onto a closed port fails the preview, and the rootfs stays", async () => {
    desired = one({ backingStore: "dir" });
    await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(await inside(a, `test -d ${a.lxcPath}/web/rootfs && echo made`)).toBe("made");
    const port = await closedPort();
    desired = one({ backingStore: "dir", connection: { ...connectionTo(a), port, dialErrorLimit: 2, perDialTimeout: 2 } });
    expect(await failedPreview()).toContain(`ssh root@127.0.0.1:${port}: connect ECONNREFUSED`);
    expect(await inside(a, `test -d ${a.lxcPath}/web/rootfs && echo kept`)).toBe("kept");
  });

  it("a connection known only once another resource is made asks nothing at preview and says so; up makes both", async () => {
    const u = await makeStack("remote-create-unknown", async () => {
      const first = new Rootfs("first", { container: "first", lxcPath: a.lxcPath, connection: connectionTo(a), backingStore: "dir" });
      const connection = { ...connectionTo(a), host: first.id.apply(() => "127.0.0.1") };
      new Rootfs("second", { container: "second", lxcPath: a.lxcPath, connection, backingStore: "dir" });
    });
    try {
      const { result, text } = await u.run((onOutput) => u.stack.preview({ onOutput }));
      expect(result.changeSummary).toEqual({ create: 3 });
      expect(text).toContain(`rootfs ${a.lxcPath}/first: create dir at dir:${a.lxcPath}/first/rootfs, empty`);
      expect(text).toContain(`rootfs ${a.lxcPath}/second: its connection is known only once another resource is made`);
      await u.run((onOutput) => u.stack.up({ onOutput }));
      expect(await inside(a, `ls ${a.lxcPath}/first ${a.lxcPath}/second`)).toMatch(/rootfs[\s\S]*rootfs/);
    } finally {
      await u.destroy();
    }
  });
});
