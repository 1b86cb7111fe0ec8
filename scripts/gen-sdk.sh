#!/usr/bin/env bash
# npm run gen-sdk: regenerates sdk/nodejs and sdk/python from schema.json with Pulumi's own
# generators (scripts/pulumi-toolchain/gensdk). Deterministic: the same schema gives the same bytes, which
# test/pulumi/sdk.test.ts checks against the committed SDKs. OUT=<dir> writes elsewhere (the test does).
set -euo pipefail
cd "$(dirname "$0")/.."
GENSDK=$(bash scripts/build-gensdk.sh)
OUT="${OUT:-sdk}"
mkdir -p "$OUT"
"$GENSDK" schema.json "$OUT" nodejs python
# The example programs load the compiled Node.js SDK.
if [ "$OUT" = sdk ]; then node scripts/build-sdk-nodejs.js; fi
