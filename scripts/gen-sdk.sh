#!/usr/bin/env bash
# npm run gen-sdk: regenerates sdk/nodejs, sdk/python and sdk/go from schema.json with Pulumi's own
# generators (scripts/pulumi-toolchain/gensdk). Deterministic: the same schema gives the same bytes, which
# test/pulumi/sdk.test.ts checks against the committed SDKs. OUT=<dir> writes elsewhere (the test does).
# Into sdk/, it also regenerates the types the core takes from schema.json (npm run gen-types).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
source scripts/pulumi-version.sh
GENSDK=$(bash scripts/build-gensdk.sh)
OUT="${OUT:-sdk}"
# The pulumi Go SDK the generated Go package builds against: the CLI's own version.
PULUMI_GO_SDK=v$PULUMI_VERSION
mkdir -p "$OUT"
"$GENSDK" schema.json "$OUT" nodejs python go
# The Go SDK is one module at sdk/, as Pulumi's providers lay it out: import
# github.com/pulumi-lxc/pulumi-lxc/sdk/go/lxc (schema.json's language.go.importBasePath).
rm -f "$OUT/go.mod" "$OUT/go.sum"
cat > "$OUT/go.mod" <<GOMOD
module github.com/pulumi-lxc/pulumi-lxc/sdk

go 1.25

require github.com/pulumi/pulumi/sdk/v3 $PULUMI_GO_SDK
GOMOD
(cd "$OUT" && GOFLAGS=-mod=mod GOTOOLCHAIN=local retry go mod tidy)
# The example programs load the compiled Node.js SDK.
if [ "$OUT" = sdk ]; then
  node scripts/build-sdk-nodejs.js
  node scripts/gen-types.js
fi
