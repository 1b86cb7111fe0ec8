#!/usr/bin/env bash
# The host tools the provider drives and the tests exercise, from Debian's packages, with their
# recommends (apparmor, lxcfs, uidmap): lxc-execute is tested against that usual installation. g++ and
# make build ssh2's native crypto for the pinned Node.js (scripts/setup.sh). curl fetches OS images by URL
# (`source`), and xz-utils, zstd and bzip2 decompress them; skopeo copies OCI images and umoci unpacks them,
# as LXC's own oci template does.
set -euo pipefail
source "$(dirname "$0")/retry.sh"
# Usage: install-host-deps.sh [--tests]
# --tests adds what only the tests use: qemu-user-static and an arm64 sysroot, to run the arm64 agent and
# its Node.js under emulation (test/remote/arm64.test.ts); and what scripts/setup-images.sh builds the image
# fixtures with (debootstrap, the compressors, and getfacl, getfattr and getcap for the manifests); jq, which
# LXC's oci template needs, for the bench's `lxc-create -t oci`.
PKGS=(lxc btrfs-progs xfsprogs e2fsprogs rsync busybox-static lvm2 util-linux python3-venv openssh-client openssh-server sudo g++ make curl xz-utils zstd bzip2 skopeo umoci)
[ "${1:-}" != --tests ] || PKGS+=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
  debootstrap acl attr libcap2-bin jq)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  retry apt-get update -qq
  retry env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
