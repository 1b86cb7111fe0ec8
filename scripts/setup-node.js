#!/usr/bin/env node
/**
 * Usage: setup-node.js [LINE[:ARCH]...]  (default: the agent's line for this machine's architecture)
 * Puts the pinned Node.js binaries (provider/src/adapters/remote/node-runtime.json) in the cache, where
 * scripts/with-node.sh and the agent's upload find them. Fetched through the agent's own code (runtime.ts):
 * npm's cache or the registry, by integrity, checked again. Prints each binary's path.
 */
"use strict";
const path = require("path");
const runtime = require(path.join(__dirname, "..", "dist", "provider", "src", "adapters", "remote", "runtime.js"));

async function main() {
  const wanted = process.argv.slice(2);
  for (const spec of wanted.length ? wanted : [runtime.AGENT_LINE]) {
    const [line, arch = process.arch] = spec.split(":");
    const binary = await runtime.nodeBinary(line, arch);
    console.log(binary.path);
  }
}
main().catch((e) => {
  console.error(`setup-node: ${e.message}`);
  process.exit(1);
});
