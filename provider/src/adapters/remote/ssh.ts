/**
 * One SSH connection to an LXC host, with ssh2 (no protocol code of our own): dialled as @pulumi/command
 * dials (`dialErrorLimit` attempts of `perDialTimeout` seconds each), through a bastion when `proxy` is set,
 * and with the host key checked before anything is sent (host-keys.ts). Authentication failures and refused
 * host keys are not retried: another attempt cannot change their answer.
 */
import { promises as fs } from "fs";
import os from "os";
import path from "path";
import { Client, ClientChannel, ConnectConfig } from "ssh2";
import { RootfsError, Unreachable } from "../../model/errors";
import type { Connection, ProxyConnection } from "./connection";
import { judgeHostKey, KnownHost, keyFromBlob, parseKnownHosts } from "./host-keys";

/** A connection that cannot succeed as configured: a refused host key or credentials. */
export class SshRefused extends RootfsError {}

/** How a connection is named in errors: never with a credential. */
export function nameOf(c: Pick<ProxyConnection, "user" | "host" | "port">): string {
  return `${c.user}@${c.host}:${c.port}`;
}

/** The known_hosts files OpenSSH's client reads by default: the user's, then the system's. */
export async function readKnownHosts(home = os.homedir()): Promise<KnownHost[]> {
  const files = [path.join(home, ".ssh", "known_hosts"), path.join(home, ".ssh", "known_hosts2"), "/etc/ssh/ssh_known_hosts"];
  const texts = await Promise.all(files.map((f) => fs.readFile(f, "utf8").catch(() => "")));
  return texts.flatMap(parseKnownHosts);
}

const PAUSE_BETWEEN_DIALS_MS = 1000;

function dialOnce(c: ProxyConnection, knownHosts: KnownHost[], sock?: ClientChannel): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let refusal: string | undefined;
    const config: ConnectConfig = {
      host: c.host,
      port: c.port,
      username: c.user,
      password: c.password,
      privateKey: c.privateKey,
      passphrase: c.privateKeyPassword,
      // As OpenSSH's client: the agent of the session when none is named.
      agent: c.agentSocketPath ?? process.env.SSH_AUTH_SOCK,
      // 0 is ssh2's "no limit" as it is @pulumi/command's.
      readyTimeout: c.perDialTimeout * 1000,
      keepaliveInterval: 15_000,
      sock,
      hostVerifier: (key: Buffer) => {
        const verdict = judgeHostKey(c.host, c.port, keyFromBlob(key), { hostKey: c.hostKey, knownHosts });
        if (!verdict.ok) refusal = verdict.reason;
        return verdict.ok;
      },
    };
    let settled = false;
    client.once("ready", () => {
      settled = true;
      resolve(client);
    });
    // For the client's whole life: ssh2 may emit a second error after the first (a lost connection after a
    // handshake timeout), and an 'error' without a listener would end the provider process. After the
    // dial, a failure shows as the connection's close, which the pool and the agent's channel act on.
    client.on("error", (e: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      if (refusal) return reject(new SshRefused(`ssh ${nameOf(c)}: host key refused: ${refusal}`));
      if (e.level === "client-authentication")
        return reject(new SshRefused(`ssh ${nameOf(c)}: authentication failed (tried: ${methodsOf(c)})`));
      reject(new RootfsError(`ssh ${nameOf(c)}: ${e.message}`));
    });
    client.connect(config);
  });
}

/** Which credentials were offered, by kind only. */
function methodsOf(c: ProxyConnection): string {
  const kinds = [c.password && "password", c.privateKey && "privateKey", (c.agentSocketPath ?? process.env.SSH_AUTH_SOCK) && "ssh-agent"];
  return kinds.filter(Boolean).join(", ") || "none: set privateKey, password or agentSocketPath";
}

/** A bastion, and whether its connection has closed (then no dial through it can succeed). */
interface Via {
  client: Client;
  closed(): boolean;
}

async function dialWithRetries(c: ProxyConnection, knownHosts: KnownHost[], via?: Via): Promise<Client> {
  let last: Error = new RootfsError(`ssh ${nameOf(c)}: not dialled`);
  const unlimited = c.dialErrorLimit === -1;
  for (let attempt = 1; unlimited || attempt <= c.dialErrorLimit; attempt++) {
    try {
      if (via?.closed()) throw new SshRefused(`ssh ${nameOf(c)}: the bastion's connection closed`);
      const sock = via ? await forward(via.client, c) : undefined;
      return await dialOnce(c, knownHosts, sock);
    } catch (e) {
      if (e instanceof SshRefused) throw e;
      last = e as Error;
      if (unlimited || attempt < c.dialErrorLimit) await new Promise((r) => setTimeout(r, PAUSE_BETWEEN_DIALS_MS));
    }
  }
  const each = c.perDialTimeout === 0 ? "" : ` of at most ${c.perDialTimeout} s`;
  throw new Unreachable(nameOf(c), `${last.message} (after ${c.dialErrorLimit} dial${c.dialErrorLimit === 1 ? "" : "s"}${each})`);
}

/** A TCP stream to the target, opened by the bastion (`direct-tcpip`, as `ssh -J` does), within the dial's time. */
function forward(bastion: Client, to: ProxyConnection): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer =
      to.perDialTimeout > 0
        ? setTimeout(() => {
            late = true;
            reject(new RootfsError(`ssh ${nameOf(to)}: the bastion did not reach it in ${to.perDialTimeout} s`));
          }, to.perDialTimeout * 1000)
        : undefined;
    bastion.forwardOut("127.0.0.1", 0, to.host, to.port, (err, stream) => {
      clearTimeout(timer);
      // A stream that came after the dial gave up would be left open: close it.
      if (late) return stream?.close();
      if (err) reject(new RootfsError(`ssh ${nameOf(to)}: the bastion could not reach it: ${err.message}`));
      else resolve(stream);
    });
  });
}

/** A connected, authenticated client; through `c.proxy` when set. Closing it closes the bastion too. */
export async function dial(c: Connection, knownHosts: KnownHost[]): Promise<Client> {
  if (!c.proxy) return dialWithRetries(c, knownHosts);
  const bastion = await dialWithRetries(c.proxy, knownHosts);
  let bastionClosed = false;
  bastion.once("close", () => (bastionClosed = true));
  try {
    const client = await dialWithRetries(c, knownHosts, { client: bastion, closed: () => bastionClosed });
    client.once("close", () => bastion.end());
    return client;
  } catch (e) {
    bastion.end();
    throw e;
  }
}
