#!/usr/bin/env bash
# Usage: lxc-meta.sh DEBIAN-TREE OUT SERIAL (from scripts/setup-images.sh)
# The two metadata tarballs of the Debian image, as images.linuxcontainers.org serves them:
# - debian-12.meta.tar.xz, for LXC's download template (templates/lxc-download.in), which reads from it:
#   `config` (or `config-user` for an unprivileged user) appended to the container's config; `excludes-user`,
#   tar patterns an unprivileged unpack skips (the device nodes, which it cannot make); `templates`, the
#   rootfs paths in which it replaces LXC_NAME, LXC_PATH, LXC_ROOTFS...; `create-message`, printed;
#   `expiry`, epoch seconds after which its cache is stale. LXC has no templates/ directory: its
#   placeholders are in the rootfs itself (debian-tree.sh writes them).
# - debian-12.incus.tar.xz, for Incus and LXD (simplestreams' incus.tar.xz/lxd.tar.xz): metadata.yaml
#   and the templates/ directory it names, pongo2 templates rendered at create and copy.
set -euo pipefail
tree=${1:?usage: lxc-meta.sh DEBIAN-TREE OUT SERIAL}
out=${2:?}
serial=${3:?}
arch=$(dpkg --print-architecture)
case $arch in
  amd64) kernel_arch=x86_64 ;;
  arm64) kernel_arch=aarch64 ;;
  *) echo "lxc-meta: no image architecture for $arch" >&2; exit 1 ;;
esac
m=$(mktemp -d)
trap 'rm -rf "$m"' EXIT

mkdir "$m/lxc"
printf 'lxc.include = LXC_TEMPLATE_CONFIG/debian.common.conf\nlxc.arch = %s\n' "$kernel_arch" >"$m/lxc/config"
printf 'lxc.include = LXC_TEMPLATE_CONFIG/debian.common.conf\nlxc.include = LXC_TEMPLATE_CONFIG/debian.userns.conf\nlxc.arch = %s\n' \
  "$kernel_arch" >"$m/lxc/config-user"
(cd "$tree" && find ./dev \( -type c -o -type b \) | sort) >"$m/lxc/excludes-user"
printf '/etc/hostname\n/etc/hosts\n' >"$m/lxc/templates"
printf 'You just created a Debian bookworm %s container (a pulumi-lxc test fixture, %s).\n' "$arch" "$serial" >"$m/lxc/create-message"
# Ten years ahead, not the usual 30 days: a fixture built once per machine must not expire under the tests.
echo $(($(date +%s) + 10 * 365 * 86400)) >"$m/lxc/expiry"
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$m/lxc" -cJf "$out/debian-12.meta.tar.xz" .

mkdir -p "$m/incus/templates"
cat >"$m/incus/metadata.yaml" <<EOF
architecture: $kernel_arch
creation_date: $(date +%s)
properties:
  architecture: $arch
  description: Debian bookworm $arch (default) ($serial)
  os: Debian
  release: bookworm
  serial: "$serial"
  variant: default
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
EOF
echo '{{ instance.name }}' >"$m/incus/templates/hostname.tpl"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t{{ instance.name }}\n' >"$m/incus/templates/hosts.tpl"
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$m/incus" -cJf "$out/debian-12.incus.tar.xz" .
