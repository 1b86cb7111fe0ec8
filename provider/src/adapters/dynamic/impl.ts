/**
 * The dynamic provider's methods, as plain functions over ../pulumi/resource.ts. Loaded inside each call
 * by the serialized providers (providers.ts), never captured: koffi and the storage core stay out of the
 * state. Messages printed here appear in the engine's output under the stack, so a preview shows what an
 * update will do and an update shows what it did.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { coreFor } from "../pulumi/placement";
import { checkResource, createResource, deleteResource, diffResource, Props, readResource, updateResource } from "../pulumi/resource";
import { label, plainErrors as plain } from "../pulumi/messages";
import {
  checkSnapshot,
  createSnapshot,
  deleteSnapshot,
  diffSnapshot,
  readSnapshot,
  snapshotLabel,
  updateSnapshot,
} from "../pulumi/snapshot";

export async function check(_olds: Props, news: Props): Promise<dynamic.CheckResult> {
  return checkResource(news);
}

export async function diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
  return plain(async () => {
    const d = await diffResource(olds, news, coreFor(news));
    if (d.summary) console.log(`${label(news)}: ${d.summary}`);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: false };
  });
}

export async function create(news: Props): Promise<dynamic.CreateResult> {
  return plain(async () => {
    const r = await createResource(news, coreFor(news), { log: (m) => console.log(`${label(news)}: ${m}`) });
    // Not the value of from: it may be secret, and the engine's output is not.
    if (r.method !== "none") console.log(`${label(news)}: filled from \`from\` by ${r.method}`);
    return { id: r.id, outs: r.outs };
  });
}

export async function read(id: string, props: Props): Promise<dynamic.ReadResult> {
  return plain(async () => {
    const r = await readResource(props, coreFor(props));
    return r ? { id: r.id, props: r.outs } : { id: "", props: {} };
  });
}

export async function update(_id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
  return plain(async () => {
    const r = await updateResource(olds, news, coreFor(news));
    console.log(`${label(news)}: updated by ${r.strategy}${r.method !== "none" ? ` (${r.method})` : ""}: ${r.summary}`);
    return { outs: r.outs };
  });
}

export async function remove(_id: string, props: Props): Promise<void> {
  return plain(async () => {
    const r = await deleteResource(props, coreFor(props));
    if (!r.destroyed) console.log(`${label(props)}: nothing deleted: ${r.reason}`);
  });
}

/** RootfsSnapshot's methods. Its one update records the lxcPath spelled another way (diffSnapshot). */
export const snapshot = {
  async check(olds: Props, news: Props): Promise<dynamic.CheckResult> {
    const r = await plain(() => checkSnapshot(olds, news, () => coreFor(news)));
    if (r.plan) console.log(`${snapshotLabel(news)}: ${r.plan}`);
    return { inputs: r.inputs, failures: r.failures };
  },
  async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
    return plain(async () => {
      const d = await diffSnapshot(olds, news, coreFor(news));
      if (d.summary) console.log(`${snapshotLabel(news)}: ${d.summary}`);
      return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: true };
    });
  },
  async update(_id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
    return plain(() => updateSnapshot(olds, news, coreFor(news)));
  },
  async create(news: Props): Promise<dynamic.CreateResult> {
    return plain(async () => {
      const r = await createSnapshot(news, coreFor(news), { log: (m) => console.log(`${snapshotLabel(news)}: ${m}`) });
      return { id: r.id, outs: r.outs };
    });
  },
  async read(_id: string, props: Props): Promise<dynamic.ReadResult> {
    return plain(async () => {
      const r = await readSnapshot(props, coreFor(props));
      return r ? { id: r.id, props: r.outs } : { id: "", props: {} };
    });
  },
  async remove(_id: string, props: Props): Promise<void> {
    return plain(async () => {
      const r = await deleteSnapshot(props, coreFor(props));
      if (!r.destroyed) console.log(`${snapshotLabel(props)}: nothing deleted: ${r.reason}`);
    });
  },
};
