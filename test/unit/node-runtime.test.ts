/**
 * The Node.js the project runs on is the pinned one (scripts/with-node.sh puts it first on PATH): this test
 * process and a child `node` both run the line PULUMI_LXC_NODE names, or the agent's. The pins are whole:
 * each line's version is of that line and has an integrity for each architecture, and engines allows the
 * oldest line pinned and no older.
 */
import { execFileSync } from "child_process";
import { promises as fs } from "fs";
import os from "os";
import path from "path";
import { REPO } from "../helpers/env";
import pins from "../../provider/src/adapters/remote/node-runtime.json";
import { AGENT_LINE, ARCHES, nodeDir, pinOf } from "../../provider/src/adapters/remote/runtime";

const line = process.env.PULUMI_LXC_NODE || AGENT_LINE;

it("this process and a child node run the pinned Node.js, from the cache", () => {
  const pin = pinOf(line, process.arch as "x64");
  expect(process.version).toBe(`v${pin.version}`);
  expect(execFileSync("node", ["--version"], { encoding: "utf8" }).trim()).toBe(`v${pin.version}`);
  expect(process.execPath).toBe(path.join(nodeDir(pin), "bin", "node"));
});

it("each line pins a version of its own line, with the sha512 integrity of both architectures' packages", () => {
  expect(Object.keys(pins.lines)).toContain(pins.agentLine);
  for (const [major, pin] of Object.entries(pins.lines)) {
    expect(pin.version).toMatch(new RegExp(`^${major}\\.\\d+\\.\\d+$`));
    expect(Object.keys(pin.integrity).sort()).toEqual([...ARCHES].sort());
    for (const integrity of Object.values(pin.integrity)) expect(integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
  }
  expect(() => pinOf("20", "x64")).toThrow("no Node.js 20 for x64 is pinned; node-runtime.json has lines 22, 24, 26 for x64, arm64");
});

it("engines allows the oldest line pinned", async () => {
  const { engines } = JSON.parse(await fs.readFile(path.join(REPO, "package.json"), "utf8"));
  expect(engines.node).toBe(`>=${Math.min(...Object.keys(pins.lines).map(Number))}`);
});

it("ssh2's native crypto loads on the agent's line, which setup.sh builds it for (other lines run ssh2's JavaScript ciphers)", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  expect(require("ssh2/lib/protocol/crypto").bindingAvailable).toBe(line === AGENT_LINE);
});

it("with-node.sh on a machine without the pinned Node fetches the agent's line, from npm's cache or the registry", async () => {
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), "with-node-"));
  try {
    const version = execFileSync("bash", [path.join(REPO, "scripts", "with-node.sh"), "node", "--version"], {
      encoding: "utf8",
      env: { ...process.env, PULUMI_LXC_CACHE: cache, PULUMI_LXC_NODE: "" },
    });
    expect(version.trim()).toBe(`v${pinOf(AGENT_LINE, process.arch as "x64").version}`);
    // nodeDir reads the cache root from the environment: this process's own, so the name is compared.
    expect(await fs.readdir(cache)).toContain(path.basename(nodeDir(pinOf(AGENT_LINE, process.arch as "x64"))));
  } finally {
    await fs.rm(cache, { recursive: true, force: true });
  }
}, 60_000);
