#!/usr/bin/env bash
# Usage: test-guest.sh [JEST ARG...]
# Runs the guest suites (test/guest: LVM and ZFS on Debian's kernel) in one KVM guest with their blank
# disks, one per suite and store (test/guest/helpers.ts says which is whose).
set -euo pipefail
cd "$(dirname "$0")/.."
# The suites take 13 to 15 minutes under TCG (a few with KVM), counted from the command's start, and once
# ran past 30 on a machine twice as slow as usual (its host tests took 26 minutes, not 17): three times
# that leaves room for such a machine, not for a hang. A boot that stalls is retried apart (guest.sh's
# GUEST_BOOT_TIMEOUT and GUEST_BOOT_TRIES: at most 3 × 180 s more), so the worst case still fits in CI's
# 90 minutes after the host's tests.
export GUEST_TIMEOUT=${GUEST_TIMEOUT:-2700}
# The suites' TypeScript transpiled here first, into the cache the guest's jest reads: under TCG a cold cache
# (every fresh clone's) cost about six minutes before the first test.
node scripts/warm-guest-cache.js
exec bash scripts/guest.sh --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G -- \
  node node_modules/jest/bin/jest.js -c test/guest/jest.config.js --runInBand "$@"
