#!/usr/bin/env bash
# Usage: debian-tree.sh TREE DEBCACHE (as root; from scripts/setup-images.sh)
# Debian 12 minbase with ping (a file capability) and systemd as init, as an image's rootfs:
# - The first stage (downloads, unpacking) runs under retry, the second (dpkg --configure, local) once:
#   a fault of the second would only repeat until the retry deadline.
# - DEBCACHE keeps the .debs: a build of the next recipe downloads only what changed.
# - Then what an image does not ship: apt's caches and lists, the host's resolv.conf, a machine-id (an
#   empty one makes systemd generate its own at first boot). /etc/hostname and /etc/hosts carry LXC_NAME,
#   which LXC's download template replaces with the container's name (the meta tarball's `templates`).
set -euo pipefail
source "$(dirname "$0")/../retry.sh"
t=${1:?usage: debian-tree.sh TREE DEBCACHE}
cache=${2:?usage: debian-tree.sh TREE DEBCACHE}
mirror=${PULUMI_LXC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

first_stage() {
  rm -rf --one-file-system "$t"
  debootstrap --foreign --variant=minbase --include=iputils-ping,systemd-sysv --cache-dir="$cache" \
    bookworm "$t" "$mirror" >&2
}
retry first_stage
chroot "$t" /debootstrap/debootstrap --second-stage >&2

find "$t/var/cache/apt/archives" "$t/var/lib/apt/lists" -type f -delete
rm -f "$t"/var/cache/apt/*.bin
rm -f "$t/etc/resolv.conf"
: >"$t/etc/machine-id"
rm -f "$t/etc/hostname" # debootstrap copies the host's, mode and all
echo LXC_NAME >"$t/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tLXC_NAME\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$t/etc/hosts"
