#!/usr/bin/env node
/**
 * Usage: setup-node.js [--headers] [LINE[:ARCH]...]  (default: the agent's line for this machine's architecture)
 * Puts the pinned Node.js binaries (provider/src/adapters/remote/node-runtime.json) in the cache, where
 * scripts/with-node.sh and the agent's upload find them; with --headers, their C headers too, for node-gyp. Fetched through the agent's own code (runtime.ts):
 * npm's cache or the registry, by integrity. Prints each binary's path, or with --headers each Node's
 * directory (node-gyp's --nodedir).
 */
"use strict";
const path = require("path");
const runtime = require(path.join(__dirname, "..", "dist", "provider", "src", "adapters", "remote", "runtime.js"));

async function main() {
  const headers = process.argv[2] === "--headers";
  const wanted = process.argv.slice(headers ? 3 : 2);
  for (const spec of wanted.length ? wanted : [runtime.AGENT_LINE]) {
    const [line, arch = process.arch] = spec.split(":");
    console.log(headers ? await runtime.nodeHeaders(line, arch) : (await runtime.nodeBinary(line, arch)).path);
  }
}
main().catch((e) => {
  console.error(`setup-node: ${e.message}`);
  process.exit(1);
});
