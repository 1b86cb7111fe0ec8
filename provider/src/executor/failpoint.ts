/**
 * Named points where the reliability tests kill the process (LXC_ROOTFS_FAILPOINT=<name>), to prove that
 * an operation killed there loses nothing. Unset, a failpoint does nothing.
 */
export function failpoint(name: string): void {
  if (process.env.LXC_ROOTFS_FAILPOINT === name) process.kill(process.pid, "SIGKILL");
}
