#!/usr/bin/env bash
# Usage: test.sh (npm test, after pretest's setup and build; on the pinned Node.js, scripts/with-node.sh)
# Every test. The guest suites (scripts/test-guest.sh: LVM and ZFS in a KVM guest) start first, in the
# background, and the host's run beside them, one after the other: jest's unit and system projects, the
# other Node.js lines (scripts/test-node-lines.sh), then the fetched tests (npm run test:fetched), which wait
# for scripts/setup-test.sh. The guest shares nothing with the host's tests but the CPU (its kernel, disks,
# loop devices, mounts and processes are its own), and under TCG it keeps a little over one of two cores
# busy for half an hour or more: side by side, the run takes about as long as the longer of the two, not
# their sum, which is what kept CI's run within its hour.
# The guest's output goes to a log, printed whole when it ends, or when the run is stopped. Every part runs
# even when one fails; the exit status is 1 when any failed, and the last lines name which.
set -uo pipefail
cd "$(dirname "$0")/.."
guest_log=$(mktemp "${TMPDIR:-/tmp}/pulumi-lxc-test-guest.XXXXXX.log")
bash scripts/test-guest.sh </dev/null >"$guest_log" 2>&1 &
guest=$!
# A run that ends early (stopped, or a failure of this script's own) shows what the guest did so far, then
# stops it (test-guest.sh's guest.sh then stops qemu).
stop_guest() {
  echo "=== the guest suites (scripts/test-guest.sh) so far, from $guest_log: stopped ==="
  cat "$guest_log"
  kill "$guest" 2>/dev/null
}
trap stop_guest EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "test: the guest suites run in the background, their output in $guest_log (printed when they end)" >&2

failed=()
node node_modules/jest/bin/jest.js --runInBand --selectProjects unit system || failed+=("the host's suites (jest --selectProjects unit system)")
bash scripts/test-node-lines.sh || failed+=("the other Node.js lines (npm run test:node-lines)")
npm run -s test:fetched || failed+=("the fetched tests (npm run test:fetched)")

echo "test: waiting for the guest suites" >&2
wait "$guest" || failed+=("the guest suites (npm run test:guest)")
trap - EXIT
echo "=== the guest suites (scripts/test-guest.sh), from $guest_log ==="
cat "$guest_log"
rm -f "$guest_log"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'test: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "test: every part passed" >&2
