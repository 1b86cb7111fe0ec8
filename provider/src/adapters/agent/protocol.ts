/**
 * The agent's protocol: the core's typed requests as JSON lines over one byte stream (an SSH channel, or
 * a child's stdio). The agent speaks first, a hello with its protocol, package version and Node.js version; then each
 * request carries an id, and every line back names the id it answers: log and progress lines while it runs,
 * then one result or one error (the error's class and fields, model/errors.ts's JSON).
 */
import type { ErrorJSON } from "../../model/errors";
import type { Op } from "../../api";

export const PROTOCOL = 1;

export interface Hello {
  hello: AgentHello;
}

/** `node`: `process.version` of the Node.js the agent runs on (the one it brought, on a glibc host). */
export interface AgentHello {
  protocol: number;
  version: string;
  node: string;
}

export interface Request {
  id: number;
  op: Op;
  /** The call's requests, in order: [ref], [spec], or [ref, change]. */
  args: unknown[];
}

export type Reply =
  | { id: number; log: string }
  | { id: number; progress: string }
  | { id: number; result: unknown }
  | { id: number | null; error: ErrorJSON };
