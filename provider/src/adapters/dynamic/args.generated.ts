// Generated from schema.json by scripts/gen-types.js; do not edit: run npm run gen-types.
import type * as pulumi from "@pulumi/pulumi";
import type { BackingStore, Fstype, IdmapMode, IdmapKind } from "../../model/enums.generated";

/**
 * The inputs of a Rootfs (lxc:index:Rootfs).
 */
export interface RootfsArgs {
  /**
   * The container's name: letters, digits, '.', '_' and '-', not starting with '.' or '-', at most 64 characters. Changing it replaces the rootfs.
   */
  container: pulumi.Input<string>;
  /**
   * The LXC path (an absolute directory) that holds the container's directory. Changing it replaces the rootfs.
   */
  lxcPath?: pulumi.Input<string | undefined>;
  /**
   * The backing store. Changing it moves the data into the new store: an update, never a replacement.
   */
  backingStore?: pulumi.Input<BackingStore | undefined>;
  /**
   * Capacity: bytes, or a whole number with K, M, G or T (binary multiples, also KiB, MiB, GiB, TiB), a multiple of 512. Block stores default to 1G; btrfs enforces it as a qgroup limit and zfs as a refquota; dir and overlay take none. Grows in place; shrinks only where the filesystem can (ext2/3/4 offline, btrfs) and the data fits.
   */
  size?: pulumi.Input<string | number | undefined>;
  /**
   * The filesystem of a block store (loop, lvm). Default ext4. Changing it copies the data into a new filesystem.
   */
  fstype?: pulumi.Input<Fstype | undefined>;
  /**
   * An LXC rootfs string (dir:, loop:, btrfs:, overlay:, lvm:, zfs:) whose content is copied in when the rootfs is created; for overlay, the dir: or btrfs: lower layer. Used at create only.
   */
  from?: pulumi.Input<string | undefined>;
  /**
   * An OS image to unpack into the rootfs when it is created, instead of `from`; not for overlay. Used at create only: see sha256 for what a change does. Secret in the state: a URL may carry a credential.
   */
  source?: pulumi.Input<RootfsSourceArgs | undefined>;
  /**
   * The id map of an unprivileged container, as its config's lxc.idmap lines (Proxmox's: [{kind: both, containerId: 0, hostId: 100000, size: 65536}]). At create, every owner, group, ACL entry and file capability of the rootfs is shifted into it (device nodes kept), so the container's root owns its files; a rootfs `from` one already in this map is copied as it is. Unset: the container config's lxc.idmap lines, if any. Not for overlay. Changed on a rootfs that exists, its owners are shifted in place (an update, the data kept; `[]` for none, privileged); unset then, they stay as they are.
   */
  idmap?: pulumi.Input<pulumi.Input<IdmapEntryArgs>[] | undefined>;
  /**
   * How the rootfs fits an idmap. `shift` (default): its owners are shifted into the map on disk. `mount`: they stay as a privileged rootfs's (no byte is rewritten) and the container config gets `lxc.rootfs.options = idmap=container`, LXC's idmapped mount; only for dir (LXC 5.0's idmapped rootfs supports no other storage driver) on a filesystem that can idmap mounts (ext2/3/4, xfs, btrfs, tmpfs; not zfs 2.1 or overlay), and only with an idmap (this input or the config's lxc.idmap lines). Changed on a rootfs that exists, an update that keeps the data: to mount, its owners are shifted in place back to none, then the option is written; to shift, they are shifted in place into the map, then the option is removed.
   */
  idmapMode?: pulumi.Input<IdmapMode | undefined>;
  /**
   * LVM only: the volume group. Default: lxc (not stated as a schema default, which the SDKs would send for every store).
   */
  vgName?: pulumi.Input<string | undefined>;
  /**
   * LVM only: the logical volume's name. Default: the container's name.
   */
  lvName?: pulumi.Input<string | undefined>;
  /**
   * LVM only: make a thin volume in this thin pool of vgName. Default: a thick volume.
   */
  thinPool?: pulumi.Input<string | undefined>;
  /**
   * ZFS only: the parent dataset. Default: lxc (not stated as a schema default, which the SDKs would send for every store).
   */
  zfsRoot?: pulumi.Input<string | undefined>;
  /**
   * The LXC host to manage the rootfs on, over SSH; without it, the machine running Pulumi. Secret in the state. Changing host or port replaces the rootfs (another machine); credentials, proxy and timeouts never cause a diff.
   */
  connection?: pulumi.Input<ConnectionArgs | undefined>;
}

/**
 * The inputs of a RootfsSnapshot (lxc:index:RootfsSnapshot).
 */
