/**
 * Rootfs on remote LXC hosts over SSH, and @pulumi/command starting each container on the same host with
 * the same connection object: `connection` has the shape of @pulumi/command's `remote.Connection`, so one
 * value serves both.
 *
 * Config:
 * - `hosts` (required): a JSON list of `{ name, host, port?, hostKey }`, one rootfs and container per host;
 * - `privateKey` (required, secret): the SSH key for every host and the bastion;
 * - `user` (optional): the SSH user, `root` by default (another user needs passwordless sudo);
 * - `bastion` (optional): `{ host, port?, hostKey }`, a jump host to reach every host through.
 *
 * It cannot run on this project's CI machine: @pulumi/command's plugin cannot be fetched there
 * (docs/development.md). The Rootfs half is what test/remote/engine.test.ts runs for real, against real
 * sshds; test/remote/example-types.test.ts type-checks this program against the @pulumi/command package.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Rootfs } from "pulumi-lxc";

interface Host {
  name: string;
  host: string;
  port?: number;
  hostKey: string;
}

const config = new pulumi.Config();
const hosts = config.requireObject<Host[]>("hosts");
const privateKey = config.requireSecret("privateKey");
const user = config.get("user");
const bastion = config.getObject<Omit<Host, "name">>("bastion");

export const rootfs: Record<string, { id: pulumi.Output<string>; rootfsPath: pulumi.Output<string> }> = {};

for (const h of hosts) {
  const conn: command.types.input.remote.ConnectionArgs = {
    host: h.host,
    port: h.port,
    user,
    privateKey,
    // Pinned host keys: any other key is refused before a command runs.
    hostKey: h.hostKey,
    proxy: bastion && { ...bastion, user, privateKey },
  };
  const web = new Rootfs(h.name, { container: "web", backingStore: "loop", size: "2G", fstype: "ext4", connection: conn });
  new command.remote.Command(
    `${h.name}-start`,
    { connection: conn, create: "lxc-start -n web", delete: "lxc-stop -n web -k" },
    // The container boots from the rootfs, so it starts after the rootfs exists and stops before it goes.
    { dependsOn: [web] },
  );
  rootfs[h.name] = { id: web.id, rootfsPath: web.rootfsPath };
}
