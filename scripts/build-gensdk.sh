#!/usr/bin/env bash
# Builds scripts/pulumi-toolchain/gensdk (Pulumi's SDK generators, at the CLI's pinned version) once per
# machine into the same cache as the CLI, keyed by its source and go.sum. Prints the binary's path, and
# nothing else (scripts/gen-sdk.sh runs what it prints): the path goes to fd 3, kept aside, and everything
# the build runs writes its stdout to stderr.
set -euo pipefail
exec 3>&1 1>&2
cd "$(dirname "$0")/.."
source scripts/retry.sh
TOOLCHAIN=scripts/pulumi-toolchain
KEY=$(cat "$TOOLCHAIN/gensdk/main.go" "$TOOLCHAIN/go.mod" "$TOOLCHAIN/go.sum" | sha256sum | cut -c1-16)
OUT="${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}/gensdk-$KEY"
if [ ! -x "$OUT" ]; then
  mkdir -p "$(dirname "$OUT")"
  echo "build-gensdk: building the SDK generator from Go modules (once per machine)"
  (cd "$TOOLCHAIN" && GOFLAGS=-mod=mod retry go build -trimpath -o "$OUT.tmp" ./gensdk) 3>&-
  mv "$OUT.tmp" "$OUT"
fi
echo "$OUT" >&3
