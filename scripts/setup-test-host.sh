#!/usr/bin/env bash
# What the tests need beyond `npm run setup`, fetched before any test starts and under retry, so that a
# registry outage is waited out here rather than failing a test midway (`pretest` runs it):
# - qemu-user-static and Debian's arm64 sysroot (install-host-deps.sh --tests), for the arm64 agent;
# - the other pinned Node.js lines, 22 and 26 (npm run test:node-lines), and the arm64 binary of the
#   agent's line (test/remote/arm64.test.ts), into ~/.cache/pulumi-lxc.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
bash scripts/install-host-deps.sh --tests
others=$(node -p 'const p = require("./provider/src/adapters/remote/node-runtime.json"); [...Object.keys(p.lines).filter((l) => l !== p.agentLine), `${p.agentLine}:arm64`].join(" ")')
# shellcheck disable=SC2086 # one argument per line and architecture
retry bash scripts/with-node.sh node scripts/setup-node.js $others >/dev/null
