#!/usr/bin/env bash
# Usage: test-guest.sh [JEST ARG...]
# Runs the guest suites (test/guest: LVM and ZFS on Debian's kernel) in one KVM guest with their blank
# disks, one per suite and store (test/guest/helpers.ts says which is whose).
set -euo pipefail
cd "$(dirname "$0")/.."
# The suites take about 20 minutes under TCG (a few with KVM); the default leaves room for a slow machine,
# not for a hang.
export GUEST_TIMEOUT=${GUEST_TIMEOUT:-3000}
exec bash scripts/guest.sh --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G --disk 4G -- \
  node node_modules/jest/bin/jest.js -c test/guest/jest.config.js --runInBand "$@"
