#!/usr/bin/env bash
# Sourced by the setup scripts: PULUMI_VERSION, the one Pulumi release the project builds, runs and
# generates against, read from package.json's @pulumi/pulumi pin (its single declaration). The go.mod files
# must spell it literally; test/unit/pulumi-version.test.ts checks they agree.
PULUMI_VERSION=$(node -p 'require(require("path").resolve(process.argv[1])).dependencies["@pulumi/pulumi"]' "$(dirname "${BASH_SOURCE[0]}")/../package.json")
export PULUMI_VERSION
