"use strict";
/**
 * Loads one of the esbuild bundles of dist/bundle as a CommonJS module, compiled with the V8 code cache the
 * build wrote beside it (`<file>.cache`): for a CLI call, starting up is most of the cost. V8 ignores a cache
 * made by another Node. scripts/build-bundles.js makes the caches with this same function.
 */
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const Module = require("module");

function loadBundle(file) {
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
  const loaded = new Module(file, module);
  loaded.filename = file;
  loaded.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(loaded.exports, loaded.exports, (id) => loaded.require(id), loaded, file, path.dirname(file));
  loaded.loaded = true;
  return { exports: loaded.exports, script };
}

module.exports = { loadBundle };
