#!/usr/bin/env bash
# Usage: image-server.sh OUT SERIAL (from scripts/setup-images.sh, after lxc-meta.sh)
# OUT/server: a static image server holding the Debian image, for both ways clients find one:
# - LXC's download template: meta/1.0/index-system, one line per image,
#   dist;release;arch;variant;serial;path, the path holding rootfs.tar.xz and meta.tar.xz;
# - simplestreams (Incus, LXD): streams/v1/index.json names the product catalog streams/v1/images.json,
#   whose product debian:bookworm:<arch>:default has one version (SERIAL: Incus takes its first 8
#   characters for the date) with items root.tar.xz, and incus.tar.xz and lxd.tar.xz (the metadata,
#   carrying the image's fingerprint, sha256 of metadata then rootfs, as combined_*sha256).
# The files are hard links to OUT's: no second copy.
set -euo pipefail
out=${1:?usage: image-server.sh OUT SERIAL}
serial=${2:?}
arch=$(dpkg --print-architecture) # Debian's names are the servers' for amd64 and arm64
product=debian:bookworm:$arch:default
path=images/debian/bookworm/$arch/default/$serial
s=$out/server
mkdir -p "$s/meta/1.0" "$s/streams/v1" "$s/$path"
ln "$out/debian-12.tar.xz" "$s/$path/rootfs.tar.xz"
ln "$out/debian-12.meta.tar.xz" "$s/$path/meta.tar.xz"
ln "$out/debian-12.incus.tar.xz" "$s/$path/incus.tar.xz"
ln "$out/debian-12.incus.tar.xz" "$s/$path/lxd.tar.xz"
echo "debian;bookworm;$arch;default;$serial;/$path/" >"$s/meta/1.0/index-system"

sha() { sha256sum "$1" | cut -d' ' -f1; }
item() { # FTYPE FILE [EXTRA-JSON]
  printf '"%s": {"ftype": "%s", "path": "%s", "size": %s, "sha256": "%s"%s}' \
    "$1" "$1" "$path/$2" "$(stat -c %s "$s/$path/$2")" "$(sha "$s/$path/$2")" "${3:-}"
}
combined=$(cat "$s/$path/incus.tar.xz" "$s/$path/rootfs.tar.xz" | sha256sum | cut -d' ' -f1)
fingerprint=", \"combined_sha256\": \"$combined\", \"combined_rootxz_sha256\": \"$combined\""
updated=$(date -u -R)
cat >"$s/streams/v1/index.json" <<EOF
{
  "format": "index:1.0",
  "index": {
    "images": {
      "datatype": "image-downloads",
      "path": "streams/v1/images.json",
      "format": "products:1.0",
      "updated": "$updated",
      "products": ["$product"]
    }
  }
}
EOF
cat >"$s/streams/v1/images.json" <<EOF
{
  "content_id": "images",
  "datatype": "image-downloads",
  "format": "products:1.0",
  "updated": "$updated",
  "products": {
    "$product": {
      "aliases": "debian/bookworm/default,debian/bookworm,debian/12/default,debian/12",
      "arch": "$arch",
      "os": "Debian",
      "release": "bookworm",
      "release_title": "bookworm",
      "variant": "default",
      "versions": {
        "$serial": {
          "items": {
            $(item root.tar.xz rootfs.tar.xz),
            $(item incus.tar.xz incus.tar.xz "$fingerprint"),
            $(item lxd.tar.xz lxd.tar.xz "$fingerprint")
          }
        }
      }
    }
  }
}
EOF
