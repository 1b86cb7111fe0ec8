/**
 * LXC as the boot tests drive it: a seed container made by lxc-create beside a scratch btrfs lxcPath, a
 * container config for a rootfs that lxc-rootfs makes, and lxc-execute.
 */
import { promises as fs } from "fs";
import path from "path";
import { mountScratchBtrfs, must, sh, tempDir, TEST_PREFIX } from "./env";
import { expectNoLeaksAndRemove } from "./leaks";

export interface SeedFixture {
  /** A fresh lxcPath holding the seed container (`lxc-create -t busybox`). */
  lxcPath: string;
  /** The seed's container directory; its rootfs holds /etc/lxc-rootfs-marker ("seed data"). */
  seed: string;
  /** An lxcPath on a scratch btrfs filesystem. */
  bpath: string;
  /** Destroys the seed, releases the btrfs, checks nothing is left attached, removes the lxcPath. */
  release(): Promise<void>;
}

/** A container made by `lxc-create -t busybox`, whose rootfs (with a marker, "<name> data") seeds the rootfs that LXC must boot. */
export async function busyboxSeed(lxcPath: string, name: string): Promise<void> {
  await must(["lxc-create", "-P", lxcPath, "-n", name, "-t", "busybox"]);
  await fs.writeFile(path.join(lxcPath, name, "rootfs", "etc", "lxc-rootfs-marker"), `${name} data\n`);
}

export async function seedFixture(label: string): Promise<SeedFixture> {
  const lxcPath = await tempDir(label);
  await busyboxSeed(lxcPath, "seed");
  const seed = path.join(lxcPath, "seed");
  const btrfs = await mountScratchBtrfs(`${label}-btrfs`, "1G");
  const bpath = path.join(btrfs.dir, "lxc");
  await fs.mkdir(bpath);
  return {
    lxcPath,
    seed,
    bpath,
    async release() {
      await sh(["lxc-destroy", "-P", lxcPath, "-n", "seed"]);
      await btrfs.release();
      await expectNoLeaksAndRemove(lxcPath);
    },
  };
}

/**
 * A config for `name` in `where` like the seed container's (`seedDir`, made by lxc-create), minus network
 * and rootfs: lxc-rootfs writes lxc.rootfs.path.
 */
export async function writeBootConfig(seedDir: string, where: string, name: string): Promise<void> {
  const seed = await fs.readFile(path.join(seedDir, "config"), "utf8");
  const lines = seed.split("\n").filter((l) => !/^lxc\.(rootfs\.path|net\.|uts\.name)/.test(l));
  await fs.mkdir(path.join(where, name), { recursive: true });
  await fs.writeFile(path.join(where, name, "config"), [...lines, `lxc.uts.name = ${name}`, "lxc.net.0.type = none", ""].join("\n"));
}

/** Runs a shell command inside the container with lxc-execute (2 minutes at most); what it prints. */
export async function execute(where: string, name: string, command: string): Promise<string> {
  const r = await sh(["timeout", "120", "lxc-execute", "-P", where, "-n", name, "--", "/bin/sh", "-c", command]);
  if (r.code !== 0) throw new Error(`lxc-execute ${name} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** What `lxc-execute` prints from inside the container: its hostname, and the marker the seed's rootfs holds. */
export function boot(where: string, name: string): Promise<string> {
  return execute(where, name, "echo booted $(hostname); cat /etc/lxc-rootfs-marker");
}

/**
 * Makes `dir` reachable by an unprivileged container's root (a host id like 100000, "others" to the
 * host): every directory from it up to TEST_PREFIX searchable by anyone, as the test's own are made so. One
 * above them that is not is the machine's to fix, said here.
 */
export async function reachableByContainerRoot(dir: string): Promise<void> {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    const mode = (await fs.stat(d)).mode;
    if (d === TEST_PREFIX || d.startsWith(`${TEST_PREFIX}/`)) await fs.chmod(d, mode | 0o111);
    else if ((mode & 0o001) === 0) throw new Error(`${d} is not searchable by others: an unprivileged container cannot reach ${dir}`);
  }
}
