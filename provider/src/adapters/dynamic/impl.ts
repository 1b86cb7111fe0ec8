/**
 * The dynamic provider's methods, built for each resource from the handler table (../pulumi/resources.ts).
 * Loaded inside each call by the serialized providers (providers.ts), never captured: koffi and the storage
 * core stay out of the state. The names exported here are what states written by every version call
 * (`check`…`remove` for Rootfs, `snapshot.*` for RootfsSnapshot): they stay. Lines printed here appear in
 * the engine's output under the stack, so a preview shows what an update will do and an update what it did.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { sparseLines } from "../../model/progress";
import { RESOURCE_TOKEN, SNAPSHOT_TOKEN } from "../../model/schema";
import { coreFor } from "../pulumi/placement";
import { plainErrors as plain } from "../pulumi/messages";
import { Props } from "../pulumi/props";
import { handlersOf, ResourceHandlers } from "../pulumi/resources";

/**
 * The dynamic provider has no engine connection of its own, so it cannot send the engine a status line that
 * goes away: every line it prints stays in the output. Progress is thinned to one line each 12 s, the
 * first after 12 s, so only long work says how far it is, and not at the plugin's pace.
 */
const DYNAMIC_PROGRESS_MS = 12_000;

function methodsOf(h: ResourceHandlers) {
  const say = (props: Props, notes: string[]) => notes.forEach((n) => console.log(`${h.label(props)}: ${n}`));
  const progress = (props: Props) => sparseLines((line) => say(props, [line]), DYNAMIC_PROGRESS_MS);
  return {
    async check(olds: Props, news: Props): Promise<dynamic.CheckResult> {
      const { notes, ...r } = await plain(() => h.check(olds, news, () => coreFor(news)));
      say(news, notes);
      return r;
    },
    async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
      return plain(async () => {
        const d = await h.diff(olds, news, coreFor(news), () => coreFor(olds));
        if (d.summary) say(news, [d.summary]);
        return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
      });
    },
    async create(news: Props): Promise<dynamic.CreateResult> {
      return plain(async () => {
        const r = await h.create(news, coreFor(news), { log: (m) => say(news, [m]), progress: progress(news) });
        say(news, r.notes);
        return { id: r.id, outs: r.outs };
      });
    },
    async read(_id: string, props: Props): Promise<dynamic.ReadResult> {
      return plain(async () => {
        const r = await h.read(props, coreFor(props));
        return r ? { id: r.id, props: r.outs } : { id: "", props: {} };
      });
    },
    async update(_id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
      return plain(async () => {
        const r = await h.update(olds, news, coreFor(news), { progress: progress(news) });
        say(news, r.notes);
        return { outs: r.outs };
      });
    },
    async remove(_id: string, props: Props): Promise<void> {
      return plain(async () => say(props, (await h.delete(props, coreFor(props))).notes));
    },
  };
}

export const { check, diff, create, read, update, remove } = methodsOf(handlersOf(RESOURCE_TOKEN));
export const snapshot = methodsOf(handlersOf(SNAPSHOT_TOKEN));
