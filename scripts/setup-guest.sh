#!/usr/bin/env bash
# Prepares the KVM guest that scripts/guest.sh boots, for LVM and ZFS on a real kernel (this machine's own
# kernel has neither device-mapper nor ZFS, and cannot load modules):
# - Debian's packages, installed when missing: qemu, Debian's own kernel (linux-image-amd64) with its
#   headers, zfs-dkms (from contrib, whose sources entry this adds) and the user-space tools;
# - the ZFS module that zfs-dkms builds for that kernel (minutes on 2 cores, once; a binaries-only dkms
#   tarball of it is kept in the cache, so a module that dkms lost is reinstalled without compiling);
# - the initramfs (scripts/guest/initramfs.sh), cached per kernel version and hash of its inputs.
# The cache is ~/.cache/pulumi-lxc/guest (PULUMI_LXC_CACHE moves it). When everything is in place this
# takes a fraction of a second and touches no network, so scripts/guest.sh runs it every time.
# Prints the kernel image and the initramfs on stdout, one a line, for scripts/guest.sh, and nothing else:
# that output is guest.sh's protocol, so the protocol stream is kept aside as fd 3 and everything this
# script runs writes its stdout to stderr (apt-get's and dpkg's progress once broke a first run's kernel
# path; test/vm/setup-guest-output.test.ts runs an install and holds stdout to the two lines).
set -euo pipefail
exec 3>&1 1>&2
cd "$(dirname "$0")/.."
source scripts/retry.sh

CACHE="${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}/guest"
CONTRIB=/etc/apt/sources.list.d/pulumi-lxc-contrib.sources
# lvm2, thin-provisioning-tools, busybox-static and udev run inside the guest, from the host's root.
PKGS=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 zfs-dkms zfsutils-linux lvm2
  thin-provisioning-tools busybox-static udev)

say() { echo "setup-guest: $*" >&2; }

slow_path_lock() {
  # Taken once per run: a second open of the file in this run (from a subshell) would wait on its own lock.
  [ -n "${SLOW_PATH_LOCKED:-}" ] && return
  SLOW_PATH_LOCKED=1
  mkdir -p "$CACHE"
  # Two guests started at once on a fresh machine: one installs and builds, the other waits for it.
  exec 9>"$CACHE/setup.lock"
  flock 9
}

add_contrib() {
  [ -e "$CONTRIB" ] && return
  say "adding Debian contrib (zfs-dkms, zfsutils-linux) to apt's sources: $CONTRIB"
  cat >"$CONTRIB" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# Installing must not start services on this host: udev's would start udevd here, and the other kernel
# work on this machine (loop devices, mounts) does not expect it; zfs-mount and zfs-zed's would try to load
# zfs into a kernel that loads no modules, and fail the install. policy-rc.d is how Debian says so to
# invoke-rc.d and deb-systemd-invoke (101: action forbidden), for this install only; one already there
# (a container's) is left alone.
POLICY=/usr/sbin/policy-rc.d
deny_service_starts() {
  [ -e "$POLICY" ] && return
  printf '#!/bin/sh\n# Written by pulumi-lxc scripts/setup-guest.sh while it installs packages.\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  trap 'rm -f "$POLICY"' EXIT
}

# An install that fails refreshes the package lists before retry runs it again: `apt-get update` exits 0
# when it could not fetch them, so lists missing contrib would otherwise fail every attempt.
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" && return
  apt-get update -qq
  return 1
}

install_packages() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    say "install as root: apt-get install ${missing[*]} (zfs-dkms and zfsutils-linux are in contrib)"
    exit 1
  fi
  say "installing ${missing[*]} (zfs-dkms compiles its module: several minutes)"
  add_contrib
  deny_service_starts
  retry apt-get update -qq
  retry apt_install "${missing[@]}"
}

# The kernel linux-image-amd64 stands for: its dependency linux-image-<version>.
kernel_version() {
  dpkg-query -W -f='${Depends}' linux-image-amd64 | grep -o 'linux-image-[^ ,]*' | head -n 1 | sed 's/^linux-image-//'
}

zfs_version() {
  local v
  v=$(dpkg-query -W -f='${Version}' zfs-dkms)
  v=${v#*:}
  echo "${v%%-*}"
}

# The ZFS module for the guest's kernel: installed by zfs-dkms's postinst when the headers were there
# first, otherwise here, from the cached dkms tarball when there is one, else compiled by dkms.
ensure_zfs_module() {
  local kver=$1 zver tarball
  zver=$(zfs_version)
  tarball="$CACHE/$kver/zfs-$zver.dkms.tar.gz"
  if ! modprobe -S "$kver" --show-depends zfs >/dev/null 2>&1; then
    slow_path_lock
    if ! modprobe -S "$kver" --show-depends zfs >/dev/null 2>&1; then
      if [ -f "$tarball" ]; then
        say "installing ZFS $zver for $kver from the cached dkms build $tarball"
        dkms ldtarball "$tarball"
      else
        say "building ZFS $zver for $kver with dkms (several minutes on 2 cores, once)"
      fi
      dkms install -m zfs -v "$zver" -k "$kver"
      modprobe -S "$kver" --show-depends zfs >/dev/null || { say "dkms installed no zfs module for $kver"; exit 1; }
    fi
  fi
  if [ ! -f "$tarball" ]; then
    slow_path_lock
    mkdir -p "$CACHE/$kver"
    # Written under a temporary name that still ends in .tar.gz, then renamed: no half tarball is ever found.
    dkms mktarball -m zfs -v "$zver" -k "$kver" --binaries-only --archive "$CACHE/$kver/.zfs-$zver.partial.dkms.tar.gz"
    mv "$CACHE/$kver/.zfs-$zver.partial.dkms.tar.gz" "$tarball"
  fi
}

# Sets initramfs: run in this shell, not in $(...), whose stdout would take whatever the build prints.
ensure_initramfs() {
  local kver=$1 inputs key out
  inputs=$(
    cat scripts/guest/init scripts/guest/initramfs.sh
    echo "$kver"
    dpkg-query -W -f='${Package} ${Version}\n' "linux-image-$kver" busybox-static
  )
  key=$(printf '%s' "$inputs" | sha256sum | cut -c1-16)
  out="$CACHE/$kver/initramfs-$key.cpio"
  if [ ! -f "$out" ]; then
    slow_path_lock
    if [ ! -f "$out" ]; then
      say "building the initramfs $out"
      mkdir -p "$CACHE/$kver"
      bash scripts/guest/initramfs.sh "$kver" "$out"
      # Images of earlier inputs are never booted again.
      find "$CACHE/$kver" -maxdepth 1 -name 'initramfs-*.cpio' ! -path "$out" -delete
    fi
  fi
  initramfs=$out
}

# The work runs with fd 3 closed, so that nothing it starts can find the protocol stream either.
{
  install_packages
  kver=$(kernel_version)
  [ -n "$kver" ] || { say "linux-image-amd64 names no linux-image-<version>"; exit 1; }
  kernel=/boot/vmlinuz-$kver
  [ -f "$kernel" ] || { say "no $kernel: is linux-image-$kver installed?"; exit 1; }
  ensure_zfs_module "$kver"
  ensure_initramfs "$kver"
} 3>&-
printf '%s\n' "$kernel" "$initramfs" >&3
