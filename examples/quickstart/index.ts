/**
 * Quickstart: three rootfs for LXC containers.
 * - web:  a 256 MiB sparse loop image holding ext4, unpacked from a busybox rootfs tarball (`source`);
 * - data: a btrfs subvolume with a 512 MiB qgroup limit, on a btrfs lxcPath, unpacked from the same image;
 * - snap: an overlay snapshot whose lower layer is `data`.
 * Config (set by `npm run demo`): lxcPath, btrfsLxcPath, image and imageSha256 (the tarball on this host).
 */
import * as pulumi from "@pulumi/pulumi";
import { Rootfs } from "pulumi-lxc";

export = async () => {
  const config = new pulumi.Config();
  const lxcPath = config.require("lxcPath");
  const btrfsLxcPath = config.require("btrfsLxcPath");
  const source = { url: config.require("image"), sha256: config.require("imageSha256") };

  const web = new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size: "256M", fstype: "ext4", source });
  const data = new Rootfs("data", { container: "data", lxcPath: btrfsLxcPath, backingStore: "btrfs", size: "512M", source });
  const snap = new Rootfs("snap", { container: "snap", lxcPath: btrfsLxcPath, backingStore: "overlay", from: data.rootfsPath });

  return {
    web: {
      rootfsPath: web.rootfsPath,
      sizeBytes: web.sizeBytes,
      fstype: web.fstype,
      allocatedBytes: web.allocatedBytes,
      sourceDigest: web.sourceDigest,
    },
    data: { rootfsPath: data.rootfsPath, sizeBytes: data.sizeBytes },
    snap: { rootfsPath: snap.rootfsPath },
  };
};
