// A loop rootfs, moved to btrfs by `pulumi config set backingStore btrfs` with its data kept.
package main

import (
	"github.com/pulumi-lxc/pulumi-lxc/sdk/go/lxc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func or(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}

// Program declares the rootfs; main runs it under `pulumi up`.
func Program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	web, err := lxc.NewRootfs(ctx, "web", &lxc.RootfsArgs{
		Container:    pulumi.String("web"),
		LxcPath:      pulumi.String(or(cfg.Get("lxcPath"), "/var/lib/lxc")),
		BackingStore: lxc.BackingStore(or(cfg.Get("backingStore"), "loop")),
		Size:         pulumi.String(or(cfg.Get("size"), "256M")),
	})
	if err != nil {
		return err
	}
	ctx.Export("rootfsPath", web.RootfsPath)
	ctx.Export("backingStore", web.BackingStore)
	return nil
}

func main() {
	pulumi.Run(Program)
}
