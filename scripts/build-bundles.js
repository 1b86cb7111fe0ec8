#!/usr/bin/env node
/**
 * Build step, after tsc and build-generated.js: esbuild bundles in dist/bundle/, each the code of an entry
 * point and everything it loads, so that Node loads one file instead of hundreds:
 * - cli.js: the `lxc-rootfs` CLI (bin/lxc-rootfs.js loads it), with cli.js.cache, its V8 code cache;
 * - agent.js: the agent that runs on remote LXC hosts, which need only Node, no node_modules;
 * - isolated-main.js: the helper process the core starts for each step that mounts (executor/isolated.ts
 *   finds it next to the code that runs);
 * - <libc>_<arch>/koffi.node: koffi's native module for each libc and architecture a host may have (x64 and
 *   arm64, glibc and musl; the bundles require it relative to themselves);
 * - manifest.json: what a remote host gets (the agent, the helper, the native modules), each with its
 *   sha256 and, for a native module, the architecture and libc it is for. The remote client sends a host
 *   the files for its own architecture and libc, with the Node.js that runs them (runtime.ts).
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
// koffi's prebuilt native modules come in one optional package per platform. npm installed this machine's;
// the other architecture's comes from the registry (by the lock's version and integrity) into the cache.
const NATIVE = { x64: "@koromix/koffi-linux-x64", arm64: "@koromix/koffi-linux-arm64" };

async function nativeDirs() {
  const runtime = require(path.join(src, "adapters", "remote", "runtime.js"));
  const lock = require(path.join(root, "package-lock.json")).packages;
  const dirs = {};
  for (const [arch, name] of Object.entries(NATIVE)) {
    if (arch === process.arch) dirs[arch] = path.dirname(require.resolve(`${name}/package.json`));
    else {
      const { version, integrity } = lock[`node_modules/${name}`];
      dirs[arch] = await runtime.cachedPackage(name, version, integrity, `koffi's native module for ${arch} hosts`);
    }
  }
  return dirs;
}

async function main() {
  // Fetched before anything is removed: a build that cannot fetch leaves the last bundle as it was.
  const dirs = await nativeDirs();
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  // koffi requires its platform's package by name; this machine's resolves from node_modules, the other's
  // from the cache.
  const otherNatives = {
    name: "koffi-natives",
    setup(build) {
      build.onResolve({ filter: /^@koromix\/koffi-linux-(x64|arm64)$/ }, (args) => {
        const arch = args.path.endsWith("arm64") ? "arm64" : "x64";
        return arch === process.arch ? undefined : { path: path.join(dirs[arch], "index.js") };
      });
    },
  };
  await esbuild.build({
    entryPoints: {
      cli: path.join(src, "adapters", "cli", "main.js"),
      agent: path.join(src, "adapters", "agent", "main.js"),
      "isolated-main": path.join(src, "executor", "isolated-main.js"),
    },
    bundle: true,
    platform: "node",
    target: "node22",
    outdir: out,
    logLevel: "warning",
    legalComments: "none",
    plugins: [otherNatives],
  });
  const natives = [];
  for (const [arch, dir] of Object.entries(dirs))
    for (const libcDir of fs.readdirSync(dir)) {
      const native = path.join(dir, libcDir, "koffi.node");
      if (!fs.existsSync(native)) continue;
      fs.mkdirSync(path.join(out, libcDir));
      fs.copyFileSync(native, path.join(out, libcDir, "koffi.node"));
      natives.push({ path: `${libcDir}/koffi.node`, arch, libc: libcDir.startsWith("musl_") ? "musl" : "glibc" });
    }

  // The code cache holds what loading compiled: every module's top level, the bulk of a start.
  const cli = path.join(out, "cli.js");
  fs.writeFileSync(`${cli}.cache`, loadBundle(cli).script.createCachedData());

  // Each file with its own sha256, which the host checks before the directory is renamed into place.
  const sha256 = (data) => createHash("sha256").update(data).digest("hex");
  const files = [{ path: "agent.js" }, { path: "isolated-main.js" }, ...natives].map((f) => ({
    ...f,
    sha256: sha256(fs.readFileSync(path.join(out, f.path))),
  }));
  fs.writeFileSync(path.join(out, "manifest.json"), `${JSON.stringify({ version, files }, null, 2)}\n`);
}

main().catch((e) => {
  console.error(`build-bundles: ${e.message}`);
  process.exit(1);
});
