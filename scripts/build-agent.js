#!/usr/bin/env node
/**
 * Build step, after tsc and build-generated.js: the agent that runs on remote LXC hosts, as one
 * self-contained directory, dist/agent/:
 * - agent.js: the agent (dist/.../adapters/agent/main.js) and everything it loads, bundled by esbuild, so
 *   the host needs only Node, no node_modules; isolated-main.js beside it, the helper process the core
 *   starts for each step that mounts (executor/isolated.ts finds it next to the code that runs);
 * - <libc>_<arch>/koffi.node: koffi's native module for each libc this machine's koffi package ships
 *   (the bundle requires it relative to itself);
 * - manifest.json: the package version, the architecture, the files and a sha256 over them. The remote
 *   client installs the bundle on a host under a directory named by version and hash, once.
 */
"use strict";
const { createHash } = require("crypto");
const fs = require("fs");
const path = require("path");
const esbuild = require("esbuild");

const root = path.join(__dirname, "..");
const out = path.join(root, "dist", "agent");
const { version } = require(path.join(root, "schema.json"));
// koffi's prebuilt native modules come in one optional package per platform; npm installed this machine's.
const NATIVE = { x64: "@koromix/koffi-linux-x64", arm64: "@koromix/koffi-linux-arm64" };
const nativePackage = NATIVE[process.arch];
if (!nativePackage) throw new Error(`build-agent: no koffi package known for ${process.arch}`);
const nativeDir = path.dirname(require.resolve(`${nativePackage}/package.json`));

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
esbuild.buildSync({
  entryPoints: {
    agent: path.join(root, "dist", "provider", "src", "adapters", "agent", "main.js"),
    "isolated-main": path.join(root, "dist", "provider", "src", "executor", "isolated-main.js"),
  },
  bundle: true,
  platform: "node",
  target: "node20",
  outdir: out,
  logLevel: "warning",
  legalComments: "none",
});
const files = ["agent.js", "isolated-main.js"];
for (const libcDir of fs.readdirSync(nativeDir)) {
  const native = path.join(nativeDir, libcDir, "koffi.node");
  if (!fs.existsSync(native)) continue;
  fs.mkdirSync(path.join(out, libcDir));
  fs.copyFileSync(native, path.join(out, libcDir, "koffi.node"));
  files.push(`${libcDir}/koffi.node`);
}
const hash = createHash("sha256");
for (const f of files)
  hash
    .update(f)
    .update("\0")
    .update(fs.readFileSync(path.join(out, f)));
const manifest = { version, arch: process.arch, files, sha256: hash.digest("hex") };
fs.writeFileSync(path.join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
