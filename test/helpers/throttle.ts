/**
 * A slow disk, for real: the blkio controller's read limit (cgroup v1 `blkio.throttle.read_bps_device`) on
 * the device under a directory, for this process and every process it starts meanwhile (the provider, the
 * mount helper, cp, the agent), with the files a copy reads dropped from the page cache first. A copy then
 * takes as long as its bytes at that rate, on the real kernel, and its progress can be watched.
 */
import { promises as fs } from "fs";
import path from "path";
import { must } from "./env";

const BLKIO = "/sys/fs/cgroup/blkio";

/** `major:minor` of the block device a directory's filesystem lives on. */
async function deviceOf(dir: string): Promise<string> {
  const source = (await must(["findmnt", "--noheadings", "--output", "MAJ:MIN", "--target", dir])).trim();
  if (!/^\d+:\d+$/.test(source)) throw new Error(`no block device under ${dir}: findmnt says ${JSON.stringify(source)}`);
  return source;
}

/** The blkio cgroup this process is in now (v1: a line `N:blkio:/path` of /proc/self/cgroup). */
async function ownBlkioGroup(): Promise<string> {
  const line = (await fs.readFile("/proc/self/cgroup", "utf8")).split("\n").find((l) => /^\d+:blkio:/.test(l));
  if (!line) throw new Error("no blkio cgroup (cgroup v1's blkio controller) on this host");
  return path.join(BLKIO, line.replace(/^\d+:blkio:/, ""));
}

export interface Throttle {
  /** The cgroup's `cgroup.procs`: a command started with `throttledArgv` joins it itself. */
  procs: string;
  /** A command that joins the cgroup, then runs `argv`. */
  argv(argv: string[]): string[];
}

/**
 * Runs `fn` with reads of the device under `dir` limited to `bytesPerSecond` for this process and its
 * children; back to where it was after, the cgroup removed.
 */
export async function withReadsThrottled<T>(dir: string, bytesPerSecond: number, fn: (t: Throttle) => Promise<T>): Promise<T> {
  const home = await ownBlkioGroup();
  const group = path.join(BLKIO, `lxc-rootfs-test-${process.pid}`);
  await fs.mkdir(group);
  try {
    await fs.writeFile(path.join(group, "blkio.throttle.read_bps_device"), `${await deviceOf(dir)} ${bytesPerSecond}\n`);
    const procs = path.join(group, "cgroup.procs");
    await fs.writeFile(procs, `${process.pid}\n`);
    try {
      return await fn({ procs, argv: (argv) => ["sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, ...argv] });
    } finally {
      await fs.writeFile(path.join(home, "cgroup.procs"), `${process.pid}\n`);
    }
  } finally {
    await removeGroup(group);
  }
}

/** Removes the cgroup; children that outlived their test (none should) keep it busy a moment. */
async function removeGroup(group: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const gone = await fs.rmdir(group).then(
      () => true,
      () => false,
    );
    if (gone) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${group} is still in use: ${await fs.readFile(path.join(group, "cgroup.procs"), "utf8")}`);
}

/** The files under `paths` on disk and out of the page cache, so the next read of them comes from the device. */
export async function dropFromCache(...paths: string[]): Promise<void> {
  for (const p of paths) {
    const st = await fs.stat(p);
    const files = st.isDirectory() ? (await must(["find", p, "-type", "f"])).split("\n").filter(Boolean) : [p];
    for (const f of files) {
      await must(["sync", f]);
      // count=0 with nocache: posix_fadvise(DONTNEED) of the whole file, its clean pages dropped.
      await must(["dd", `if=${f}`, "iflag=nocache", "count=0", "status=none"]);
    }
  }
}
