#!/usr/bin/env bash
# Usage: setup-test-background.sh start|wait
# scripts/setup-test.sh (PyPI and the Go module proxy) as a background job of `npm test`, so that a
# registry outage costs the run only the tests that need what it fetches, which run last:
# - start (in pretest, after `npm run setup`): launches setup-test.sh with its output in
#   .tools/setup-test/log and returns at once; guest setup, the build and the host and guest tests go on.
#   Its retries have their own deadline, FETCH_RETRY_DEADLINE (epoch seconds; .ci/run sets it), else
#   FETCH_RETRY_BUDGET seconds from now (70 minutes by default): nothing waits for it until the end.
#   A job still running from an earlier start is left to finish and waited for, not doubled.
# - wait (before the fetched tests): polls every 5 s until setup-test.sh has written
#   .tools/setup-test/status; exits 0 if it succeeded, else 1 with the end of its log. It also fails when
#   the job is gone without a status (killed) or was never started.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.tools/setup-test

say() { echo "setup-test-background: $*" >&2; }

# The job recorded in $STATE/pid, if it is still running (and is still setup-test.sh, not a reused pid).
running_pid() {
  local pid
  pid=$(cat "$STATE/pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && grep -qs setup-test.sh "/proc/$pid/cmdline" && echo "$pid"
}

start() {
  local pid
  mkdir -p "$STATE"
  if pid=$(running_pid); then
    say "setup-test.sh is still running from an earlier start (pid $pid, log $STATE/log); npm test waits for it"
    return
  fi
  rm -f "$STATE/status"
  # stdin and stdout/stderr away from npm's pipes: npm waits for those to close, and would wait for the job.
  RETRY_DEADLINE=${FETCH_RETRY_DEADLINE:-$(($(date +%s) + ${FETCH_RETRY_BUDGET:-4200}))} \
    bash scripts/setup-test.sh </dev/null >"$STATE/log" 2>&1 &
  echo $! >"$STATE/pid"
  say "setup-test.sh runs in the background (pid $!, log $STATE/log); the fetched tests wait for it"
}

wait_for_it() {
  local began pid note rc
  began=$(date +%s)
  note=$began
  while [ ! -f "$STATE/status" ]; do
    if ! pid=$(running_pid); then
      # The status is written before the job exits: look again, it may have ended between the two checks.
      [ -f "$STATE/status" ] && break
      say "setup-test.sh is not running and left no status in $STATE: run bash scripts/setup-test.sh"
      if [ -s "$STATE/log" ]; then tail -n 40 "$STATE/log" >&2; fi
      exit 1
    fi
    if [ "$(date +%s)" -ge "$note" ]; then
      say "waiting for setup-test.sh (pid $pid, $((($(date +%s) - began) / 60)) min so far): $(tail -n 1 "$STATE/log" 2>/dev/null)"
      note=$(($(date +%s) + 60))
    fi
    sleep 5
  done
  rc=$(cat "$STATE/status")
  if [ "$rc" != 0 ]; then
    say "setup-test.sh failed (exit $rc); the end of $STATE/log:"
    tail -n 40 "$STATE/log" >&2 || true
    exit 1
  fi
  say "setup-test.sh succeeded (waited $(($(date +%s) - began)) s)"
}

case "${1:-}" in
  start) start ;;
  wait) wait_for_it ;;
  *)
    echo "usage: $0 start|wait" >&2
    exit 2
    ;;
esac
