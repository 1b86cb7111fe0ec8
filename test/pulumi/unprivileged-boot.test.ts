/**
 * Unprivileged containers run from rootfs the real engine made or shifted, with the dynamic provider. The
 * Debian image on loop, created privileged, boots privileged; its `idmap` changed to 0:100000:65536 (and
 * the config's lxc.idmap lines added) is a shift in place, the preview naming it, that keeps every file's
 * data and boots unprivileged (root inside, su setuid, ping's capability working as nobody, a file made
 * inside host 100000's); `[]` shifts it back and it boots privileged again. The busybox image runs
 * unprivileged under lxc-execute on dir, created in the map, and on btrfs, shifted into it in place.
 */
import { promises as fs } from "fs";
import path from "path";
import { mountScratchBtrfs, must, REPO, sh, tempDir, withImageMounted } from "../helpers/env";
import { imageFixtures, shiftedManifest, treeManifest } from "../helpers/images";
import { expectNoLeaks, expectNoLeaksAndRemove, loopsDetached } from "../helpers/leaks";
import { execute, reachableByContainerRoot } from "../helpers/lxc";
import { makeStack, TestStack } from "../helpers/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const f = imageFixtures();
const PROXMOX = [{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }];
/** What a config needs for that map: LXC's user-namespace defaults and the map itself. */
const USERNS = ["lxc.include = /usr/share/lxc/config/userns.conf", "lxc.idmap = u 0 100000 65536", "lxc.idmap = g 0 100000 65536"];
/** The shift's preview lines: a loop rootfs's count is its filesystem's tally ("about"), a btrfs one's surveyed. */
const LOOP_TO_PROXMOX = /shift the owners of about [\d,]+ files in place from none \(privileged\) to u\/g 0:100000:65536/;
const LOOP_TO_PRIVILEGED = /shift the owners of about [\d,]+ files in place from u\/g 0:100000:65536 to none \(privileged\)/;
const BTRFS_TO_PROXMOX = /shift the owners of [\d,]+ files in place from none \(privileged\) to u\/g 0:100000:65536/;

let lxcPath: string;
let bpath: string;
let btrfs: { dir: string; release(): Promise<void> };
let deb: TestStack | undefined;
let bb: TestStack | undefined;
let debIdmap: unknown;
let btrfsIdmap: unknown;

/**
 * A container's config as a user writes it, with USERNS's lines or without; the line lxc-rootfs writes
 * (lxc.rootfs.path) is kept.
 */
async function writeConfig(where: string, name: string, base: string[], unprivileged: boolean): Promise<void> {
  const file = path.join(where, name, "config");
  await fs.mkdir(path.dirname(file), { recursive: true });
  const written = await fs.readFile(file, "utf8").catch(() => base.join("\n"));
  const kept = written.split("\n").filter((l) => l !== "" && !USERNS.includes(l));
  await fs.writeFile(file, [...kept, ...(unprivileged ? USERNS : []), ""].join("\n"));
}

const DEBIAN_CONFIG = [
  "lxc.include = /usr/share/lxc/config/debian.common.conf",
  "lxc.uts.name = deb",
  // `none` would share the host's network namespace, where a user namespace cannot mount sysfs.
  "lxc.net.0.type = empty",
  "lxc.apparmor.profile = unconfined",
];
const busyboxConfig = (name: string) => [`lxc.uts.name = ${name}`, "lxc.net.0.type = empty", "lxc.apparmor.profile = unconfined"];

/** The Debian rootfs's manifest (every path's owner, mode, mtime, sha256, ACLs, capability), read from its image. */
const debManifest = () => withImageMounted(path.join(lxcPath, "deb", "rootdev"), lxcPath, treeManifest);

/**
 * Boots the Debian container to systemd and checks it from inside: root, its map (`uid_map`), su setuid,
 * ping's capability working as nobody; a file made inside, and `/`, are host `hostRoot`'s.
 */
