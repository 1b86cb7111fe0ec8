/**
 * `Rootfs`: the root filesystem of an LXC container as a Pulumi dynamic resource.
 *
 * The provider object below is serialized into the state as JavaScript text. It captures only strings
 * and loads the implementation with require() inside each method, so neither koffi nor a platform path
 * is serialized, and refresh/destroy later run the implementation installed then.
 */
import * as pulumi from "@pulumi/pulumi";
import path from "path";
import type { RootfsArgs } from "../../../../sdk/nodejs/rootfs";
import type { BackingStore, Fstype } from "../../../../sdk/nodejs/types/enums";

/** Resolved by package name from the project's node_modules first, then at this installation's path. */
const IMPL_MODULE = "pulumi-lxc/dist/provider/src/adapters/dynamic/impl.js";
const IMPL_PATH = path.join(__dirname, "impl.js");

function impl(): typeof import("./impl") {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(IMPL_MODULE);
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(IMPL_PATH);
  }
}

const provider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => impl().check(olds, news),
  diff: (id, olds, news) => impl().diff(id, olds, news),
  create: (news) => impl().create(news),
  read: (id, props) => impl().read(id, props),
  update: (id, olds, news) => impl().update(id, olds, news),
  delete: (id, props) => impl().remove(id, props),
};

/** The inputs are the generated SDK's, from schema.json: see it for each property's rules and defaults. */
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
        ...args,
        // Credentials inside: secret in the state, as the plugin's schema marks it.
        connection: args.connection === undefined ? undefined : pulumi.secret(args.connection),
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      "lxc",
      "Rootfs",
    );
  }
}
