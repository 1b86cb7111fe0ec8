/**
 * The core of another host: RootfsCore over an agent's byte stream (adapters/agent/protocol.ts). Requests
 * are told apart by id, so one agent serves every Rootfs of its host at once; log and progress lines reach
 * the caller's `log` and `progress` as local operations' do; errors come back as their own class.
 */
import type { Readable, Writable } from "stream";
import { ErrorJSON, errorFromJSON, RootfsError } from "../../model/errors";
import { coreOf, type Op, type OperationOptions, type RootfsCore } from "../../api";
import { readLines } from "../agent/lines";
import { PROTOCOL, type AgentHello } from "../agent/protocol";

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  log?: (line: string) => void;
  progress?: (line: string) => void;
}

export interface AgentCore extends RootfsCore {
  /** The agent's hello: its package version and the Node.js it runs on. */
  readonly hello: Promise<AgentHello>;
  /** Settles with the failure that ended the agent (its channel closed, a line it could not read). */
  readonly ended: Promise<Error>;
  /** Ends the agent's input: it finishes what is in flight, then exits. */
  close(): void;
}

/** What the agent's stderr last said, kept for errors: why it could not start or why it died. */
function stderrTail(stderr?: Readable): () => string {
  let tail = "";
  stderr?.on("data", (d: Buffer | string) => (tail = (tail + d.toString()).slice(-2000)));
  return () => (tail.trim() ? `: ${tail.trim()}` : "");
}

/**
 * A RootfsCore served by the agent at the other end of `stdin`/`stdout`; `where` names it in errors, which
 * end with what the agent wrote to `stderr`, if anything.
 */
export function agentCore(channel: { stdin: Writable; stdout: Readable; stderr?: Readable }, where: string): AgentCore {
  const pending = new Map<number, Pending>();
  const said = stderrTail(channel.stderr);
  let nextId = 1;
  let failure: Error | null = null;
  let greeted: (hello: AgentHello) => void = () => undefined;
  let refused: (e: Error) => void = () => undefined;
  const hello = new Promise<AgentHello>((resolve, reject) => {
    greeted = resolve;
    refused = reject;
  });
  // Nobody may be waiting on the hello yet; its failure reaches every call.
  hello.catch(() => undefined);
  let end: (e: Error) => void = () => undefined;
  const ended = new Promise<Error>((resolve) => (end = resolve));

  function fail(e: Error): void {
    if (failure) return;
    failure = e;
    end(e);
    refused(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  }

  function receive(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line);
    } catch {
      return fail(new RootfsError(`${where}: the agent sent a line that is not JSON: ${line.slice(0, 200)}`));
    }
    if (typeof message !== "object" || message === null) return fail(new RootfsError(`${where}: the agent sent ${line.slice(0, 200)}`));
    if ("hello" in message) {
      const said = message.hello as Partial<Record<keyof AgentHello, unknown>> | null;
      if (said?.protocol !== PROTOCOL)
        return fail(new RootfsError(`${where}: the agent speaks protocol ${String(said?.protocol)}, this provider ${PROTOCOL}`));
      return greeted({ protocol: PROTOCOL, version: String(said.version), node: String(said.node) });
    }
    const p = typeof message.id === "number" ? pending.get(message.id) : undefined;
    if ("error" in message && message.id === null) return fail(errorFromJSON(message.error as ErrorJSON));
    if (!p) return;
    if ("log" in message) return p.log?.(String(message.log));
    if ("progress" in message) return p.progress?.(String(message.progress));
    pending.delete(message.id as number);
    if ("result" in message) p.resolve(message.result);
    else if ("error" in message && typeof message.error === "object" && message.error !== null)
      p.reject(errorFromJSON(message.error as ErrorJSON));
    else p.reject(new RootfsError(`${where}: the agent answered ${line.slice(0, 200)}`));
  }

  // On end, the stderr of the agent has had its turn: a channel's streams end together.
  readLines(channel.stdout, receive, () => setImmediate(() => fail(new RootfsError(`${where}: the agent's channel closed${said()}`))));
  channel.stdout.on("error", (e: Error) => fail(new RootfsError(`${where}: the agent's channel failed: ${e.message}`)));
  channel.stdin.on("error", (e: Error) => fail(new RootfsError(`${where}: the agent's channel failed: ${e.message}`)));

  async function call<T>(op: Op, args: unknown[], opts: OperationOptions = {}): Promise<T> {
    await hello;
    if (failure) throw failure;
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, log: opts.log, progress: opts.progress });
      channel.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  return {
    ...coreOf((op, requests, opts) => call(op, requests, opts)),
    hello,
    ended,
    close: () => channel.stdin.end(),
  };
}
