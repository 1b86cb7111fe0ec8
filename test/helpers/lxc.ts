/** LXC as the boot tests drive it: a container config for a rootfs that lxc-rootfs makes, and lxc-execute. */
import { promises as fs } from "fs";
import path from "path";
import { sh } from "./env";

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

/** What `lxc-execute` prints from inside the container: its hostname, and the marker the seed's rootfs holds. */
export async function boot(where: string, name: string): Promise<string> {
  const r = await sh([
    "timeout",
    "120",
    "lxc-execute",
    "-P",
    where,
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
