/**
 * The Pulumi diff: the record first, without touching the host; the host, through the core's planUpdate,
 * whenever the record says something is to do. A fake core stands in for the host here; the engine tests
 * (test/pulumi/preview-checks) drive the real one.
 */
import { unknownValue } from "@pulumi/pulumi/runtime";
import { NoSpace } from "../../provider/src/model/errors";
import { UpdatePlan } from "../../provider/src/model/plans";
import { RootfsCore } from "../../provider/src/api";
import { diffResource, RECORD_ONLY } from "../../provider/src/adapters/pulumi/resource";

const M = 2 ** 20;
const inputs = { container: "web", lxcPath: "/var/lib/lxc", backingStore: "loop", size: "1G", fstype: "ext4" };
const olds = {
  ...inputs,
  rootfsPath: "loop:/var/lib/lxc/web/rootdev",
  sizeBytes: 1024 * M,
  fstype: "ext4",
  usedBytes: 900 * M,
  allocatedBytes: 900 * M,
  managed: true,
};

function fakeCore(answer: UpdatePlan | null | Error) {
  const calls: unknown[][] = [];
  const core = {
    planUpdate: async (...args: unknown[]) => {
      calls.push(args);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as RootfsCore;
  return { core, calls };
}
// The diff reads a plan's strategy and summary only: the fields of each strategy are left out.
const plan = (strategy: UpdatePlan["strategy"], summary: string): UpdatePlan => ({ strategy, summary, bytesToMove: 0 }) as UpdatePlan;

describe("diff", () => {
  it("asks nothing of the host when the record says nothing is to do", async () => {
    const { core, calls } = fakeCore(new Error("asked"));
    expect(await diffResource(olds, inputs, core)).toEqual({ changes: false, replaces: [] });
    expect(calls).toEqual([]);
  });

  it("reports the host's plan, asking with the recorded place and the wanted state, and the caller's options", async () => {
    const { core, calls } = fakeCore(plan("file-copy", "copy 312 MiB file by file from loop ext4 1.0 GiB into a new dir"));
    const opts = { log: () => undefined };
    const d = await diffResource(olds, { ...inputs, backingStore: "dir", size: undefined, fstype: undefined }, core, opts);
    expect(d).toEqual({ changes: true, replaces: [], summary: "copy 312 MiB file by file from loop ext4 1.0 GiB into a new dir" });
    expect(calls).toEqual([
      [{ container: "web", lxcPath: "/var/lib/lxc", rootfsPath: olds.rootfsPath }, { backingStore: "dir", idmapMode: "shift" }, opts],
    ]);
  });

  it("a shrink the record cannot plan (it counted 900 MiB) is the host's to judge", async () => {
    const { core } = fakeCore(plan("shrink-in-place", "shrink in place (offline): loop ext4 1.0 GiB → 512 MiB"));
    expect(await diffResource(olds, { ...inputs, size: "512M" }, core)).toMatchObject({
      changes: true,
      summary: expect.stringMatching(/^shrink in place/),
    });
  });

  it("the host's refusal is the preview's error", async () => {
    const { core } = fakeCore(new NoSpace("/var/lib/lxc/web (loop)", 64 * 2 ** 40, 2 ** 36));
    await expect(diffResource(olds, { ...inputs, size: "64T" }, core)).rejects.toThrow(/^no space on \/var\/lib\/lxc\/web \(loop\)/);
  });

  it("when the host already holds what is wanted and the record does not, an update records it and changes nothing", async () => {
    const { core } = fakeCore(plan("none", "no change"));
    expect(await diffResource(olds, { ...inputs, size: "2G" }, core)).toEqual({ changes: true, replaces: [], summary: RECORD_ONLY });
  });

  it("the record speaks while an interrupted operation awaits recovery", async () => {
    const { core } = fakeCore(null);
    expect(await diffResource(olds, { ...inputs, size: "2G" }, core)).toMatchObject({
      changes: true,
      summary: expect.stringMatching(/^grow in place/),
    });
  });

  it("values unknown at preview, and replacements, are not the host's to plan", async () => {
    const { core, calls } = fakeCore(new Error("asked"));
    expect(await diffResource(olds, { ...inputs, size: unknownValue }, core)).toMatchObject({ changes: true, replaces: [] });
    expect(await diffResource(olds, { ...inputs, container: "db" }, core)).toMatchObject({ changes: true, replaces: ["container"] });
    expect(calls).toEqual([]);
  });
});

describe("diff of where the rootfs lives", () => {
  const conn = { host: "10.0.0.5", privateKey: "old key", hostKey: "ssh-ed25519 AAAA" };
  const remote = { ...olds, connection: conn };
  const wanted = { ...inputs, connection: conn };

  it("replaces when the host or the port changes: another machine holds another rootfs", async () => {
    const { core, calls } = fakeCore(new Error("asked"));
    for (const moved of [
      { ...conn, host: "10.0.0.6" },
      { ...conn, port: 2222 },
    ]) {
      expect(await diffResource(remote, { ...inputs, connection: moved }, core)).toMatchObject({ changes: true, replaces: ["connection"] });
    }
    expect(await diffResource(olds, wanted, core)).toMatchObject({
      replaces: ["connection"],
      summary: "replace: connection local → 10.0.0.5:22",
    });
    expect(await diffResource(remote, inputs, core)).toMatchObject({
      replaces: ["connection"],
      summary: "replace: connection 10.0.0.5:22 → local",
    });
    expect(calls).toEqual([]);
  });

  it("credentials, the bastion and the timeouts never diff: keys rotate", async () => {
    const { core, calls } = fakeCore(new Error("asked"));
    const rotated = {
      ...conn,
      privateKey: "new key",
      password: "pw",
      user: "root",
      dialErrorLimit: 3,
      perDialTimeout: 5,
      proxy: { host: "bastion" },
    };
    expect(await diffResource(remote, { ...inputs, connection: rotated }, core)).toEqual({ changes: false, replaces: [] });
    // The same host written another way is the same machine.
    expect(await diffResource(remote, { ...inputs, connection: { ...conn, host: "10.0.0.5", port: 22 } }, core)).toEqual({
      changes: false,
      replaces: [],
    });
    expect(calls).toEqual([]);
  });

  it("a connection known only after apply (the SDKs make the whole secret object unknown) is an update at preview, not a replacement, and asks nothing of the host", async () => {
    const { core, calls } = fakeCore(new Error("asked"));
    for (const connection of [unknownValue, { ...conn, host: unknownValue }, { ...conn, port: unknownValue }]) {
      expect(await diffResource(remote, { ...inputs, connection }, core)).toEqual({
        changes: true,
        replaces: [],
        summary: "update: connection known only after apply (another host replaces)",
      });
    }
    const d = await diffResource(remote, { ...inputs, size: "2G", connection: { ...conn, privateKey: unknownValue } }, core);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    expect(calls).toEqual([]);
  });
});

describe("diff of an lxcPath spelled another way", () => {
  /** A host where /srv/lxc is a symlink to /var/lib/lxc. */
  function hostWithSymlink(answer: UpdatePlan | null | Error) {
    const { core, calls } = fakeCore(answer);
    const identify = async (ref: { lxcPath: string; container: string }) => ({
      containerDir: `${ref.lxcPath.replace(/^\/srv\/lxc$/, "/var/lib/lxc")}/${ref.container}`,
      dev: 1,
      ino: 2,
    });
    return { core: { ...core, planUpdate: core.planUpdate, identify } as unknown as RootfsCore, calls };
  }

  it("is an update that records the spelling when both name one directory, never a replacement", async () => {
    const { core, calls } = hostWithSymlink(new Error("asked"));
    expect(await diffResource(olds, { ...inputs, lxcPath: "/srv/lxc" }, core)).toEqual({
      changes: true,
      replaces: [],
      summary: `${RECORD_ONLY}: lxcPath "/var/lib/lxc" → "/srv/lxc" names the same directory`,
    });
    expect(calls).toEqual([]);
  });

  it("plans the rest of the change as for the old spelling", async () => {
    const { core, calls } = hostWithSymlink(plan("grow-in-place", "grow in place: loop ext4 1.0 GiB → 2.0 GiB"));
    expect(await diffResource(olds, { ...inputs, lxcPath: "/srv/lxc", size: "2G" }, core)).toEqual({
      changes: true,
      replaces: [],
      summary: 'grow in place: loop ext4 1.0 GiB → 2.0 GiB; lxcPath "/var/lib/lxc" → "/srv/lxc" names the same directory',
    });
    expect(calls).toHaveLength(1);
  });

  it("replaces when the two spellings name two directories", async () => {
    const { core } = hostWithSymlink(new Error("asked"));
    expect(await diffResource(olds, { ...inputs, lxcPath: "/srv/other" }, core)).toMatchObject({ changes: true, replaces: ["lxcPath"] });
  });
});
