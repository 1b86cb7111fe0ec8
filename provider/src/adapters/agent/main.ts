/**
 * The agent: the storage core on an LXC host, serving one client's typed requests over stdin and stdout
 * (an SSH channel; see protocol.ts). It is the project's own core, not a second implementation.
 *
 * When its input ends (the client hung up: Ctrl-C, a lost network), it finishes what is in flight before
 * it exits, so an operation is never cut between its journal's steps by the agent itself; the journal and
 * the container lock make a re-run converge either way. Its stdout going away (EPIPE) changes nothing of
 * that: the replies are lost, the operations are not.
 */
import { localCore, OPERATIONS, OPS } from "../../api";
import { errorToJSON, InvalidInput } from "../../model/errors";
import { PACKAGE_VERSION } from "../../model/schema";
import { readLines } from "./lines";
import { Hello, PROTOCOL, Reply, Request } from "./protocol";

let outputOpen = true;
process.stdout.on("error", () => {
  outputOpen = false;
});
// A hangup must not kill the agent mid-operation: it ends when its work is done.
process.on("SIGHUP", () => undefined);
process.on("SIGPIPE", () => undefined);

function send(message: Reply | Hello): void {
  if (outputOpen) process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** A request line, checked: its id, one of the core's operations, and its arguments as an array. */
function parse(line: string): Request | { id: number | null; refused: InvalidInput } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, refused: new InvalidInput("request", line.slice(0, 200), "one JSON object per line") };
  }
  const r = value as Partial<Request> | null;
  if (typeof r !== "object" || r === null || !Number.isSafeInteger(r.id)) {
    return { id: null, refused: new InvalidInput("request", value, "an object with a whole-number id") };
  }
  const id = r.id as number;
  if (!OPS.includes(r.op as never)) return { id, refused: new InvalidInput("op", r.op, `one of ${OPS.join(", ")}`) };
  if (!Array.isArray(r.args)) return { id, refused: new InvalidInput("args", r.args, "an array of the call's requests") };
  return r as Request;
}

async function serve(request: Request): Promise<void> {
  const { id, op, args } = request;
  const opts = { log: (line: string) => send({ id, log: line }), progress: (line: string) => send({ id, progress: line }) };
  try {
    const call = localCore[op] as (...a: unknown[]) => Promise<unknown>;
    const result = await call(...args.slice(0, OPERATIONS[op].requests), opts);
    send({ id, result: result ?? null });
  } catch (e) {
    send({ id, error: errorToJSON(e) });
  }
}

const inFlight = new Set<Promise<void>>();
send({ hello: { protocol: PROTOCOL, version: PACKAGE_VERSION, node: process.version } });
readLines(
  process.stdin,
  (line) => {
    const request = parse(line);
    if ("refused" in request) return send({ id: request.id, error: errorToJSON(request.refused) });
    const done = serve(request).finally(() => inFlight.delete(done));
    inFlight.add(done);
  },
  () => {
    void Promise.allSettled([...inFlight]).then(() => (outputOpen ? process.stdout.write("", () => process.exit(0)) : process.exit(0)));
  },
);
process.stdin.on("error", () => undefined);
