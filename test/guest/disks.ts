/**
 * The guest's blank disks, as scripts/test-guest.sh attaches them (each 4 GiB, sparse on the host), and
 * what the guest suites share: a block device mounted by the test itself, and the LXC busybox seed.
 */
import { promises as fs } from "fs";
import path from "path";
import { must, sh } from "../helpers/env";

/** One disk per suite, so a suite that fails cannot leave another a disk in use. */
export const DISKS = { thick: "/dev/vdb", thin: "/dev/vdc", zfs: "/dev/vdd", faultsLvm: "/dev/vde", faultsZfs: "/dev/vdf" } as const;

/** Runs `fn` on a block device's filesystem, mounted read-only under `scratchParent` for the call only. */
export async function withDeviceMounted<T>(device: string, scratchParent: string, fn: (root: string) => Promise<T>): Promise<T> {
  const mp = await fs.mkdtemp(path.join(scratchParent, ".look-"));
  await must(["mount", "-o", "ro", device, mp]);
  try {
    return await fn(mp);
  } finally {
    await must(["umount", mp]);
    await fs.rmdir(mp);
  }
}

/** `lvs` for the volume group: LV name → size in bytes, and each LV's attributes and pool. */
export async function lvsOf(vg: string): Promise<Map<string, { size: number; attr: string; pool: string; dataPercent: number | null }>> {
  const out = await must([
    "lvs",
    "--noheadings",
    "--units",
    "b",
    "--nosuffix",
    "--separator",
    ",",
    "-o",
    "lv_name,lv_size,lv_attr,pool_lv,data_percent",
    vg,
  ]);
  const lvs = new Map();
  for (const line of out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const [name, size, attr, pool, percent] = line.split(",");
    lvs.set(name, { size: Number(size), attr, pool, dataPercent: percent ? Number(percent) : null });
  }
  return lvs;
}

/** A container made by `lxc-create -t busybox`, whose rootfs seeds the rootfs that LXC must boot. */
export async function busyboxSeed(lxcPath: string, name = "seed"): Promise<string> {
  await must(["lxc-create", "-P", lxcPath, "-n", name, "-t", "busybox"]);
  await fs.writeFile(path.join(lxcPath, name, "rootfs", "etc", "lxc-rootfs-marker"), `${name} data\n`);
  return path.join(lxcPath, name, "rootfs");
}

/** A config for `name` like the seed's, minus network and rootfs (lxc-rootfs writes lxc.rootfs.path). */
export async function writeBootConfig(lxcPath: string, seed: string, name: string): Promise<void> {
  const text = await fs.readFile(path.join(lxcPath, seed, "config"), "utf8");
  const lines = text.split("\n").filter((l) => !/^lxc\.(rootfs\.path|net\.|uts\.name)/.test(l));
  await fs.mkdir(path.join(lxcPath, name), { recursive: true });
  await fs.writeFile(path.join(lxcPath, name, "config"), [...lines, `lxc.uts.name = ${name}`, "lxc.net.0.type = none", ""].join("\n"));
}

/** What `lxc-execute` prints from inside the container: its hostname and the seed's marker. */
export async function boot(lxcPath: string, name: string): Promise<string> {
  const r = await sh([
    "timeout",
    "120",
    "lxc-execute",
    "-P",
    lxcPath,
    "-n",
    name,
    "--",
    "/bin/sh",
    "-c",
    "echo booted $(hostname); cat /etc/lxc-rootfs-marker",
  ]);
  if (r.code !== 0) throw new Error(`lxc-execute ${name} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
