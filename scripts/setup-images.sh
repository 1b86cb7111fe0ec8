#!/usr/bin/env bash
# The OS-image fixtures of the tests of `source` (a rootfs unpacked from an image), built here from Debian's
# packages once per machine into ${PULUMI_LXC_CACHE:-~/.cache/pulumi-lxc}/images/$RECIPE; prints that
# directory on stdout, progress on stderr. Bump RECIPE whenever what is built changes: a machine then builds
# the new recipe beside the old. docs/development.md lists what the directory holds.
# The build happens in a temporary directory beside it, renamed into place at the end, under a lock: a run
# that is killed leaves no half-made fixture (the next run removes its remains), and a warm run returns at
# once. Cold on 2 cores: 80 s with debootstrap's downloads, 55-65 s with them cached; half of it debootstrap.
set -euo pipefail
RECIPE=1
cd "$(dirname "$0")/.."
images=${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}/images
dest=$images/$RECIPE
[ -d "$dest" ] && { echo "$dest"; exit 0; }
source scripts/retry.sh
umask 022
export LC_ALL=C

mkdir -p "$images"
exec 9>"$images/.lock"
flock 9
[ -d "$dest" ] && { echo "$dest"; exit 0; } # another run built it while this one waited

# A killed run's remains: debootstrap's second stage mounts /proc and /sys inside its tree, so unmount
# before removing, and never remove across a filesystem boundary.
remove() {
  findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | while IFS= read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$1"
}
for stale in "$images"/*.tmp-*; do
  if [ -e "$stale" ]; then remove "$stale"; fi
done
work=$(mktemp -d "$images/$RECIPE.tmp-XXXXXX")
trap 'remove "$work"' EXIT
out=$work/out
mkdir "$out"
log() { echo "setup-images: $* ($SECONDS s)" >&2; }

# GNU tar with everything a rootfs holds. --format=posix (pax) is the only format that holds ACLs and
# xattrs: tar 1.34 picks it by itself for --acls/--xattrs and refuses --format=gnu; it is said here for the
# reader. The pax options drop the PID from the extended headers' names and the atime/ctime records, so
# that one tree always packs to the same bytes.
pack() {
  tar --numeric-owner --acls --xattrs --xattrs-include='*' --sparse --format=posix --sort=name \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$1" -cf - .
}
# What the tests unpack with (EXACT_TAR in test/helpers/images.ts).
unpack() { # ARCHIVE DIR [MEMBER...]
  local archive=$1 dir=$2
  shift 2
  tar --numeric-owner -p --acls --xattrs --xattrs-include='*' --sparse -C "$dir" -xf "$archive" "$@"
}
# The tree's manifest, after checking that its archive unpacks to the same one.
manifest() { # TREE ARCHIVE MANIFEST
  local again=$work/unpacked
  bash scripts/tree-manifest.sh "$1" >"$3"
  mkdir "$again" && unpack "$2" "$again"
  if ! bash scripts/tree-manifest.sh "$again" | diff -u "$3" - >&2; then
    echo "setup-images: $2 does not unpack to its tree (the diff above)" >&2
    return 1
  fi
  remove "$again"
}

log "busybox"
bash scripts/setup-images/busybox-tree.sh "$work/busybox" >&2
pack "$work/busybox" | gzip -n -9 >"$out/busybox.tar.gz"
manifest "$work/busybox" "$out/busybox.tar.gz" "$out/busybox.manifest"

log "debootstrap"
bash scripts/setup-images/debian-tree.sh "$work/debian" "$images/debootstrap-cache" >&2
log "debian-12 packing"
pack "$work/debian" >"$work/debian.tar"
xz -T0 -3 -c "$work/debian.tar" >"$out/debian-12.tar.xz" # -3: -6 took 47 s more for 9% less
zstd -q -T0 -10 -c "$work/debian.tar" >"$out/debian-12.tar.zst" # -19 took a minute more
rm "$work/debian.tar"
manifest "$work/debian" "$out/debian-12.tar.xz" "$out/debian-12.manifest"
mkdir "$work/ping"
unpack "$out/debian-12.tar.xz" "$work/ping" ./usr/bin/ping
getcap "$work/ping/usr/bin/ping" | grep -q 'cap_net_raw=ep' || { echo "setup-images: ping lost its capability" >&2; exit 1; }

log "metadata and the image server"
serial=$(date -u +%Y%m%d_%H:%M)
bash scripts/setup-images/lxc-meta.sh "$work/debian" "$out" "$serial" >&2
bash scripts/setup-images/image-server.sh "$out" "$serial" >&2

log "oci"
bash scripts/setup-images/oci-image.sh "$out" >&2

mv -T "$out" "$dest"
log "done: $(du -sh "$dest" | cut -f1)"
echo "$dest"
