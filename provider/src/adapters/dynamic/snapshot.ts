/**
 * `RootfsSnapshot`: a snapshot of a container's rootfs as a Pulumi dynamic resource. Its provider, which
 * the engine serializes into the state, is in providers.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { snapshotProvider as provider } from "./providers";
import type { RootfsSnapshotArgs } from "./args.generated";
import type { BackingStore } from "../../model/enums.generated";

/** The inputs are schema.json's, typed as the Node.js SDK types them. Every one replaces the snapshot when it changes. */
export type { RootfsSnapshotArgs };

export class RootfsSnapshot extends pulumi.dynamic.Resource {
  declare readonly container: pulumi.Output<string>;
  declare readonly lxcPath: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly comment: pulumi.Output<string | undefined>;
  /** When it was taken (ISO 8601, UTC, whole seconds). */
  declare readonly createdAt: pulumi.Output<string>;
  /** Its own rootfs string: the `from` of a Rootfs that restores it. */
  declare readonly rootfsPath: pulumi.Output<string>;
  declare readonly backingStore: pulumi.Output<BackingStore>;
  declare readonly sizeBytes: pulumi.Output<number | undefined>;
  declare readonly allocatedBytes: pulumi.Output<number>;
  /** snapshot, reflink, sparse-copy, cp, or copy (made elsewhere). */
  declare readonly method: pulumi.Output<string>;

  constructor(name: string, args: RootfsSnapshotArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        createdAt: undefined,
        rootfsPath: undefined,
        backingStore: undefined,
        sizeBytes: undefined,
        allocatedBytes: undefined,
        method: undefined,
        ...args,
        connection: args.connection === undefined ? undefined : pulumi.secret(args.connection),
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      "lxc",
      "RootfsSnapshot",
    );
  }
}
