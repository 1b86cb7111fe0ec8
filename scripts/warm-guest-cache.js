#!/usr/bin/env node
/**
 * Usage: warm-guest-cache.js (from scripts/test-guest.sh, on the host, before the guest boots)
 * Transpiles the TypeScript the guest suites load into the cache their jest reads (test/guest/jest.config.js's
 * cacheDirectory, in the checkout the guest shares), as the guest's own jest would: under TCG the guest
 * transpiled a cold cache in about six minutes, every CI run (a fresh clone has none), before its first test.
 * The keys are jest's own (same config, same options as jest-runtime gives a CommonJS module), so a file
 * the guest finds here is not transpiled again there; one it does not find, it transpiles as before.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const { readConfigs } = require("jest-config");
const { createScriptTransformer } = require("@jest/transform");

const root = path.join(__dirname, "..");
/** Where the guest suites' code lives: their own files, the test helpers, the core. */
const DIRS = ["test/guest", "test/helpers", "provider/src"];

function tsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.isFile() && p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
}

async function main() {
  process.chdir(root);
  // As test-guest.sh's command line gives it (`jest -c test/guest/jest.config.js`, from the checkout): the
  // cache's directory is named after the config's id, which jest makes of how the config was named.
  const { configs } = await readConfigs({ _: [], $0: "jest", config: "test/guest/jest.config.js" }, [root]);
  const projectConfig = configs[0];
  const transformer = await createScriptTransformer(projectConfig);
  // jest-runtime's options for a CommonJS module (its defaultTransformOptions), which ts-jest's key includes.
  const options = {
    isInternalModule: false,
    supportsDynamicImport: false,
    supportsExportNamespaceFrom: false,
    supportsStaticESM: false,
    supportsTopLevelAwait: false,
    instrument: false,
  };
  const started = Date.now();
  const files = DIRS.flatMap((d) => tsFiles(path.join(root, d)));
  for (const file of files) transformer.transform(file, options);
  console.error(`warm-guest-cache: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  // A cold cache only costs the guest time: the suites still run.
  console.error(`warm-guest-cache: not warmed (${e.message})`);
});
