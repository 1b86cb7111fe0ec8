/**
 * What a tree store kept at `<c>/rootfs` on the host's own filesystem (dir, btrfs) does one way, as Incus's
 * driver_common.go does for its drivers: its rootfs string, LXC's name for it, its slots and a snapshot's
 * place, a rename between slots, a view that is the directory itself. A driver spreads these and overrides
 * only what it does better.
 */
import { lstatOrNull } from "../host/paths";
import { checkLocalDestroy, moveLocal } from "./local";
import { isHostPath } from "./syntax";
import { LocationOf, PlainStore, SLOT_SUFFIX, TreeDriver } from "./types";

type Shared = "kind" | "store" | "prefixes" | "options" | "parse" | "optionsOf" | "locate" | "relocate" | "snapshotAt" | "exists";
type SharedSteps = "move" | "checkDestroy" | "mountTree";

/** `store`: any store whose location has no fields of its own (dir, btrfs use these); named by the type, not spelled. */
export function localTree(store: PlainStore): {
  at: (path: string) => LocationOf<PlainStore>;
  defaults: Pick<TreeDriver, Shared | SharedSteps>;
} {
  const at = (path: string): LocationOf<PlainStore> => ({ store, path, rootfsPath: `${store}:${path}`, localRoot: path });
  return {
    at,
    defaults: {
      kind: "tree",
      store,
      prefixes: [store],
      options: {},
      parse: (body) => (isHostPath(body) ? at(body) : null),
      optionsOf: () => ({}),
      locate: (_spec, containerDir) => at(`${containerDir}/rootfs`),
      relocate: (final, slot) => at(`${final.path}${SLOT_SUFFIX[slot]}`),
      snapshotAt: (_src, snapDir) => at(`${snapDir}/rootfs`),
      exists: async (_ctx, loc) => (await lstatOrNull(loc.path)) !== null,
      move: (ctx, from, to) => moveLocal(ctx, from.path, to.path),
      checkDestroy: (ctx, loc) => checkLocalDestroy(ctx, loc.path, "directory"),
      mountTree: async (_ctx, loc) => ({ root: loc.path, release: async () => undefined }),
    },
  };
}
