/**
 * `Rootfs`: the root filesystem of an LXC container as a Pulumi dynamic resource. Its provider, which
 * the engine serializes into the state, is in providers.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { rootfsProvider as provider } from "./providers";
import type { RootfsArgs } from "./args.generated";
import type { BackingStore, Fstype, IdmapMode } from "../../model/enums.generated";
import type { IdmapEntry } from "../../model/idmap";

/** The inputs are schema.json's, typed as the Node.js SDK types them: see it for each property's rules and defaults. */
export type { RootfsArgs };

export class Rootfs extends pulumi.dynamic.Resource {
  declare readonly container: pulumi.Output<string>;
  declare readonly lxcPath: pulumi.Output<string>;
  declare readonly backingStore: pulumi.Output<BackingStore>;
  /** The `lxc.rootfs.path` string, e.g. `loop:/var/lib/lxc/web/rootdev`. */
  declare readonly rootfsPath: pulumi.Output<string>;
  /** Capacity found on the host; undefined for dir and overlay. */
  declare readonly sizeBytes: pulumi.Output<number | undefined>;
  declare readonly fstype: pulumi.Output<Fstype | undefined>;
  declare readonly allocatedBytes: pulumi.Output<number>;
  declare readonly usedBytes: pulumi.Output<number>;
  declare readonly managed: pulumi.Output<boolean>;
  /** `sha256:<hex>` of the image unpacked at create, for a rootfs made from `source`. */
  declare readonly sourceDigest: pulumi.Output<string | undefined>;
  /** The LXC config lines the image asks for (an OCI image's command, environment, user, directory). */
  declare readonly sourceConfig: pulumi.Output<string[] | undefined>;
  /** The id map the rootfs's owners were shifted into at create (the idmap input, or the config's lines). */
  declare readonly idmap: pulumi.Output<IdmapEntry[] | undefined>;
  /** How the rootfs fits its idmap, as the container's config says: mount (LXC's idmapped mount) or shift. */
  declare readonly idmapMode: pulumi.Output<IdmapMode>;

  constructor(name: string, args: RootfsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        rootfsPath: undefined,
        sizeBytes: undefined,
        allocatedBytes: undefined,
        usedBytes: undefined,
        managed: undefined,
        fstype: undefined,
        sourceDigest: undefined,
        sourceConfig: undefined,
        idmap: undefined,
        idmapMode: undefined,
        ...args,
        // Credentials inside (a connection's, a URL's token): secret in the state, as the plugin's schema marks them.
        connection: args.connection === undefined ? undefined : pulumi.secret(args.connection),
        source: args.source === undefined ? undefined : pulumi.secret(args.source),
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection", "source"] },
      "lxc",
      "Rootfs",
    );
  }
}
