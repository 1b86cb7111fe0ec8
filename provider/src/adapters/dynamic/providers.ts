/**
 * The dynamic providers of `Rootfs` and `RootfsSnapshot`, as the engine serializes them into the state
 * (JavaScript text). They capture two strings, where the implementation is found, and load it with
 * require() inside each method: koffi and the storage core stay out of the state, and refresh/destroy
 * later run the implementation installed then.
 */
import type * as pulumi from "@pulumi/pulumi";
import path from "path";

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

export const rootfsProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => impl().check(olds, news),
  diff: (id, olds, news) => impl().diff(id, olds, news),
  create: (news) => impl().create(news),
  read: (id, props) => impl().read(id, props),
  update: (id, olds, news) => impl().update(id, olds, news),
  delete: (id, props) => impl().remove(id, props),
};

export const snapshotProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => impl().snapshot.check(olds, news),
  diff: (id, olds, news) => impl().snapshot.diff(id, olds, news),
  create: (news) => impl().snapshot.create(news),
  read: (id, props) => impl().snapshot.read(id, props),
  update: (id, olds, news) => impl().snapshot.update(id, olds, news),
  delete: (id, props) => impl().snapshot.remove(id, props),
};