async function bootsDebian(uidMap: string, hostRoot: number): Promise<void> {
  const inside = (...argv: string[]) => must(["timeout", "120", "lxc-attach", "-P", lxcPath, "-n", "deb", "--", ...argv]);
  const log = path.join(lxcPath, "deb-start.log");
  const started = await sh(["lxc-start", "-P", lxcPath, "-n", "deb", "-d", "--logfile", log, "--logpriority", "INFO"]);
  if (started.code !== 0) throw new Error(`lxc-start failed: ${(await fs.readFile(log, "utf8")).split("\n").slice(-40).join("\n")}`);
  try {
    await must(["lxc-wait", "-P", lxcPath, "-n", "deb", "-s", "RUNNING", "-t", "60"]);
    // systemd answers once its bus is up: asked again until then, for at most two minutes.
    let state = "";
    for (let i = 0; i < 120 && !/^(running|degraded)$/.test(state); i++) {
      const r = await sh(["timeout", "120", "lxc-attach", "-P", lxcPath, "-n", "deb", "--", "systemctl", "is-system-running", "--wait"]);
      state = r.stdout.trim();
      if (!/^(running|degraded)$/.test(state)) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(state).toMatch(/^(running|degraded)$/);
    expect(await inside("id", "-u")).toBe("0\n");
    expect((await inside("cat", "/proc/self/uid_map")).trim().split(/\s+/).join(" ")).toBe(uidMap);
    expect(await inside("stat", "-c", "%u:%g %a", "/", "/usr/bin/su")).toBe("0:0 755\n0:0 4755\n");
    expect(await inside("getcap", "/usr/bin/ping")).toBe("/usr/bin/ping cap_net_raw=ep\n");
    // A raw socket to loopback, which nobody has only through ping's capability.
    expect(await inside("su", "-s", "/bin/sh", "nobody", "-c", "ping -c 1 -W 5 127.0.0.1 >/dev/null && echo pinged")).toBe("pinged\n");
    const made = `/root/made-inside-${hostRoot}`;
    await inside("touch", made);
    const pid = (await must(["lxc-info", "-P", lxcPath, "-n", "deb", "-p", "-H"])).trim();
    expect((await fs.stat(`/proc/${pid}/root`)).uid).toBe(hostRoot);
    expect((await fs.stat(`/proc/${pid}/root${made}`)).uid).toBe(hostRoot);
  } finally {
    await must(["lxc-stop", "-P", lxcPath, "-n", "deb", "-k"]);
    // LXC's loop device is autoclear: it goes a moment after the container.
    await loopsDetached(lxcPath);
  }
}

/** Runs busybox under lxc-execute: root inside, `/` and the setuid file root's, a file made inside host 100000's. */
async function runsUnprivileged(where: string, name: string): Promise<void> {
  expect(await execute(where, name, "id -u; stat -c '%u:%g %a' / /usr/bin/setuid-root; touch /root/made-inside")).toBe(
    "0\n0:0 755\n0:0 4755\n",
  );
  expect((await fs.stat(path.join(where, name, "rootfs", "root", "made-inside"))).uid).toBe(100000);
}

beforeAll(async () => {
  lxcPath = await tempDir("unpriv-boot");
  btrfs = await mountScratchBtrfs("unpriv-boot-btrfs", "1G");
  bpath = path.join(btrfs.dir, "lxc");
  await fs.mkdir(bpath);
  await reachableByContainerRoot(lxcPath);
  await reachableByContainerRoot(bpath);
});

afterAll(async () => {
  // Each test stops what it starts; these are for one cut short (a timeout that killed lxc-execute).
  for (const [where, name] of [
    [lxcPath, "deb"],
    [lxcPath, "bb-dir"],
    [bpath, "bb-btrfs"],
  ])
    await sh(["lxc-stop", "-P", where, "-n", name, "-k"]);
  await loopsDetached(lxcPath);
  try {
    await bb?.destroy();
    await expectNoLeaks(bpath);
  } finally {
    await btrfs?.release();
  }
  await deb?.destroy();
  await expectNoLeaksAndRemove(lxcPath);
});

it("Debian on loop, created privileged, boots; shifted in place into 0:100000:65536 boots unprivileged; shifted back boots privileged; the data kept", async () => {
  await writeConfig(lxcPath, "deb", DEBIAN_CONFIG, false);
  deb = await makeStack("unpriv-boot-deb", async () => {
    const r = new Rootfs("deb", {
      container: "deb",
      lxcPath,
      backingStore: "loop",
      size: "512M",
      fstype: "ext4",
      source: { url: f.debian.xz },
      idmap: debIdmap,
    });
    return { idmap: r.idmap };
  });
  const t = deb;
  await t.run((onOutput) => t.stack.up({ onOutput }));
  await bootsDebian("0 0 4294967295", 0);

  // The config takes the map's lines after the shift: a privileged create records no map, so with those
  // lines already there the preview of a loop rootfs (its root's owner not read) would name both maps.
  debIdmap = PROXMOX;
  expect((await t.run((onOutput) => t.stack.preview({ onOutput }))).text).toMatch(LOOP_TO_PROXMOX);
  const privileged = await debManifest();
  expect((await t.run((onOutput) => t.stack.up({ onOutput }))).result.outputs.idmap.value).toEqual(PROXMOX);
  // Every id moved by 100000 and nothing else: contents (sha256), modes, mtimes, ACLs, ping's capability.
  expect(await debManifest()).toBe(shiftedManifest(privileged));
  await writeConfig(lxcPath, "deb", DEBIAN_CONFIG, true);
  await bootsDebian("0 100000 65536", 100000);

  debIdmap = [];
  await writeConfig(lxcPath, "deb", DEBIAN_CONFIG, false);
  expect((await t.run((onOutput) => t.stack.preview({ onOutput }))).text).toMatch(LOOP_TO_PRIVILEGED);
  const unprivileged = await debManifest();
  expect((await t.run((onOutput) => t.stack.up({ onOutput }))).result.outputs.idmap.value).toEqual([]);
  expect(shiftedManifest(await debManifest())).toBe(unprivileged);
  await bootsDebian("0 0 4294967295", 0);
}, 600000);

it("busybox runs unprivileged on dir, created in the map, and on btrfs, shifted into it in place", async () => {
  const source = { url: f.busybox.tarball };
  await writeConfig(lxcPath, "bb-dir", busyboxConfig("bb-dir"), true);
  await writeConfig(bpath, "bb-btrfs", busyboxConfig("bb-btrfs"), false);
  bb = await makeStack("unpriv-boot-bb", async () => {
    new Rootfs("bb-dir", { container: "bb-dir", lxcPath, backingStore: "dir", source, idmap: PROXMOX });
    new Rootfs("bb-btrfs", { container: "bb-btrfs", lxcPath: bpath, backingStore: "btrfs", source, idmap: btrfsIdmap });
  });
  const t = bb;
  await t.run((onOutput) => t.stack.up({ onOutput }));
  await runsUnprivileged(lxcPath, "bb-dir");

  btrfsIdmap = PROXMOX;
  await writeConfig(bpath, "bb-btrfs", busyboxConfig("bb-btrfs"), true);
  expect((await t.run((onOutput) => t.stack.preview({ onOutput }))).text).toMatch(BTRFS_TO_PROXMOX);
  await t.run((onOutput) => t.stack.up({ onOutput }));
  await runsUnprivileged(bpath, "bb-btrfs");
});
