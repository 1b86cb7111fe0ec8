/**
 * A real distribution from `source`: the Debian 12 image scripts/setup-images.sh builds with debootstrap.
 * Unpacked, it is its manifest exactly (owners, modes, ACLs, xattrs, capabilities, devices, hard links);
 * on a loop image, `lxc-start` boots it to systemd, and ping keeps `cap_net_raw` inside, which LXC 5.0's own
 * download template drops. The busybox image serves every other test; this is the one that needs systemd.
 */
import { promises as fs } from "fs";
import path from "path";
import { cliOk, must, sh, tempDir } from "../helpers/env";
import { imageFixtures, treeManifest } from "../helpers/images";
import { expectNoLeaks, expectNoLeaksAndRemove } from "../helpers/leaks";

let lxcPath: string;
const images = imageFixtures();
const b = (name: string) => ["--lxcpath", lxcPath, "--name", name];

beforeAll(async () => {
  lxcPath = await tempDir("debian");
});
afterEach(() => expectNoLeaks(lxcPath, { settle: true }));
afterAll(async () => {
  await sh(["lxc-stop", "-P", lxcPath, "-n", "deb", "-k"]);
  await expectNoLeaksAndRemove(lxcPath);
});

it("the .tar.zst unpacks into dir exactly as its manifest says", async () => {
  const made = await cliOk(["create", ...b("exact"), "--backing-store", "dir", "--source", images.debian.zst]);
  expect(made.method).toBe("unpack");
  expect(await treeManifest(path.join(lxcPath, "exact", "rootfs"))).toBe(await fs.readFile(images.debian.manifest, "utf8"));
  await cliOk(["destroy", ...b("exact")]);
});

it("the .tar.xz on a loop image boots with lxc-start to systemd, and ping keeps its capability inside", async () => {
  // The config as a user writes it for a Debian container; the rootfs adds lxc.rootfs.path.
  await fs.mkdir(path.join(lxcPath, "deb"));
  await fs.writeFile(
    path.join(lxcPath, "deb", "config"),
    [
      "lxc.include = /usr/share/lxc/config/debian.common.conf",
      "lxc.uts.name = deb",
      "lxc.net.0.type = none",
      "lxc.apparmor.profile = unconfined",
      "",
    ].join("\n"),
  );
  await cliOk(["create", ...b("deb"), "--backing-store", "loop", "--size", "512M", "--source", images.debian.xz]);
  await must(["lxc-start", "-P", lxcPath, "-n", "deb", "-d"]);
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
    expect(await must(["lxc-attach", "-P", lxcPath, "-n", "deb", "--", "getcap", "/usr/bin/ping"])).toBe("/usr/bin/ping cap_net_raw=ep\n");
  } finally {
    await must(["lxc-stop", "-P", lxcPath, "-n", "deb", "-k"]);
  }
  await cliOk(["destroy", ...b("deb")]);
});
