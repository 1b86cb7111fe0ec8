#!/usr/bin/env node
"use strict";
const path = require("path");
const { loadBundle } = require("./load-bundle");

loadBundle(path.join(__dirname, "..", "dist", "bundle", "cli.js"))
  .exports.main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
