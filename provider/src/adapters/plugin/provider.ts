/**
 * `lxc:index:Rootfs` as a schema-based provider plugin, for every Pulumi language and for `pulumi import`.
 * A thin adapter over ../pulumi/resource.ts, the code behind the dynamic provider too: it only translates
 * the wire (secret envelopes, URNs, the import read) and reports through the engine's log.
 */
import type * as provider from "@pulumi/pulumi/provider";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime";
import { secretInputNames } from "../../model/schema";
import { Props } from "../pulumi/props";
import { coreFor } from "../pulumi/placement";
import { EngineLog } from "../pulumi/engine-log";
import { plainErrors } from "../pulumi/messages";
import { handlersOf, ResourceHandlers } from "../pulumi/resources";

/** Pulumi's marker for a secret value on the wire: { [SIG]: SECRET, value }. */
const SIG = specialSigKey;
const SECRET = specialSecretSig;

function isSecret(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG] === SECRET;
}

/** A value with every secret envelope inside it opened (an object's field can be secret on its own). */
function openSecrets(v: unknown): { value: unknown; secret: boolean } {
  if (isSecret(v)) return { value: openSecrets(v.value).value, secret: true };
  if (Array.isArray(v)) {
    const items = v.map(openSecrets);
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  if (typeof v === "object" && v !== null) {
    const fields = Object.entries(v).map(([k, f]) => [k, openSecrets(f)] as const);
    return { value: Object.fromEntries(fields.map(([k, f]) => [k, f.value])), secret: fields.some(([, f]) => f.secret) };
  }
  return { value: v, secret: false };
}

/**
 * Values out of their secret envelopes, at any depth, remembering which top-level properties held a
 * secret: those go back whole into an envelope (wrapSecrets), so no part of them is stored in plain text.
 */
export function unwrapSecrets(props: Props): { plain: Props; secret: Set<string> } {
  const plain: Props = {};
  const secret = new Set<string>();
  for (const [k, v] of Object.entries(props ?? {})) {
    const opened = openSecrets(v);
    plain[k] = opened.value;
    if (opened.secret) secret.add(k);
  }
  return { plain, secret };
}

/**
 * unwrapSecrets, with the inputs schema.json marks secret counted secret whether or not the caller sent
 * them so (an SDK wraps them; a hand-written program or YAML may not): they never reach the state in plain.
 */
function unwrap(props: Props): { plain: Props; secret: Set<string> } {
  const opened = unwrapSecrets(props);
  for (const k of secretInputNames) if (opened.plain[k] !== undefined && opened.plain[k] !== null) opened.secret.add(k);
  return opened;
}

/** The resource's name for the engine's log, with any secret part of it shown as [secret]. */
function labelOf(h: ResourceHandlers, plain: Props, secret: Set<string>): string {
  return h.label({ ...plain, ...Object.fromEntries([...secret].map((k) => [k, "[secret]"])) });
}

/** Puts the values that came in secret back in envelopes, so outputs stay secret in the state. */
export function wrapSecrets(props: Props, secret: Set<string>): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(props)) out[k] = secret.has(k) && v !== undefined ? { [SIG]: SECRET, value: v } : v;
  return out;
}

/** The handlers of the resource a URN names; refuses a type this provider does not serve. */
function handlersFor(urn: string): ResourceHandlers {
  return handlersOf(urn.split("::")[2] ?? "");
}

export class RootfsProvider implements provider.Provider {
  constructor(
    readonly version: string,
    readonly schema: string,
    private readonly log: EngineLog,
  ) {}

  private async say(urn: string, h: ResourceHandlers, { plain, secret }: { plain: Props; secret: Set<string> }, notes: string[]) {
    for (const n of notes) await this.log(urn, `${labelOf(h, plain, secret)}: ${n}`);
  }

  /** Progress, as the engine's status of the resource: shown in its row (which names it) while it runs, then dropped. */
  private progress(urn: string): (line: string) => void {
    return (line) => void this.log(urn, line, true);
  }

  async check(urn: string, olds: Props, news: Props): Promise<provider.CheckResult> {
    const h = handlersFor(urn);
    const n = unwrap(news);
    const { notes, ...r } = await plainErrors(() => h.check(unwrap(olds).plain, n.plain, () => coreFor(n.plain)));
    await this.say(urn, h, n, notes);
    return { inputs: wrapSecrets(r.inputs, n.secret), failures: r.failures };
  }

  async diff(_id: string, urn: string, olds: Props, news: Props): Promise<provider.DiffResult> {
    return plainErrors(async () => {
      const h = handlersFor(urn);
      const n = unwrap(news);
      const o = unwrap(olds).plain;
      const d = await h.diff(o, n.plain, coreFor(n.plain), () => coreFor(o));
      if (d.summary) await this.say(urn, h, n, [d.summary]);
      return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
    });
  }

  async create(urn: string, inputs: Props): Promise<provider.CreateResult> {
    const h = handlersFor(urn);
    return plainErrors(async () => {
      const n = unwrap(inputs);
      const r = await h.create(n.plain, coreFor(n.plain), { log: (m) => void this.say(urn, h, n, [m]), progress: this.progress(urn) });
      await this.say(urn, h, n, r.notes);
      return { id: r.id, outs: wrapSecrets(r.outs, n.secret) };
    });
  }

  /** Refresh reads the host; an import (no properties yet) starts from the id and returns inputs too. */
  async read(id: string, urn: string, props: Props): Promise<provider.ReadResult> {
    return plainErrors(async () => {
      const h = handlersFor(urn);
      const importing = Object.keys(props ?? {}).length === 0;
      const { plain, secret } = unwrap(importing ? h.propsFromId(id) : props);
      const r = await h.read(plain, coreFor(plain));
      if (!r) return { id: "", props: {} };
      return { id: r.id, props: wrapSecrets(r.outs, secret), inputs: importing ? h.inputsFromObserved(r.outs) : undefined };
    });
  }

  async update(_id: string, urn: string, olds: Props, news: Props): Promise<provider.UpdateResult> {
    return plainErrors(async () => {
      const h = handlersFor(urn);
      const n = unwrap(news);
      const r = await h.update(unwrap(olds).plain, n.plain, coreFor(n.plain), { progress: this.progress(urn) });
      await this.say(urn, h, n, r.notes);
      return { outs: wrapSecrets(r.outs, n.secret) };
    });
  }

  async delete(_id: string, urn: string, props: Props): Promise<void> {
    return plainErrors(async () => {
      const h = handlersFor(urn);
      const p = unwrap(props);
      await this.say(urn, h, p, (await h.delete(p.plain, coreFor(p.plain))).notes);
    });
  }
}
