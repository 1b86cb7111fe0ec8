#!/usr/bin/env bash
# CLI walkthrough of the storage core, in a demo lxcPath inside the checkout (never /var/lib/lxc):
# a busybox container from LXC's own template, cloned into a loop rootfs, booted with lxc-execute, grown
# in place, moved to a plain directory with its data, and booted again.
#   npm run demo             run it
#   npm run demo -- destroy  remove everything it made
set -euo pipefail
cd "$(dirname "$0")/.."
LXCPATH="$PWD/.demo/lxc"
CLI=(node bin/lxc-rootfs.js)

if [ "${1:-}" = "destroy" ]; then
  for name in web; do "${CLI[@]}" destroy --lxcpath "$LXCPATH" --name "$name" || true; done
  [ -d "$LXCPATH/seed" ] && lxc-destroy -P "$LXCPATH" -n seed
  rm -rf .demo
  echo "demo removed"
  exit 0
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mkdir -p "$LXCPATH"
if [ ! -d "$LXCPATH/seed" ]; then
  step "lxc-create -t busybox: a seed container, from LXC's own template"
  lxc-create -P "$LXCPATH" -n seed -t busybox >/dev/null
fi

step "lxc-rootfs create: a 256M sparse loop image holding ext4, filled from the seed"
mkdir -p "$LXCPATH/web"
grep -v -e '^lxc.rootfs.path' -e '^lxc.net' -e '^lxc.uts.name' "$LXCPATH/seed/config" > "$LXCPATH/web/config"
printf 'lxc.uts.name = web\nlxc.net.0.type = none\n' >> "$LXCPATH/web/config"
if ! "${CLI[@]}" inspect --lxcpath "$LXCPATH" --name web >/dev/null 2>&1; then
  "${CLI[@]}" create --lxcpath "$LXCPATH" --name web --backing-store loop --size 256M --fstype ext4 --from "dir:$LXCPATH/seed/rootfs"
fi
ls -ls "$LXCPATH/web/rootdev"
grep '^lxc.rootfs.path' "$LXCPATH/web/config"

step "lxc-execute: LXC boots the container from the loop image"
lxc-execute -P "$LXCPATH" -n web -- /bin/sh -c 'echo "hello from $(hostname), / is: $(grep " / " /proc/mounts)"; echo marker > /root/written-inside'

step "lxc-rootfs update --size 512M: grown in place"
"${CLI[@]}" update --lxcpath "$LXCPATH" --name web --size 512M

step "lxc-rootfs update --backing-store dir: the data moves to a directory"
"${CLI[@]}" update --lxcpath "$LXCPATH" --name web --backing-store dir
lxc-execute -P "$LXCPATH" -n web -- /bin/sh -c 'echo "written before the move: $(cat /root/written-inside)"'

step "lxc-rootfs inspect"
"${CLI[@]}" inspect --lxcpath "$LXCPATH" --name web

printf '\nDone. Remove everything with: npm run demo -- destroy\n'
