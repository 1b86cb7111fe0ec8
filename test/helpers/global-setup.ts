import { execFileSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import path from "path";
import { cacheRoot } from "../../provider/src/adapters/remote/runtime";
import { REQUIRED_COMMANDS } from "./prerequisites";

export default async function globalSetup(): Promise<void> {
  // Every Pulumi operation starts Node processes that load @pulumi/pulumi (the dynamic provider, a program's
  // language host): V8's compile cache, kept with the other caches, saves about a quarter of a second on each.
  process.env.NODE_COMPILE_CACHE ??= path.join(cacheRoot(), "node-compile-cache");
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push("the suite must run as root (loop devices, mounts, LXC)");
  for (const cmd of REQUIRED_COMMANDS) {
    try {
      execFileSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore" });
    } catch {
      problems.push(`missing command: ${cmd}`);
    }
  }
  const filesystems = readFileSync("/proc/filesystems", "utf8");
  for (const fs of ["btrfs", "xfs", "ext4", "overlay"]) {
    if (!new RegExp(`\\s${fs}\\n`).test(filesystems)) problems.push(`the kernel lacks the ${fs} filesystem`);
  }
  if (!existsSync("/dev/loop-control")) problems.push("no /dev/loop-control: the kernel lacks loop devices");
  // The unprivileged containers map container root to host 100000 through newuidmap, which allows root only these.
  for (const f of ["/etc/subuid", "/etc/subgid"]) {
    if (!(existsSync(f) && readFileSync(f, "utf8").split("\n").includes("root:100000:65536")))
      problems.push(`${f} gives root no 100000-165535 (scripts/setup-test-host.sh adds root:100000:65536)`);
  }
  if (problems.length) {
    throw new Error(`test prerequisites missing (install them with .ci/run's apt line; nothing is skipped):\n- ${problems.join("\n- ")}`);
  }
}
