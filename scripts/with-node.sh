#!/usr/bin/env bash
# Usage: with-node.sh CMD [ARG...]
# Runs CMD with the pinned Node.js first on PATH: the line of provider/src/adapters/remote/node-runtime.json
# that the agent brings (24), or the one PULUMI_LXC_NODE names (22, 24 or 26). npm's scripts for the tests,
# the build, the demo and the bench run through it, so they run on the Node the agent runs on hosts, not on
# whatever Node started npm. The binary comes from the cache (`scripts/setup-node.js` fills it, from npm's
# cache or the registry); it is fetched here when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
# The cache's layout is node-runtime.json's cacheDir under runtime.ts's cacheRoot(); any Node reads it.
dir=$(node -e '
  const [pins, line] = [require(process.argv[1]), process.argv[2] || require(process.argv[1]).agentLine];
  const pin = pins.lines[line];
  if (!pin) { console.error(`with-node: PULUMI_LXC_NODE=${line}: the lines pinned are ${Object.keys(pins.lines).join(", ")}`); process.exit(2); }
  const root = process.env.PULUMI_LXC_CACHE || require("path").join(require("os").homedir(), ".cache", "pulumi-lxc");
  console.log(require("path").join(root, pins.cacheDir.replace("{version}", pin.version).replace("{arch}", process.arch)));
' "$root/provider/src/adapters/remote/node-runtime.json" "${PULUMI_LXC_NODE:-}")
if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/node.json" ]; then
  [ -f "$root/dist/provider/src/adapters/remote/runtime.js" ] || (cd "$root" && node node_modules/typescript/bin/tsc -p tsconfig.json)
  node "$root/scripts/setup-node.js" ${PULUMI_LXC_NODE:+"$PULUMI_LXC_NODE"} >/dev/null
fi
export PATH="$dir/bin:$PATH"
exec "$@"
