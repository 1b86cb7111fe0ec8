#!/usr/bin/env bash
# Usage: test-node-lines.sh [LINE...]  (default: every pinned line but the agent's)
# A user's Pulumi program runs on whatever Node.js they have: the unit tests and the dynamic provider's
# engine test (test/pulumi/rootfs-engine.test.ts) run again on each other supported line, from the same
# npm packages as the one the rest of the tests run on (scripts/with-node.sh; PULUMI_LXC_NODE picks it).
set -euo pipefail
cd "$(dirname "$0")/.."
pins=provider/src/adapters/remote/node-runtime.json
lines=("$@")
if [ ${#lines[@]} -eq 0 ]; then
  mapfile -t lines < <(node -e 'const p = require(process.argv[1]); for (const l of Object.keys(p.lines)) if (l !== p.agentLine) console.log(l)' "$PWD/$pins")
fi
for line in "${lines[@]}"; do
  echo "test-node-lines: Node.js $line" >&2
  # The patterns go before --selectProjects, whose arguments are project names.
  PULUMI_LXC_NODE=$line bash scripts/with-node.sh jest --runInBand test/unit/ test/pulumi/rootfs-engine.test.ts --selectProjects unit system
done
