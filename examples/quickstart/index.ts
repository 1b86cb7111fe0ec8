/**
 * Quickstart: three rootfs for LXC containers.
 * - web:  a 256 MiB sparse loop image holding ext4, filled from a busybox seed rootfs;
 * - data: a btrfs subvolume with a 512 MiB qgroup limit, on a btrfs lxcPath, filled from the same seed;
 * - snap: an overlay snapshot whose lower layer is `data`.
 * Config (set by `npm run demo`): lxcPath, btrfsLxcPath, seed (a dir: rootfs string).
 */
import * as pulumi from "@pulumi/pulumi";
import { Rootfs } from "pulumi-lxc";

export = async () => {
  const config = new pulumi.Config();
  const lxcPath = config.require("lxcPath");
  const btrfsLxcPath = config.require("btrfsLxcPath");
  const seed = config.require("seed");

  const web = new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size: "256M", fstype: "ext4", from: seed });
  const data = new Rootfs("data", { container: "data", lxcPath: btrfsLxcPath, backingStore: "btrfs", size: "512M", from: seed });
  const snap = new Rootfs("snap", { container: "snap", lxcPath: btrfsLxcPath, backingStore: "overlay", from: data.rootfsPath });

  return {
    web: { rootfsPath: web.rootfsPath, sizeBytes: web.sizeBytes, fstype: web.fstype, allocatedBytes: web.allocatedBytes },
    data: { rootfsPath: data.rootfsPath, sizeBytes: data.sizeBytes },
    snap: { rootfsPath: snap.rootfsPath },
  };
};
