/**
 * `lxc:index:Rootfs` as a schema-based provider plugin, for every Pulumi language and for `pulumi import`.
 * A thin adapter over ../pulumi/resource.ts, the code behind the dynamic provider too: it only translates
 * the wire (secret envelopes, URNs, the import read) and reports through the engine's log.
 */
import type * as provider from "@pulumi/pulumi/provider";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime";
import { RESOURCE_TOKEN as ROOTFS_TYPE, SNAPSHOT_TOKEN as SNAPSHOT_TYPE, secretInputNames } from "../../model/schema";
import {
  checkResource,
  createResource,
  deleteResource,
  diffResource,
  inputsFromObserved,
  Props,
  propsFromId,
  readResource,
  updateResource,
} from "../pulumi/resource";
import { coreFor } from "../pulumi/placement";
import { EngineLog } from "../pulumi/engine-log";
import { label, plainErrors } from "../pulumi/messages";
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
} from "../pulumi/snapshot";

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

/** The name of a rootfs for the engine's log, with any secret part of it shown as [secret]. */
function labelOf(plain: Props, secret: Set<string>): string {
  return label({ ...plain, ...Object.fromEntries([...secret].map((k) => [k, "[secret]"])) });
}

/** A snapshot's name for the engine's log, with any secret part of it shown as [secret]. */
function snapshotLabelOf(plain: Props, secret: Set<string>): string {
  return snapshotLabel({ ...plain, ...Object.fromEntries([...secret].map((k) => [k, "[secret]"])) });
}

/** Puts the values that came in secret back in envelopes, so outputs stay secret in the state. */
export function wrapSecrets(props: Props, secret: Set<string>): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(props)) out[k] = secret.has(k) && v !== undefined ? { [SIG]: SECRET, value: v } : v;
  return out;
}

function typeOf(urn: string): string {
  return urn.split("::")[2] ?? "";
}

/** Whether a URN is a snapshot's; refuses a type this provider does not serve. */
function isSnapshot(urn: string): boolean {
  const type = typeOf(urn);
  if (type !== ROOTFS_TYPE && type !== SNAPSHOT_TYPE) {
    throw new Error(`unknown resource type ${type}: this provider serves ${ROOTFS_TYPE} and ${SNAPSHOT_TYPE}`);
  }
  return type === SNAPSHOT_TYPE;
}

export class RootfsProvider implements provider.Provider {
  constructor(
    readonly version: string,
    readonly schema: string,
    private readonly log: EngineLog,
  ) {}

  async check(urn: string, olds: Props, news: Props): Promise<provider.CheckResult> {
    const { plain, secret } = unwrap(news);
    if (isSnapshot(urn)) {
      const r = await plainErrors(() => checkSnapshot(unwrap(olds).plain, plain, () => coreFor(plain)));
      if (r.plan) await this.log(urn, `${snapshotLabelOf(plain, secret)}: ${r.plan}`);
      return { inputs: wrapSecrets(r.inputs, secret), failures: r.failures };
    }
    const r = checkResource(plain);
    return { inputs: wrapSecrets(r.inputs, secret), failures: r.failures };
  }

  async diff(_id: string, urn: string, olds: Props, news: Props): Promise<provider.DiffResult> {
    return plainErrors(async () => {
      const n = unwrap(news);
      if (isSnapshot(urn)) {
        const d = await diffSnapshot(unwrap(olds).plain, n.plain, coreFor(n.plain));
        if (d.summary) await this.log(urn, `${snapshotLabelOf(n.plain, n.secret)}: ${d.summary}`);
        return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: true };
      }
      const d = await diffResource(unwrap(olds).plain, n.plain, coreFor(n.plain));
      if (d.summary) await this.log(urn, `${labelOf(n.plain, n.secret)}: ${d.summary}`);
      return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: false };
    });
  }

  async create(urn: string, inputs: Props): Promise<provider.CreateResult> {
    const snapshot = isSnapshot(urn);
    return plainErrors(async () => {
      const { plain, secret } = unwrap(inputs);
      if (snapshot) {
        const r = await createSnapshot(plain, coreFor(plain), {
          log: (m) => void this.log(urn, `${snapshotLabelOf(plain, secret)}: ${m}`),
        });
        return { id: r.id, outs: wrapSecrets(r.outs, secret) };
      }
      const r = await createResource(plain, coreFor(plain), { log: (m) => void this.log(urn, `${labelOf(plain, secret)}: ${m}`) });
      // Not the value of from: it may be secret, and the engine's log is not.
      if (r.method !== "none") await this.log(urn, `${labelOf(plain, secret)}: filled from \`from\` by ${r.method}`);
      return { id: r.id, outs: wrapSecrets(r.outs, secret) };
    });
  }

  /** Refresh reads the host; an import (no properties yet) starts from the id and returns inputs too. */
  async read(id: string, urn: string, props: Props): Promise<provider.ReadResult> {
    return plainErrors(async () => {
      const importing = Object.keys(props ?? {}).length === 0;
      if (isSnapshot(urn)) {
        const { plain, secret } = unwrap(importing ? snapshotPropsFromId(id) : props);
        const r = await readSnapshot(plain, coreFor(plain));
        if (!r) return { id: "", props: {} };
        return { id: r.id, props: wrapSecrets(r.outs, secret), inputs: importing ? snapshotInputsFromObserved(r.outs) : undefined };
      }
      const { plain, secret } = unwrap(importing ? propsFromId(id) : props);
      const r = await readResource(plain, coreFor(plain));
      if (!r) return { id: "", props: {} };
      return { id: r.id, props: wrapSecrets(r.outs, secret), inputs: importing ? inputsFromObserved(r.outs) : undefined };
    });
  }

  async update(_id: string, urn: string, olds: Props, news: Props): Promise<provider.UpdateResult> {
    return plainErrors(async () => {
      const { plain, secret } = unwrap(news);
      if (isSnapshot(urn)) return { outs: wrapSecrets((await updateSnapshot(unwrap(olds).plain, plain, coreFor(plain))).outs, secret) };
      const r = await updateResource(unwrap(olds).plain, plain, coreFor(plain));
      await this.log(
        urn,
        `${labelOf(plain, secret)}: updated by ${r.strategy}${r.method !== "none" ? ` (${r.method})` : ""}: ${r.summary}`,
      );
      return { outs: wrapSecrets(r.outs, secret) };
    });
  }

  async delete(_id: string, urn: string, props: Props): Promise<void> {
    return plainErrors(async () => {
      const { plain, secret } = unwrap(props);
      if (isSnapshot(urn)) {
        const r = await deleteSnapshot(plain, coreFor(plain));
        if (!r.destroyed) await this.log(urn, `${snapshotLabelOf(plain, secret)}: nothing deleted: ${r.reason}`);
        return;
      }
      const r = await deleteResource(plain, coreFor(plain));
      if (!r.destroyed) await this.log(urn, `${labelOf(plain, secret)}: nothing deleted: ${r.reason}`);
    });
  }
}
