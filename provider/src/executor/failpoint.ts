import { promises as fs } from "fs";

/**
 * Named points where the reliability tests kill the process (LXC_ROOTFS_FAILPOINT=<name>), to prove that
 * an operation killed there loses nothing. Unset, a failpoint does nothing.
 */
export function failpoint(name: string): void {
  if (process.env.LXC_ROOTFS_FAILPOINT === name) process.kill(process.pid, "SIGKILL");
}

/**
 * A failpoint inside a step the isolated helper runs: the returned tick, called once per item the step
 * does, kills the operation (the helper's parent) and then the helper at the n-th call
 * (LXC_ROOTFS_FAILPOINT_AFTER, else `after`), so a walk is cut off midway, as a SIGKILL of the command
 * would cut it. Unset, the tick does nothing.
 */
export function killedMidway(name: string, after: number): () => void {
  if (process.env.LXC_ROOTFS_FAILPOINT !== name) return () => undefined;
  let left = Number(process.env.LXC_ROOTFS_FAILPOINT_AFTER ?? after);
  return () => {
    if (--left > 0) return;
    process.kill(process.ppid, "SIGKILL");
    process.kill(process.pid, "SIGKILL");
  };
}

const raceCounts = new Map<string, number>();

/**
 * Named points where the reliability tests race the operation (LXC_ROOTFS_RACEPOINT=<step> or <step>#<n>,
 * the n-th time that step comes, and LXC_ROOTFS_RACE_VICTIM=<dir>): the container directory is renamed
 * to `<c>.raced` and a symlink to the victim put in its place, right before the step acts, as an attacker
 * timing it perfectly would. A race made deterministic, instead of a timer's luck. Unset, nothing happens.
 */
export async function racepoint(step: string, containerDir: string): Promise<void> {
  const wanted = process.env.LXC_ROOTFS_RACEPOINT;
  const victim = process.env.LXC_ROOTFS_RACE_VICTIM;
  if (!wanted || !victim) return;
  const [name, nth = "1"] = wanted.split("#");
  if (name !== step) return;
  const count = (raceCounts.get(step) ?? 0) + 1;
  raceCounts.set(step, count);
  if (count !== Number(nth)) return;
  await fs.rename(containerDir, `${containerDir}.raced`);
  await fs.symlink(victim, containerDir);
}

/** How long a holdpoint waits for its test: a test that died must not leave a create held for good. */
const HOLD_DEADLINE_MS = 10 * 60 * 1000;

/**
 * Named points where a test holds the operation (LXC_ROOTFS_HOLDPOINT=<step>, LXC_ROOTFS_HOLD_FILE=<file>)
 * to change the host under it, as another process could at that moment: the operation writes the file and
 * waits, off the event loop, until the test removes it. After 10 minutes it fails instead of waiting on.
 * Unset, nothing happens.
 */
export async function holdpoint(step: string): Promise<void> {
  const file = process.env.LXC_ROOTFS_HOLD_FILE;
  if (process.env.LXC_ROOTFS_HOLDPOINT !== step || !file) return;
  await fs.writeFile(file, `${process.pid}\n`, { flag: "wx" });
  const deadline = Date.now() + HOLD_DEADLINE_MS;
  while (
    await fs.lstat(file).then(
      () => true,
      () => false,
    )
  ) {
    if (Date.now() > deadline) throw new Error(`holdpoint ${step}: ${file} was not removed within 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
