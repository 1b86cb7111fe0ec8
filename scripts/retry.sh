#!/usr/bin/env bash
# Sourced by the setup scripts. `retry CMD ARGS...` runs a command that reaches a registry (apt, npm, PyPI,
# the Go module proxy) until it succeeds or the shared deadline passes: CI machines have seen name lookups
# fail for tens of minutes (EAI_AGAIN), and a run that gives up at the first failure loses the whole run.
# The deadline, RETRY_DEADLINE (epoch seconds), is set once by the first script that sources this file,
# RETRY_BUDGET seconds (default 35 min) ahead, so that the tests still fit in CI's 90 minutes. The fetches
# for the tests that run last (scripts/setup-test.sh, in the background) get a later one instead:
# scripts/setup-test-background.sh passes them FETCH_RETRY_DEADLINE as their RETRY_DEADLINE.
: "${RETRY_DEADLINE:=$(( $(date +%s) + ${RETRY_BUDGET:-2100} ))}"
export RETRY_DEADLINE

retry() {
  local attempt=1 delay=15 rc
  while true; do
    "$@" && return 0
    rc=$?
    if [ "$(( $(date +%s) + delay ))" -ge "$RETRY_DEADLINE" ]; then
      echo "retry: '$*' failed $attempt times (exit $rc); giving up at the deadline, $(date -d "@$RETRY_DEADLINE" +%T)" >&2
      return "$rc"
    fi
    echo "retry: '$*' failed (exit $rc); attempt $((attempt + 1)) in ${delay}s" >&2
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$(( delay * 2 > 240 ? 240 : delay * 2 ))
  done
}
