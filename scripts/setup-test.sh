#!/usr/bin/env bash
# What the "fetched" tests (jest.config.js) need beyond `npm run setup`, all fetched here, under retry, so
# that no test reaches a registry: the Python virtualenv of examples/python (from PyPI, through a wheel
# cache: scripts/setup-python.sh), and the Go modules of the SDK generator, of sdk/ (the Go SDK) and of
# examples/go, test packages included.
# `npm test` runs it in the background (scripts/setup-test-background.sh start) while the host and guest
# tests run, and waits for it only before the fetched tests, the host's last: an outage of PyPI or the Go
# proxy overlaps half an hour of other tests instead of holding them up. Run by hand, it is the same job in
# the foreground. Either way its exit status ends up in .tools/setup-test/status, written when it ends (by
# rename: a reader never sees half of it), for the wait and for the fetched tests' global setup.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
STATE=.tools/setup-test
mkdir -p "$STATE"

python=
scratch=
finish() {
  local rc=$?
  # After a failure on the Go side, Python's fetch still ends first: nothing of this run outlives its status.
  if [ -n "$python" ]; then wait "$python" 2>/dev/null || true; fi
  if [ -n "$scratch" ]; then rm -rf "$scratch"; fi
  echo "$rc" >"$STATE/status.tmp"
  mv "$STATE/status.tmp" "$STATE/status"
}
trap finish EXIT
# Killed: the Python side is stopped too (finish would wait out its retries), and the status says killed
# (left alone, bash would run finish with $? = 0, and a killed run would read as a success).
killed() {
  if [ -n "$python" ]; then kill "$python" 2>/dev/null || true; fi
  exit "$1"
}
trap 'killed 129' HUP
trap 'killed 130' INT
trap 'killed 143' TERM

# One run at a time (one by hand while npm test's runs in the background): two would rebuild one virtualenv.
# The children inherit the lock, so one left running by a killed run (a pip) still holds it.
exec 8>"$STATE/lock"
flock 8
rm -f "$STATE/status"
scratch=$(mktemp -d)

# PyPI and the Go proxy side by side: while one is down, the other's fetches (and the SDK generator's build,
# minutes on a fresh machine) go ahead, so only the one that was down is left when it comes back.
bash scripts/setup-python.sh &
python=$!
# A generation into a scratch directory builds gensdk and fetches what gen-sdk's `go mod tidy` reads.
OUT="$scratch" bash scripts/gen-sdk.sh
retry go -C sdk list -deps ./... >/dev/null
retry go -C examples/go list -deps -test -tags engine ./... >/dev/null
wait "$python"
