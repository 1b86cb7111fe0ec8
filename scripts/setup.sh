#!/usr/bin/env bash
# Setup shared by `npm test` and `npm run demo`: host tools from Debian, then the npm dependencies
# (npm ci, which also compiles through `prepare`) when they are missing or older than the lock file.
# --prefer-offline: npm's cache answers first, so a machine that installed once installs again with the
# registry down (CI has lost a landing to an outage).
# Then the pinned Node.js that the tests, the demo and the bench run on (scripts/with-node.sh), from the
# cache or the registry, and ssh2's native crypto built for it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
bash scripts/install-host-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  retry npm ci --prefer-offline --no-audit --no-fund
fi
retry bash scripts/with-node.sh true
# ssh2's crypto binding (and cpu-features) are compiled by npm ci for the Node that ran it, and the tests, the
# demo and the bench run on the pinned one, where that binding does not load and ssh2 does its ciphers in
# JavaScript (correct, and slower: the remote refresh bench missed its mark by it). So they are built again
# for the pinned Node, against its headers from the npm registry (node-gyp would fetch them from nodejs.org).
if ! bash scripts/with-node.sh node -e 'process.exit(require("ssh2/lib/protocol/crypto").bindingAvailable ? 0 : 1)'; then
  # setup-node.js runs the compiled runtime.ts: one older than --headers (a checkout updated since the last
  # build) is compiled again first, or retry would repeat a failure no wait can mend.
  bash scripts/with-node.sh node -e 'process.exit(typeof require("./dist/provider/src/adapters/remote/runtime.js").nodeHeaders === "function" ? 0 : 1)' 2>/dev/null ||
    bash scripts/with-node.sh node node_modules/typescript/bin/tsc -p tsconfig.json
  nodedir=$(retry bash scripts/with-node.sh node scripts/setup-node.js --headers)
  bash scripts/with-node.sh npm rebuild ssh2 cpu-features --nodedir="$nodedir"
  # ssh2's build says it failed and exits 0 (the binding is optional to it); to the bench it is not.
  bash scripts/with-node.sh node -e 'process.exit(require("ssh2/lib/protocol/crypto").bindingAvailable ? 0 : 1)' ||
    { echo "setup: ssh2's crypto binding did not build for the pinned Node.js (see node-gyp's output above)" >&2; exit 1; }
fi
bash scripts/setup-pulumi.sh
