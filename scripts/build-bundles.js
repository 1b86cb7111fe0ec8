#!/usr/bin/env node
/**
 * Build step, after tsc and build-generated.js: esbuild bundles in dist/bundle/, each the code of an entry
 * point and everything it loads, so that Node loads one file instead of hundreds:
 * - cli.js: the `lxc-rootfs` CLI (bin/lxc-rootfs.js loads it), with cli.js.cache, its V8 code cache;
 * - agent.js: the agent that runs on remote LXC hosts, which need only Node, no node_modules;
 * - isolated-main.js: the helper process the core starts for each step that mounts (executor/isolated.ts
 *   finds it next to the code that runs);
 * - <libc>_<arch>/koffi.node: koffi's native module for each libc this machine's koffi package ships (the
 *   bundles require it relative to themselves);
 * - manifest.json: what a remote host gets (the agent, the helper, the native modules), each with its
 *   sha256, with the package version, the architecture and a sha256 over the files. The remote client installs them on a host
 *   under a directory named by version and hash, once.
 */
"use strict";
const { createHash } = require("crypto");
const fs = require("fs");
const path = require("path");
const esbuild = require("esbuild");
const { loadBundle } = require("../bin/load-bundle");

const root = path.join(__dirname, "..");
const out = path.join(root, "dist", "bundle");
const src = path.join(root, "dist", "provider", "src");
const { version } = require(path.join(root, "schema.json"));
// koffi's prebuilt native modules come in one optional package per platform; npm installed this machine's.
const NATIVE = { x64: "@koromix/koffi-linux-x64", arm64: "@koromix/koffi-linux-arm64" };
const nativePackage = NATIVE[process.arch];
if (!nativePackage) throw new Error(`build-bundles: no koffi package known for ${process.arch}`);
const nativeDir = path.dirname(require.resolve(`${nativePackage}/package.json`));

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
esbuild.buildSync({
  entryPoints: {
    cli: path.join(src, "adapters", "cli", "main.js"),
    agent: path.join(src, "adapters", "agent", "main.js"),
    "isolated-main": path.join(src, "executor", "isolated-main.js"),
  },
  bundle: true,
  platform: "node",
  target: "node20",
  outdir: out,
  logLevel: "warning",
  legalComments: "none",
});
const natives = [];
for (const libcDir of fs.readdirSync(nativeDir)) {
  const native = path.join(nativeDir, libcDir, "koffi.node");
  if (!fs.existsSync(native)) continue;
  fs.mkdirSync(path.join(out, libcDir));
  fs.copyFileSync(native, path.join(out, libcDir, "koffi.node"));
  natives.push(`${libcDir}/koffi.node`);
}

// The code cache holds what loading compiled: every module's top level, the bulk of a start.
const cli = path.join(out, "cli.js");
fs.writeFileSync(`${cli}.cache`, loadBundle(cli).script.createCachedData());

// Each file with its own sha256, which the host checks before the directory is renamed into place; the
// whole bundle's sha256 (over names and contents) names the directory.
const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const files = ["agent.js", "isolated-main.js", ...natives].map((f) => ({ path: f, sha256: sha256(fs.readFileSync(path.join(out, f))) }));
const hash = createHash("sha256");
for (const f of files)
  hash
    .update(f.path)
    .update("\0")
    .update(fs.readFileSync(path.join(out, f.path)));
const manifest = { version, arch: process.arch, files, sha256: hash.digest("hex") };
fs.writeFileSync(path.join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
