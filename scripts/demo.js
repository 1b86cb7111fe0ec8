#!/usr/bin/env node
/**
 * The demo: runs the Pulumi.yaml project (examples/quickstart) with `pulumi up` through the engine, on a
 * local file backend in .demo/, then boots the loop rootfs with lxc-execute.
 *   npm run demo             make .demo/ (a busybox rootfs tarball, a btrfs filesystem in a loop image), pulumi up
 *   npm run demo -- destroy  pulumi destroy, then remove .demo/
 * The program runs inline through the Automation API, which serves the Node language runtime itself; the
 * Pulumi CLI and the engine are the real ones from .tools/bin.
 */
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { LocalWorkspace, PulumiCommand } = require("@pulumi/pulumi/automation");

const ROOT = path.resolve(__dirname, "..");
const DEMO = path.join(ROOT, ".demo");
const LXC = path.join(DEMO, "lxc");
const BTRFS_IMG = path.join(DEMO, "btrfs.img");
const BTRFS = path.join(DEMO, "btrfs");
const BTRFS_LXC = path.join(BTRFS, "lxc");
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "inherit"], ...opts }).toString();
const step = (s) => console.log(`\n\x1b[1m== ${s}\x1b[0m`);
const mounted = (p) =>
  fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === p);

/**
 * A busybox rootfs tarball, the demo's OS image: Debian's static busybox with its applets as symlinks, the
 * directories LXC mounts onto, and root in /etc/passwd. Packed by GNU tar with numeric owners and xz, as an
 * image server's rootfs.tar.xz is. Returns its path and sha256.
 */
function busyboxImage() {
  const image = path.join(DEMO, "busybox-rootfs.tar.xz");
  if (!fs.existsSync(image)) {
    step("a busybox rootfs tarball from Debian's busybox-static: the OS image `source` unpacks");
    const tree = path.join(DEMO, "busybox-tree");
    fs.rmSync(tree, { recursive: true, force: true });
    for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "lib", "lib64", "usr/lib"])
      fs.mkdirSync(path.join(tree, d), { recursive: true });
    fs.copyFileSync("/bin/busybox", path.join(tree, "bin", "busybox"));
    fs.chmodSync(path.join(tree, "bin", "busybox"), 0o755);
    for (const applet of sh("/bin/busybox", ["--list-full"]).split("\n").filter(Boolean)) {
      const link = path.join(tree, applet);
      if (!fs.existsSync(link)) fs.symlinkSync("/bin/busybox", link);
    }
    fs.writeFileSync(path.join(tree, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    fs.writeFileSync(path.join(tree, "etc", "group"), "root:x:0:\n");
    fs.chmodSync(path.join(tree, "tmp"), 0o1777);
    sh("tar", ["--create", "--xz", "--file", image, "--numeric-owner", "--owner=0", "--group=0", "-C", tree, "."]);
    fs.rmSync(tree, { recursive: true });
  }
  return { url: image, sha256: require("crypto").createHash("sha256").update(fs.readFileSync(image)).digest("hex") };
}

/** The container's config, as a user writes it: LXC's busybox template's, less network; the rootfs adds lxc.rootfs.path. */
function containerConfig(where, name) {
  const lines = [
    `lxc.uts.name = ${name}`,
    "lxc.net.0.type = none",
    "lxc.apparmor.profile = generated",
    "lxc.apparmor.allow_nesting = 1",
    "lxc.signal.halt = SIGUSR1",
    "lxc.signal.reboot = SIGTERM",
    "lxc.autodev = 1",
    "lxc.tty.max = 5",
    "lxc.pty.max = 1",
    "lxc.cap.drop = sys_module mac_admin mac_override sys_time",
    "lxc.mount.auto = cgroup:mixed proc:mixed sys:ro",
    "lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0",
  ];
  fs.mkdirSync(path.join(where, name), { recursive: true });
  const file = path.join(where, name, "config");
  if (!fs.existsSync(file)) fs.writeFileSync(file, [...lines, ""].join("\n"));
}

async function stack() {
  fs.mkdirSync(path.join(DEMO, "state"), { recursive: true });
  const program = require(path.join(ROOT, "dist", "examples", "quickstart", "index.js"));
  const s = await LocalWorkspace.createOrSelectStack(
    { stackName: "demo", projectName: "pulumi-lxc-demo", program },
    {
      workDir: ROOT,
      pulumiCommand: await PulumiCommand.get({ root: path.join(ROOT, ".tools"), skipVersionCheck: true }),
      envVars: {
        PULUMI_BACKEND_URL: `file://${path.join(DEMO, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "demo",
        PULUMI_HOME: path.join(DEMO, "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      },
    },
  );
  const image = busyboxImage();
  await s.setAllConfig({
    "pulumi-lxc-demo:lxcPath": { value: LXC },
    "pulumi-lxc-demo:btrfsLxcPath": { value: BTRFS_LXC },
    "pulumi-lxc-demo:image": { value: image.url },
    "pulumi-lxc-demo:imageSha256": { value: image.sha256 },
  });
  return s;
}

async function up() {
  fs.mkdirSync(LXC, { recursive: true });
  if (!mounted(BTRFS)) {
    step("a 2 GiB btrfs filesystem in a sparse loop image, for the btrfs and overlay rootfs");
    if (!fs.existsSync(BTRFS_IMG)) {
      sh("truncate", ["-s", "2G", BTRFS_IMG]);
      sh("mkfs.btrfs", ["-q", "-f", BTRFS_IMG]);
    }
    fs.mkdirSync(BTRFS, { recursive: true });
    sh("mount", ["-o", "loop", BTRFS_IMG, BTRFS]);
    fs.mkdirSync(BTRFS_LXC, { recursive: true });
  }
  containerConfig(LXC, "web");
  step("pulumi up (Pulumi.yaml: examples/quickstart)");
  const s = await stack();
  const result = await s.up({ onOutput: (o) => process.stdout.write(o) });
  step("outputs");
  console.log(JSON.stringify(Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value])), null, 2));
  step("lxc-execute: LXC boots `web` from its loop image");
  process.stdout.write(
    sh("lxc-execute", ["-P", LXC, "-n", "web", "--", "/bin/sh", "-c", 'echo "hello from $(hostname); / is $(grep " / " /proc/mounts)"']),
  );
  step("preview again: nothing to change");
  const preview = await s.preview();
  console.log(JSON.stringify(preview.changeSummary));
  console.log("\nDone. Remove everything with: npm run demo -- destroy");
}

async function destroy() {
  if (fs.existsSync(path.join(DEMO, "state"))) {
    step("pulumi destroy");
    const s = await stack();
    await s.destroy({ onOutput: (o) => process.stdout.write(o) });
    await s.workspace.removeStack("demo");
  }
  if (mounted(BTRFS)) sh("umount", [BTRFS]);
  fs.rmSync(DEMO, { recursive: true, force: true });
  console.log("demo removed");
}

(process.argv[2] === "destroy" ? destroy() : up()).catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});
