/**
 * The agent's protocol: the core's typed requests as JSON lines over one byte stream (an SSH channel, or
 * a child's stdio). The agent speaks first, a hello with its protocol and package version; then each
 * request carries an id, and every line back names the id it answers: log lines while it runs, then one
 * result or one error (the error's class and fields, model/errors.ts's JSON).
 */
import type { ErrorJSON } from "../../model/errors";

export const PROTOCOL = 1;

/** The calls of RootfsCore, and how many requests each takes. */
export const ARITY = {
  inspect: 1,
  create: 1,
  planUpdate: 2,
  update: 2,
  destroy: 1,
  inspectSnapshot: 1,
  planSnapshot: 1,
  createSnapshot: 1,
  destroySnapshot: 1,
  identify: 1,
} as const;
export type Op = keyof typeof ARITY;
export const OPS = Object.keys(ARITY) as Op[];

export interface Hello {
  hello: { protocol: number; version: string };
}

export interface Request {
  id: number;
  op: Op;
  /** The call's requests, in order: [ref], [spec], or [ref, change]. */
  args: unknown[];
}

export type Reply = { id: number; log: string } | { id: number; result: unknown } | { id: number | null; error: ErrorJSON };
