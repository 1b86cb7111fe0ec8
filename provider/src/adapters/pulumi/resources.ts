/**
 * The resources both Pulumi adapters serve, one row each: the dynamic provider (../dynamic/impl.ts) and
 * the plugin (../plugin/provider.ts) are built from this table, so a third resource is one more row. Each
 * handler is the resource's semantics over a core (resource.ts, snapshot.ts) and the lines it tells the
 * user (`notes`); adapters translate the wire and print each note after the resource's label.
 */
import { OperationOptions, RootfsCore } from "../../api";
import { RESOURCE_TOKEN, SNAPSHOT_TOKEN } from "../../model/schema";
import { label } from "./messages";
import { Props } from "./props";
import {
  CheckResult,
  checkRootfs,
  createResource,
  deleteResource,
  DiffResult,
  diffResource,
  inputsFromObserved,
  propsFromId,
  readResource,
  updateResource,
} from "./resource";
import {
  checkSnapshot,
  createSnapshot,
  deleteSnapshot,
  diffSnapshot,
  readSnapshot,
  snapshotInputsFromObserved,
  snapshotLabel,
  snapshotPropsFromId,
  updateSnapshot,
} from "./snapshot";

export interface ResourceHandlers {
  /** What the user's lines say it is: `rootfs /var/lib/lxc/web`, `snapshot pre of /var/lib/lxc/web`. */
  label(props: Props): string;
  /** Validation; `core` is asked only when the check needs the host (a new snapshot's plan). */
  check(olds: Props, news: Props, core: () => RootfsCore): Promise<CheckResult & { notes: string[] }>;
  /** The diff; `summary` is what a preview prints. `oldCore`: the old resource's host (a replacement deletes there). */
  diff(olds: Props, news: Props, core: RootfsCore, oldCore: () => RootfsCore): Promise<DiffResult & { deleteBeforeReplace: boolean }>;
  create(news: Props, core: RootfsCore, opts: OperationOptions): Promise<{ id: string; outs: Props; notes: string[] }>;
  /** What the host holds now; null when it is gone (refresh drops it). */
  read(props: Props, core: RootfsCore): Promise<{ id: string; outs: Props } | null>;
  update(olds: Props, news: Props, core: RootfsCore, opts: OperationOptions): Promise<{ outs: Props; notes: string[] }>;
  delete(props: Props, core: RootfsCore): Promise<{ notes: string[] }>;
  /** `pulumi import`: the properties an id names, then the inputs that describe what the host holds. */
  propsFromId(id: string): Props;
  inputsFromObserved(outs: Props): Props;
}

const nothingDeleted = (r: { destroyed: boolean; reason?: string }) => (r.destroyed ? [] : [`nothing deleted: ${r.reason}`]);

const rootfs: ResourceHandlers = {
  label,
  async check(olds, news, core) {
    const { plan, ...r } = await checkRootfs(olds, news, core);
    return { ...r, notes: plan ? [plan] : [] };
  },
  // A new image is unpacked where the old rootfs is (deleted first); other replacements make the new one first.
  diff: async (olds, news, core, oldCore) => {
    const d = await diffResource(olds, news, core, {}, oldCore);
    return { ...d, deleteBeforeReplace: d.deleteBeforeReplace ?? false };
  },
  async create(news, core, opts) {
    const r = await createResource(news, core, opts);
    // Not the value of from or of source's url: either may be secret, and the engine's output is not.
    const from =
      r.method === "unpack" ? `unpacked from \`source\` (${String(r.outs.sourceDigest)})` : `filled from \`from\` by ${r.method}`;
    return { id: r.id, outs: r.outs, notes: r.method !== "none" ? [from] : [] };
  },
  read: readResource,
  async update(olds, news, core, opts) {
    const r = await updateResource(olds, news, core, opts);
    return { outs: r.outs, notes: [`updated by ${r.strategy}${r.method !== "none" ? ` (${r.method})` : ""}: ${r.summary}`] };
  },
  delete: async (props, core) => ({ notes: nothingDeleted(await deleteResource(props, core)) }),
  propsFromId,
  inputsFromObserved,
};

const snapshot: ResourceHandlers = {
  label: snapshotLabel,
  async check(olds, news, core) {
    const { plan, ...r } = await checkSnapshot(olds, news, core);
    return { ...r, notes: plan ? [plan] : [] };
  },
  // A snapshot is deleted before it is taken again: two of one name cannot stand side by side.
  diff: async (olds, news, core) => ({ ...(await diffSnapshot(olds, news, core)), deleteBeforeReplace: true }),
  create: async (news, core, opts) => ({ ...(await createSnapshot(news, core, opts)), notes: [] }),
  read: readSnapshot,
  update: async (olds, news, core, opts) => ({ ...(await updateSnapshot(olds, news, core, opts)), notes: [] }),
  delete: async (props, core) => ({ notes: nothingDeleted(await deleteSnapshot(props, core)) }),
  propsFromId: snapshotPropsFromId,
  inputsFromObserved: snapshotInputsFromObserved,
};

export const RESOURCES: Readonly<Record<string, ResourceHandlers>> = { [RESOURCE_TOKEN]: rootfs, [SNAPSHOT_TOKEN]: snapshot };

/** The handlers of a resource type; refuses one this provider does not serve. */
export function handlersOf(type: string): ResourceHandlers {
  const handlers = RESOURCES[type];
  if (!handlers) throw new Error(`unknown resource type ${type}: this provider serves ${Object.keys(RESOURCES).join(" and ")}`);
  return handlers;
}
