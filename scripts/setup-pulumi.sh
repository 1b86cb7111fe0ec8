#!/usr/bin/env bash
# Makes the Pulumi CLI available in .tools/bin, for the tests and the demo:
# - a `pulumi` already on PATH is used as it is;
# - otherwise the pinned release is built from Go modules (scripts/pulumi-toolchain) once per machine and
#   cached in ~/.cache/pulumi-lxc, so later runs take seconds.
# The dynamic-provider shim pulumi-resource-pulumi-nodejs ships in @pulumi/pulumi; the engine looks for it
# beside the pulumi executable (it warns when it has to take it from PATH), so that is where it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
source scripts/pulumi-version.sh
VERSION=v$PULUMI_VERSION
# Pulumi YAML's language host, built from its own module (its go.mod pins the pkg/v3 it compiles against).
YAML_VERSION=v1.25.0
BIN="$PWD/.tools/bin"
CACHE="${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}/pulumi-$VERSION"
mkdir -p "$BIN"

SHIM="$PWD/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
existing=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$BIN" | paste -sd: -) command -v pulumi || true)
if [ -n "$existing" ]; then
  ln -sfn "$existing" "$BIN/pulumi"
  # A CLI installed from Pulumi's distribution carries its own shim; one built elsewhere may not.
  [ -e "$(dirname "$(readlink -f "$existing")")/pulumi-resource-pulumi-nodejs" ] || ln -sfn "$SHIM" "$BIN/pulumi-resource-pulumi-nodejs"
elif [ -x "$CACHE/pulumi" ]; then
  ln -sfn "$CACHE/pulumi" "$BIN/pulumi"
else
  command -v go >/dev/null || { echo "setup-pulumi: Go is needed to build the Pulumi CLI" >&2; exit 1; }
  echo "setup-pulumi: building the Pulumi CLI $VERSION from Go modules (once per machine, several minutes)" >&2
  mkdir -p "$CACHE"
  (cd scripts/pulumi-toolchain && GOFLAGS=-mod=mod retry go build -trimpath -o "$CACHE/pulumi.tmp" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$CACHE/pulumi.tmp" "$CACHE/pulumi"
  ln -sfn "$CACHE/pulumi" "$BIN/pulumi"
fi
if [ -z "$existing" ]; then
  rm -f "$BIN/pulumi-resource-pulumi-nodejs"
  install -m 0755 "$SHIM" "$CACHE/pulumi-resource-pulumi-nodejs"
  # Pulumi's Node language host cannot be built here (the module proxy refuses it): ours takes its place.
  install -m 0755 scripts/pulumi-language-nodejs "$CACHE/pulumi-language-nodejs"
  # Pulumi YAML's host is served: the real one, github.com/pulumi/pulumi-yaml, built once per machine.
  YAML_HOST="$CACHE/pulumi-language-yaml-$YAML_VERSION"
  if [ ! -x "$YAML_HOST" ]; then
    echo "setup-pulumi: building pulumi-language-yaml $YAML_VERSION from Go modules (once per machine)" >&2
    rm -rf "$CACHE/yaml-build"
    GOBIN="$CACHE/yaml-build" retry go install -trimpath \
      -ldflags "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=${YAML_VERSION#v}" \
      "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_VERSION"
    mv "$CACHE/yaml-build/pulumi-language-yaml" "$YAML_HOST"
    rm -rf "$CACHE/yaml-build"
  fi
  ln -sfn "$YAML_HOST" "$CACHE/pulumi-language-yaml"
fi
"$BIN/pulumi" version >&2
