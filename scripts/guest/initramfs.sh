#!/usr/bin/env bash
# Usage: initramfs.sh KERNEL_VERSION OUT
# Builds the guest's initramfs (an uncompressed newc cpio: the kernel unpacks it fastest) from
# busybox-static, scripts/guest/init and the modules that mounting the root needs, with their
# dependencies as modprobe resolves them from /lib/modules/KERNEL_VERSION/modules.dep. Everything else
# (dm, zfs, …) the second stage loads from the host's module tree, which the guest sees through 9p.
set -euo pipefail
kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)

# virtio_pci finds the 9p devices; 9pnet_virtio carries 9p; overlay puts the tmpfs over the host's root.
BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

stage=$(mktemp -d "${TMPDIR:-/tmp}/pulumi-lxc-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
install -m 0755 /bin/busybox "$stage/bin/busybox"
# Every applet /init uses, as links (the kernel runs /init before anything could install them).
for applet in sh mount insmod cat mkdir echo sleep poweroff switch_root; do
  ln -s busybox "$stage/bin/$applet"
done
install -m 0755 "$here/init" "$stage/init"

# `modprobe --show-depends` prints one `insmod PATH [OPTIONS]` per module, dependencies first, and
# `builtin NAME` for what the kernel has built in.
modprobe -S "$kver" --show-depends -a "${BOOT_MODULES[@]}" >"$stage/depends"
: >"$stage/modules"
while read -r verb path _; do
  [ "$verb" = insmod ] || continue
  name=$(basename "$path")
  grep -qxF "$name" "$stage/modules" && continue # a dependency of two modules is loaded once
  case $name in *.ko) ;; *)
    echo "initramfs: $path is compressed; busybox insmod here loads plain .ko files" >&2
    exit 1
    ;;
  esac
  install -m 0644 "$path" "$stage/lib/modules/$name"
  echo "$name" >>"$stage/modules"
done <"$stage/depends"
rm "$stage/depends"
[ -s "$stage/modules" ] || { echo "initramfs: no module to load for ${BOOT_MODULES[*]}: all built in?" >&2; exit 1; }

# busybox cpio reports its block count on stderr: kept aside, shown only if it fails.
if ! (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0) >"$out.tmp" 2>"$out.err"; then
  cat "$out.err" >&2
  rm -f "$out.tmp" "$out.err"
  exit 1
fi
rm "$out.err"
mv "$out.tmp" "$out"
