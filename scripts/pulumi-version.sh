#!/usr/bin/env bash
# Sourced by the setup scripts: PULUMI_VERSION, the one Pulumi release the project builds, runs and
# generates against, read from package.json's @pulumi/pulumi pin (its single declaration). The go.mod files
# must spell it literally; test/unit/pulumi-version.test.ts checks they agree.
# PULUMI_PYTHON_VERSION: the `pulumi` package the Python example runs on, read from its single declaration,
# examples/python/requirements.txt. It is PULUMI_VERSION unless PyPI has not published that release yet
# (the Python SDK is released apart from the CLI, and lags it at times); the test names each such lag.
_pulumi_lxc_root="$(dirname "${BASH_SOURCE[0]}")/.."
PULUMI_VERSION=$(node -p 'require(require("path").resolve(process.argv[1])).dependencies["@pulumi/pulumi"]' "$_pulumi_lxc_root/package.json")
PULUMI_PYTHON_VERSION=$(sed -n 's/^pulumi==\([^[:space:]]*\).*/\1/p' "$_pulumi_lxc_root/examples/python/requirements.txt")
unset _pulumi_lxc_root
[ -n "$PULUMI_PYTHON_VERSION" ] || { echo "pulumi-version.sh: no pulumi==<version> line in examples/python/requirements.txt" >&2; return 1; }
export PULUMI_VERSION PULUMI_PYTHON_VERSION
