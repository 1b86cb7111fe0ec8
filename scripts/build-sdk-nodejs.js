// Compiles the generated Node.js SDK (sdk/nodejs, TypeScript) into sdk/nodejs/bin, as its own
// package.json expects, with the project's TypeScript; the plugin's example programs load it from there.
// Skipped quietly before the SDK has been generated (npm run gen-sdk).
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const dir = path.join(__dirname, "..", "sdk", "nodejs");
if (!fs.existsSync(path.join(dir, "tsconfig.json"))) process.exit(0);
const tsc = require.resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);
fs.copyFileSync(path.join(dir, "package.json"), path.join(dir, "bin", "package.json"));
