"""A loop rootfs, moved to btrfs by `pulumi config set backingStore btrfs` with its data kept."""
import pulumi
import pulumi_lxc as lxc

config = pulumi.Config()
web = lxc.Rootfs(
    "web",
    container="web",
    lxc_path=config.get("lxcPath") or "/var/lib/lxc",
    backing_store=config.get("backingStore") or "loop",
    size=config.get("size") or "256M",
)
pulumi.export("rootfsPath", web.rootfs_path)
pulumi.export("backingStore", web.backing_store)
