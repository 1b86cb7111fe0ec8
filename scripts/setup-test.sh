#!/usr/bin/env bash
# What `npm test` needs beyond `npm run setup`, all fetched here, under retry, so that no test reaches a
# registry and a network outage during the run cannot fail it: the Python virtualenv of examples/python,
# and the Go modules of the SDK generator, of sdk/ (the Go SDK) and of examples/go, test packages included.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
bash scripts/setup-python.sh
# A generation into a scratch directory builds gensdk and fetches what gen-sdk's `go mod tidy` reads.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
OUT="$scratch" bash scripts/gen-sdk.sh
retry go -C sdk list -deps ./... >/dev/null
retry go -C examples/go list -deps -test -tags engine ./... >/dev/null
