import { execFileSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import { DISKS } from "./helpers";

/**
 * The guest suites run only in the guest of `npm run test:guest`, where Debian's kernel has
 * device-mapper and ZFS and the disks are blank: on any other machine they would format its disks.
 */
export default async function globalSetup(): Promise<void> {
  if (!existsSync("/run/pulumi-lxc-guest/argv")) {
    throw new Error("the guest suites run inside the KVM guest only: npm run test:guest");
  }
  const problems: string[] = [];
  for (const disk of Object.values(DISKS)) {
    if (!existsSync(disk)) problems.push(`no ${disk}: scripts/test-guest.sh attaches it`);
  }
  const filesystems = readFileSync("/proc/filesystems", "utf8");
  if (!/\szfs\n/.test(filesystems)) problems.push("the zfs module is not loaded");
  const targets = execFileSync("dmsetup", ["targets"], { encoding: "utf8" });
  for (const t of ["thin-pool", "thin", "snapshot"])
    if (!new RegExp(`^${t}\\s`, "m").test(targets)) problems.push(`device-mapper lacks ${t}`);
  for (const cmd of ["lvcreate", "zpool", "zfs", "thin_check", "lxc-execute", "busybox", "mkfs.ext4", "rsync"]) {
    try {
      execFileSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore" });
    } catch {
      problems.push(`missing command: ${cmd}`);
    }
  }
  if (problems.length) throw new Error(`the guest is missing:\n- ${problems.join("\n- ")}`);
}
