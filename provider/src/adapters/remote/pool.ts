/**
 * One SSH connection and one agent per host per provider process: the 20 Rootfs of a host share them, so
 * a `pulumi up` costs one handshake and one Node start per host, not one per resource. An agent that
 * fails to start or ends leaves the pool with its connection closed; the next call dials again.
 */
import { createHash } from "crypto";
import { deferredCore, type RootfsCore } from "../../api";
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

/** Connects and starts the agent; resolves once the agent has said hello, so a dead start is never pooled. */
async function connect(c: Connection): Promise<AgentCore> {
  const client = await dial(c, await readKnownHosts());
  try {
    const core = await startAgent(client, c.user, `ssh ${nameWithProxy(c)}`);
    await core.hello;
    // The connection has no other use: it closes with its agent.
    void core.ended.then(() => client.end());
    return core;
  } catch (e) {
    client.end();
    throw e;
  }
}

function agentFor(c: Connection): Promise<AgentCore> {
  const key = keyOf(c);
  const pooled = agents.get(key);
  if (pooled) return pooled;
  const agent = connect(c);
  agents.set(key, agent);
  // Only this entry leaves: a newer one for the same key may have taken its place meanwhile.
  const leave = () => {
    if (agents.get(key) === agent) agents.delete(key);
  };
  agent.then(
    (core) => void core.ended.then(leave),
    () => leave(),
  );
  return agent;
}

/** The core of the host `c` reaches; it connects on its first call, and again after its agent ended. */
export function remoteCore(c: Connection): RootfsCore {
  return deferredCore(() => agentFor(c));
}
