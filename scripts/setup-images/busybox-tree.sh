#!/usr/bin/env bash
# Usage: busybox-tree.sh TREE (as root; from scripts/setup-images.sh)
# A tiny rootfs, Debian's static busybox with its applets, holding every case an exact unpack must keep,
# each at a fixed path that docs/development.md lists:
#   /usr/bin/setuid-root  mode 4755, root        /srv/acl/file  access ACL u:1234:rw-,g:5678:r--
#   /srv/acl/dir          default ACL             /srv/xattr     user.fixture="kept"
#   /bin/ping             busybox, cap_net_raw+ep /dev/null c 1,3; /dev/fixture c 240,7 (a local-use major)
#   /srv/fifo             a FIFO                  /srv/hardlink-a, /srv/hardlink-b: one inode
#   /srv/symlink-relative -> ../etc/passwd        /srv/symlink-absolute -> /etc/passwd
#   /srv/sparse           8 MiB, data at 0-1 MiB and 7-8 MiB only
#   /srv/owned            1234:5678, ids without a name   /srv/empty: an empty directory
#   /srv/layers/remove-me, /srv/layers/replace/old: what the OCI image's second layer removes
#   /tmp 1777; every mtime 2020-01-02 03:04:05 UTC
# The ids have no name on purpose: GNU tar writes an ACL entry by its name when the packing host has one
# (even with --numeric-owner), and the unpacking host maps that name to its own id, or fails.
set -euo pipefail
t=${1:?usage: busybox-tree.sh TREE}
for id in 1234 5678; do
  if getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; then
    echo "busybox-tree: id $id has a name on this host; its ACL entries would be packed by name" >&2
    exit 1
  fi
done

mkdir -p "$t"/{bin,etc,dev,root,tmp,usr/bin,srv/acl/dir,srv/empty,srv/layers/replace}
install -m 0755 /bin/busybox "$t/bin/busybox"
cp "$t/bin/busybox" "$t/bin/ping" # a copy: a capability belongs to the inode
for applet in $("$t/bin/busybox" --list); do
  [ -e "$t/bin/$applet" ] || ln -s busybox "$t/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$t/etc/passwd"
echo 'root:x:0:' >"$t/etc/group"
chmod 0700 "$t/root"
chmod 1777 "$t/tmp"

printf '#!/bin/sh\nid\n' >"$t/usr/bin/setuid-root"
chmod 4755 "$t/usr/bin/setuid-root"
echo 'an access ACL' >"$t/srv/acl/file"
setfacl -m u:1234:rw-,g:5678:r-- "$t/srv/acl/file"
setfacl -d -m u:1234:rwx,g:5678:r-x "$t/srv/acl/dir"
echo 'an extended attribute' >"$t/srv/xattr"
setfattr -n user.fixture -v kept "$t/srv/xattr"
setcap cap_net_raw+ep "$t/bin/ping"
mknod -m 0666 "$t/dev/null" c 1 3
mknod -m 0600 "$t/dev/fixture" c 240 7
mkfifo -m 0644 "$t/srv/fifo"
echo 'one inode, two names' >"$t/srv/hardlink-a"
ln "$t/srv/hardlink-a" "$t/srv/hardlink-b"
ln -s ../etc/passwd "$t/srv/symlink-relative"
ln -s /etc/passwd "$t/srv/symlink-absolute"
# Data that is not zeros, so that no hole detection can find a hole in it. (yes dies of SIGPIPE: out of
# pipefail's sight in a process substitution.)
truncate -s 8M "$t/srv/sparse"
head -c 1M < <(yes 'sparse data') | dd of="$t/srv/sparse" conv=notrunc status=none
head -c 1M < <(yes 'sparse data') | dd of="$t/srv/sparse" bs=1M seek=7 conv=notrunc status=none
echo 'owned by ids without a name' >"$t/srv/owned"
chown 1234:5678 "$t/srv/owned"
echo 'the second layer whites this out' >"$t/srv/layers/remove-me"
echo 'the second layer makes this directory opaque' >"$t/srv/layers/replace/old"

# Last, children before their directory, since adding an entry changes a directory's mtime.
find "$t" -depth -exec touch -h -d '2020-01-02 03:04:05 UTC' {} +
