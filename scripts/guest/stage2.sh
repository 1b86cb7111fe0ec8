#!/bin/bash
# The guest's second stage, PID 1 after /init switched to the overlay root (the host's own root, read-only
# under a tmpfs): loads the storage modules, starts udevd as a host runs it, runs the command that
# scripts/guest.sh was given with its stdout, stderr and exit status written to the run's I/O directory
# (a 9p share of the host's scratch directory), then powers the machine off. `started` in that directory
# tells the host the boot is over and the command running.
# No `set -e`: whatever fails, the host must get a status or an error, and the machine must stop.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IO=/run/pulumi-lxc-guest

stage() { echo "guest: $*"; } # to the console log, which is where a hung or failed boot is diagnosed

power_off() {
  sync
  /bin/busybox poweroff -f
  sleep 60 # PID 1 must outlive the power-off request
}

# The host prints this file instead of a status: the command never ran.
fail() {
  stage "error: $*"
  echo "$*" >"$IO/error"
  power_off
}

[ -f "$IO/argv" ] || fail "no $IO/argv: the I/O directory is not shared"

stage "mounting /dev/pts, /dev/shm"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || fail "mount /dev/shm"
# What systemd-tmpfiles makes on a host, and bash's process substitution needs.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
# cgroup2, as systemd mounts it on a host: lxc-execute puts the container in a cgroup of its own.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount /sys/fs/cgroup"

# The storage stack the provider drives: virtio disks, loop devices, device-mapper (thin pools and
# snapshots) and ZFS (the zfs-dkms build for this kernel, found through the host's modules.dep).
MODULES=(virtio_blk loop dm_mod dm_thin_pool dm_snapshot zfs)
stage "loading ${MODULES[*]}"
modprobe -a "${MODULES[@]}" || fail "modprobe ${MODULES[*]}"

# udevd as on a host: LVM waits for udev to make /dev/<vg>/<lv> (udev_sync), and zpool create waits for
# the partitions it writes to appear.
stage "starting systemd-udevd"
/lib/systemd/systemd-udevd --daemon || fail "systemd-udevd --daemon"
# Only block devices are replayed: the rest (CPUs, PCI) would only load drivers the guest has no use for,
# ten seconds of it under TCG. Devices made later (LVs, dm, zvols, partitions) reach udevd as on a host.
udevadm trigger --subsystem-match=block --action=add || fail "udevadm trigger (block)"
udevadm settle --timeout=60 || fail "udevadm settle"

# The command, as the host gave it: its argv (NUL-separated), working directory and environment.
mapfile -d '' argv <"$IO/argv"
mapfile -d '' environ <"$IO/environ"
cwd=$(cat "$IO/cwd")
cd "$cwd" 2>/dev/null || cd /
# GUEST_TEST_STALLS (scripts/guest.sh): this boot stops short of the command, as a boot that hangs would,
# so that the host's boot watchdog is tested on a real boot.
if grep -qw guest_test_stall /proc/cmdline; then
  stage "stalling before the command, on purpose (GUEST_TEST_STALLS)"
  while :; do sleep 3600; done
fi
# The host's boot watchdog stops here: from now on the command runs, and the machine is not booted again.
: >"$IO/started" || fail "write $IO/started"
stage "running ${argv[*]}"
env -i "${environ[@]}" "${argv[@]}" </dev/null >>"$IO/stdout" 2>>"$IO/stderr"
status=$?
stage "exit status $status"
sync
echo "$status" >"$IO/status.tmp" && mv "$IO/status.tmp" "$IO/status"
dmesg >"$IO/dmesg" 2>&1
power_off
