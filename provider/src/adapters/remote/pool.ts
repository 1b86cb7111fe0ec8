/**
 * One SSH connection and one agent per host per provider process: the 20 Rootfs of a host share them, so
 * a `pulumi up` costs one handshake and one Node start per host, not one per resource. A connection that
 * fails or closes leaves the pool; the next call dials again.
 */
import { createHash } from "crypto";
import type { RootfsCore } from "../../api";
import type { Connection } from "./connection";
import { AgentCore } from "./core";
import { startAgent } from "./install";
import { dial, nameOf, readKnownHosts } from "./ssh";

const agents = new Map<string, Promise<AgentCore>>();

/** How errors name a host: the user and machine, and the bastion on the way. */
function nameWithProxy(c: Connection): string {
  return c.proxy ? `${nameOf(c)} via ${nameOf(c.proxy)}` : nameOf(c);
}

/**
 * Connections are shared only when every field is the same: a resource that pins another host key or
 * gives other credentials gets its own dial, and so its own check. Hashed, so no credential is kept as a key.
 */
function keyOf(c: Connection): string {
  return createHash("sha256").update(JSON.stringify(c)).digest("hex");
}

async function connect(c: Connection, key: string): Promise<AgentCore> {
  const client = await dial(c, await readKnownHosts());
  client.once("close", () => agents.delete(key));
  try {
    return await startAgent(client, c.user, `ssh ${nameWithProxy(c)}`);
  } catch (e) {
    client.end();
    throw e;
  }
}

function agentFor(c: Connection): Promise<AgentCore> {
  const key = keyOf(c);
  let agent = agents.get(key);
  if (!agent) {
    agent = connect(c, key);
    agents.set(key, agent);
    agent.catch(() => agents.delete(key));
  }
  return agent;
}

/** The core of the host `c` reaches; it connects on its first call. */
export function remoteCore(c: Connection): RootfsCore {
  return {
    inspect: async (ref, opts) => (await agentFor(c)).inspect(ref, opts),
    create: async (spec, opts) => (await agentFor(c)).create(spec, opts),
    planUpdate: async (ref, change, opts) => (await agentFor(c)).planUpdate(ref, change, opts),
    update: async (ref, change, opts) => (await agentFor(c)).update(ref, change, opts),
    destroy: async (ref, opts) => (await agentFor(c)).destroy(ref, opts),
  };
}
