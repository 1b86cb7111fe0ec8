/**
 * The core's operations are one table (api/index.ts OPERATIONS): the local core, the deferred core and the
 * remote client are built from it, and the agent dispatches by it, so an operation missing there is
 * missing everywhere and a new one is one row.
 */
import { readFileSync } from "fs";
import path from "path";
import { PassThrough } from "stream";
import { deferredCore, localCore, OPERATIONS, OPS } from "../../provider/src/api";
import { agentCore } from "../../provider/src/adapters/remote/core";
import { PROTOCOL } from "../../provider/src/adapters/agent/protocol";
import { handlersOf, RESOURCES } from "../../provider/src/adapters/pulumi/resources";

const names = (o: object, besides: string[] = []) =>
  Object.keys(o)
    .filter((k) => !besides.includes(k))
    .sort();

it("the local core, the deferred core and the remote client have exactly the table's operations", () => {
  const table = [...OPS].sort();
  expect(names(localCore)).toEqual(table);
  expect(names(deferredCore(() => localCore))).toEqual(table);
  const remote = agentCore({ stdin: new PassThrough(), stdout: new PassThrough() }, "test");
  expect(names(remote, ["hello", "ended", "close"])).toEqual(table);
  remote.close();
});

it("the remote client sends each operation with as many requests as the table says, and the options stay here", async () => {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const sent: Array<{ id: number; op: string; args: unknown[] }> = [];
  stdin.on("data", (d: Buffer) => {
    for (const line of d.toString().split("\n").filter(Boolean)) {
      const request = JSON.parse(line);
      sent.push(request);
      stdout.write(`${JSON.stringify({ id: request.id, log: `doing ${request.op}` })}\n`);
      stdout.write(`${JSON.stringify({ id: request.id, result: request.op })}\n`);
    }
  });
  const remote = agentCore({ stdin, stdout }, "test");
  stdout.write(`${JSON.stringify({ hello: { protocol: PROTOCOL, version: "0" } })}\n`);
  for (const op of OPS) {
    const logged: string[] = [];
    const requests = Array.from({ length: OPERATIONS[op].requests }, (_, i) => ({ request: i }));
    const call = remote[op] as (...a: unknown[]) => Promise<unknown>;
    expect(await call(...requests, { log: (l: string) => logged.push(l) })).toBe(op);
    expect(sent[sent.length - 1]).toMatchObject({ op, args: requests });
    expect(logged).toEqual([`doing ${op}`]);
  }
  remote.close();
});

it("the deferred core finds its core at each call and passes every argument through", async () => {
  const seen: unknown[][] = [];
  const fake = Object.fromEntries(OPS.map((op) => [op, async (...args: unknown[]) => (seen.push([op, ...args]), op)]));
  let asked = 0;
  const core = deferredCore(() => (asked++, fake as unknown as typeof localCore));
  expect(asked).toBe(0);
  const opts = { log: () => undefined };
  for (const op of OPS) {
    const requests = Array.from({ length: OPERATIONS[op].requests }, (_, i) => i);
    expect(await (core[op] as (...a: unknown[]) => Promise<unknown>)(...requests, opts)).toBe(op);
    expect(seen[seen.length - 1]).toEqual([op, ...requests, opts]);
  }
  expect(asked).toBe(OPS.length);
});

describe("the resources are one table", () => {
  it("both Pulumi adapters serve exactly schema.json's resources, from RESOURCES, with no branch on the type", () => {
    const schema = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "schema.json"), "utf8"));
    expect(Object.keys(RESOURCES).sort()).toEqual(Object.keys(schema.resources).sort());
    for (const adapter of ["plugin/provider.ts", "dynamic/impl.ts"]) {
      const source = readFileSync(path.join(__dirname, "..", "..", "provider", "src", "adapters", adapter), "utf8");
      expect(source).toContain("handlersOf(");
      expect(source).not.toMatch(/isSnapshot\(|SNAPSHOT_TYPE|=== "lxc:index/);
    }
  });

  it("a type outside the table is refused, naming the ones served", () => {
    expect(() => handlersOf("lxc:index:Volume")).toThrow(
      /unknown resource type lxc:index:Volume: this provider serves lxc:index:Rootfs and lxc:index:RootfsSnapshot/,
    );
  });
});