export interface RootfsSnapshotArgs {
  /**
   * The container whose rootfs is snapshotted. Pass the Rootfs's container output, so the engine deletes the snapshot before the rootfs.
   */
  container: pulumi.Input<string>;
  /**
   * The LXC path that holds the container's directory.
   */
  lxcPath?: pulumi.Input<string | undefined>;
  /**
   * The snapshot's name, the directory under <container>/snaps: letters, digits, '.', '_' and '-', not starting with '.' or '-', at most 64 characters.
   */
  name: pulumi.Input<string>;
  /**
   * Kept in the snapshot's comment file, as lxc-snapshot -c does; lxc-snapshot -L -C prints it.
   */
  comment?: pulumi.Input<string | undefined>;
  /**
   * The LXC host, over SSH; without it, the machine running Pulumi. Secret in the state. Changing host or port replaces the snapshot.
   */
  connection?: pulumi.Input<ConnectionArgs | undefined>;
}

/**
 * How to reach an LXC host over SSH: the shape of @pulumi/command's remote.Connection, so one object serves both.
 */
export interface ConnectionArgs extends ProxyConnectionArgs {
  /**
   * A bastion to reach the host through, as `ssh -J` does.
   */
  proxy?: pulumi.Input<ProxyConnectionArgs | undefined>;
}

/**
 * A bastion host: a connection without a proxy of its own.
 */
export interface ProxyConnectionArgs {
  /**
   * The host's name or IP address.
   */
  host: pulumi.Input<string>;
  /**
   * The SSH port.
   */
  port?: pulumi.Input<number | undefined>;
  /**
   * The user to log in as. A user other than root needs passwordless sudo (`sudo -n`): the agent runs as root.
   */
  user?: pulumi.Input<string | undefined>;
  /**
   * The password to log in with.
   */
  password?: pulumi.Input<string | undefined>;
  /**
   * The private key to log in with, in OpenSSH or PEM format.
   */
  privateKey?: pulumi.Input<string | undefined>;
  /**
   * The passphrase of an encrypted privateKey.
   */
  privateKeyPassword?: pulumi.Input<string | undefined>;
  /**
   * The ssh-agent socket to log in with. Default: $SSH_AUTH_SOCK.
   */
  agentSocketPath?: pulumi.Input<string | undefined>;
  /**
   * The host's public key (`ssh-ed25519 AAAA…`) or its SHA256 fingerprint. Without it, the host must be in the known_hosts of the user running Pulumi; any other key is refused before a command runs.
   */
  hostKey?: pulumi.Input<string | undefined>;
  /**
   * How many times to dial before giving up; -1 for no limit.
   */
  dialErrorLimit?: pulumi.Input<number | undefined>;
  /**
   * Seconds each dial may take, handshake and login included; 0 for no limit.
   */
  perDialTimeout?: pulumi.Input<number | undefined>;
}

/**
 * An OS image to unpack into the rootfs when it is created: a rootfs tarball (tar, or tar compressed with gzip, bzip2, xz or zstd, told from its first bytes), such as LXC's rootfs.tar.xz, a Proxmox template or a `tar -C tree -c .` of a debootstrap, unpacked exactly by GNU tar (numeric owners, modes, ACLs, xattrs and file capabilities, device nodes, hard links, holes); or an OCI image, copied by skopeo into the host's image cache and unpacked by umoci as root, its layers in order with whiteouts honoured.
 */
export interface RootfsSourceArgs {
  /**
   * The tarball: an absolute path or a file:// URL on the LXC host; an http(s) URL the host fetches into its image cache (/var/cache/lxc-rootfs/images, keyed by sha256, which an http(s) URL requires); images:<dist>/<release>[/<variant>], the newest image an LXC or Incus image server lists for the host's architecture, found through its simplestreams index, which gives its sha256; or an OCI image: oci:<directory>[:<tag>] (an image layout on the host), oci-archive:<file>[:<tag>] or docker://<reference> (a registry the host reaches, with the host's credentials). Never shown: plan lines and messages show its scheme, host and path only.
   */
  url: pulumi.Input<string>;
  /**
   * For an images: url, the image server. Default https://images.linuxcontainers.org.
   */
  server?: pulumi.Input<string | undefined>;
  /**
   * The tarball's sha256, or an OCI image's manifest's (for a multi-platform image, the manifest of the host's platform), 64 hexadecimal digits: checked before anything is made, and again as it is unpacked. With it, a new image (another sha256) replaces the rootfs, and a new url with the same sha256 only records the url.
   */
  sha256?: pulumi.Input<string | undefined>;
}

/**
 * One range of an unprivileged container's id map, as a config's `lxc.idmap = u|g <containerId> <hostId> <size>` line: container ids containerId to containerId+size-1 are host ids hostId to hostId+size-1.
 */
export interface IdmapEntryArgs {
  /**
   * Which ids the range maps: uid, gid, or both (a u line and a g line).
   */
  kind: pulumi.Input<IdmapKind>;
  /**
   * The first id of the range inside the container.
   */
  containerId: pulumi.Input<number>;
  /**
   * The host id the first one is.
   */
  hostId: pulumi.Input<number>;
  /**
   * How many ids the range maps, at least 1.
   */
  size: pulumi.Input<number>;
}
