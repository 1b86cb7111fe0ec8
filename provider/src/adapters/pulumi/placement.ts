/**
 * Where a Rootfs lives: the machine running Pulumi, or the LXC host its `connection` reaches over SSH.
 * The storage core never sees the connection: it only chooses which core a request goes to.
 */
import { localCore, RootfsCore } from "../../api";
import { Connection, machineOf, validateConnection } from "../remote/connection";
import { remoteCore } from "../remote/pool";

/** The machine of the machine running Pulumi, as machineOf names remote ones. */
export const LOCAL = "local";

/** The connection of a resource's properties, checked; undefined for a local rootfs. */
export function connectionOf(props: Record<string, unknown>): Connection | undefined {
  const raw = props.connection;
  return raw === undefined || raw === null ? undefined : validateConnection(raw);
}

/**
 * The core that serves a resource: its host's over SSH, or this process's. The connection is checked at
 * the first call, not here: a preview may hold credentials not known yet, and then never calls.
 */
export function coreFor(props: Record<string, unknown>): RootfsCore {
  if (props.connection === undefined || props.connection === null) return localCore;
  const core = () => remoteCore(connectionOf(props) as Connection);
  return {
    inspect: (ref, opts) => core().inspect(ref, opts),
    create: (spec, opts) => core().create(spec, opts),
    planUpdate: (ref, change, opts) => core().planUpdate(ref, change, opts),
    update: (ref, change, opts) => core().update(ref, change, opts),
    destroy: (ref, opts) => core().destroy(ref, opts),
  };
}

/**
 * Which machine the rootfs is on: another machine means another rootfs, never a move. Read from host and
 * port alone, so a credential not known yet (a preview) does not stop it.
 */
export function machineFor(props: Record<string, unknown>): string {
  const raw = props.connection as Record<string, unknown> | undefined | null;
  if (raw === undefined || raw === null) return LOCAL;
  return machineOf(validateConnection(typeof raw === "object" ? { host: raw.host, port: raw.port } : raw));
}
