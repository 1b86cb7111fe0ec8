// Declarative root filesystems for LXC containers: dir, loop, btrfs, overlay, lvm and zfs backing stores, resized and moved between stores without losing data.
package lxc
