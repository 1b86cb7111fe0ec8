/** What the suite needs on the host. Missing ones fail the run: nothing is skipped, in CI or out. */
export const REQUIRED_COMMANDS = [
  "mkfs.ext2", "mkfs.ext3", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "e2fsck", "resize2fs", "dumpe2fs",
  "xfs_growfs", "btrfs", "rsync", "python3", "blkid", "losetup", "du", "lxc-create", "lxc-execute", "lxc-destroy",
  "lxc-copy", "lxc-info", "busybox", "lvcreate", "ssh-keygen",
];
