#!/usr/bin/env bash
# Setup shared by `npm test` and `npm run demo`: host tools from Debian, then the npm dependencies
# (npm ci, which also compiles through `prepare`) when they are missing or older than the lock file.
# --prefer-offline: npm's cache answers first, so a machine that installed once installs again with the
# registry down (CI has lost a landing to an outage).
# Then the pinned Node.js that the tests, the demo and the bench run on (scripts/with-node.sh), from the
# cache or the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
bash scripts/install-host-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  retry npm ci --prefer-offline --no-audit --no-fund
fi
retry bash scripts/with-node.sh true
bash scripts/setup-pulumi.sh
