import { existsSync, readFileSync } from "fs";
import path from "path";

/** What the suite needs on the host. Missing ones fail the run: nothing is skipped, in CI or out. */
export const REQUIRED_COMMANDS = [
  "mkfs.ext2",
  "mkfs.ext3",
  "mkfs.ext4",
  "mkfs.xfs",
  "mkfs.btrfs",
  "e2fsck",
  "resize2fs",
  "dumpe2fs",
  "xfs_growfs",
  "btrfs",
  "rsync",
  "python3",
  "blkid",
  "losetup",
  "du",
  "lxc-create",
  "lxc-execute",
  "lxc-destroy",
  "lxc-copy",
  "lxc-info",
  "busybox",
  "lvcreate",
  "ssh-keygen",
  "ssh",
  "ssh-keyscan",
  "scp",
  "/usr/sbin/sshd",
  "unshare",
  "nsenter",
  "setpriv",
  "findmnt",
  "sudo",
  // The arm64 agent's test (install-host-deps.sh --tests installs it, and the arm64 sysroot).
  "qemu-aarch64-static",
  // OCI images: copied and unpacked by the provider (install-host-deps.sh installs them).
  "skopeo",
  "umoci",
  // The image fixtures' checks (test/helpers/images.ts; install-host-deps.sh --tests installs them).
  "zstd",
  "xfs_io",
  "getfacl",
  "getfattr",
  "getcap",
];

const SETUP_TEST = path.resolve(__dirname, "..", "..", ".tools", "setup-test");

/**
 * What the `fetched` project (jest.config.js) needs beyond REQUIRED_COMMANDS: scripts/setup-test.sh's
 * fetches (the Python virtualenv, the Go modules), which it records by its exit status in
 * .tools/setup-test/status. `npm test` waits for it before that project; a file of it run alone with jest
 * needs it run first. Undefined when it succeeded, else what to do.
 */
export function setupTestProblem(): string | undefined {
  const status = path.join(SETUP_TEST, "status");
  if (!existsSync(status)) {
    return existsSync(path.join(SETUP_TEST, "pid"))
      ? "scripts/setup-test.sh has not ended (npm test runs it in the background) or was killed: wait with `bash scripts/setup-test-background.sh wait`, or run it with `bash scripts/setup-test.sh`"
      : "scripts/setup-test.sh never ran here: run `bash scripts/setup-test.sh` (npm test does)";
  }
  const rc = readFileSync(status, "utf8").trim();
  if (rc !== "0")
    return `scripts/setup-test.sh failed (exit ${rc}; its background log: .tools/setup-test/log): run \`bash scripts/setup-test.sh\` again`;
  return undefined;
}
