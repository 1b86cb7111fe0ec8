#!/usr/bin/env bash
# Usage: test-guest.sh [JEST ARG...]
# Runs the guest suites (test/guest: LVM and ZFS on Debian's kernel) in one KVM guest with their blank
# disks, one per suite and store (test/guest/helpers.ts says which is whose).
set -euo pipefail
cd "$(dirname "$0")/.."
# Under TCG the suites take 38 to 47 minutes (a few with KVM), counted from the command's start, beside the
# host's tests (scripts/test.sh runs both at once). 75 minutes leave room for a machine 1.6 times as slow,
# not for a hang, and end within CI's 90 with the console's tail printed (a boot that stalls is retried
# apart: guest.sh's GUEST_BOOT_TIMEOUT and GUEST_BOOT_TRIES, at most 3 × 180 s more).
export GUEST_TIMEOUT=${GUEST_TIMEOUT:-4500}
# The suites' TypeScript transpiled here first, into the cache the guest's jest reads: under TCG a cold cache
# (every fresh clone's) cost about six minutes before the first test.
node scripts/warm-guest-cache.js
# V8's compile cache for the Node processes the suites start (the helper of every step that mounts): under
# TCG each compile of its bundle costs seconds. The guest writes its entries to its own overlay.
export NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE:-${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}/node-compile-cache}
exec bash scripts/guest.sh --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G -- \
  node node_modules/jest/bin/jest.js -c test/guest/jest.config.js --runInBand "$@"
