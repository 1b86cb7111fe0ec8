#!/usr/bin/env bash
# npm run pack-plugin: the provider plugin as a tarball for
#   pulumi plugin install resource lxc <version> --file pulumi-resource-lxc-v<version>-linux-amd64.tar.gz
# It holds the compiled package, schema.json, the production node_modules (pruned from this checkout's,
# nothing downloaded) and, at its top, the pulumi-resource-lxc launcher the engine runs (with Node).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(node -p 'require("./schema.json").version')
OUT="${OUT:-$PWD/pulumi-resource-lxc-v$VERSION-linux-amd64.tar.gz}"
[ -f dist/provider/src/adapters/plugin/main.js ] || { echo "pack-plugin: run npm run build first" >&2; exit 1; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -a dist schema.json package.json package-lock.json "$STAGE/"
# The directory itself, never a symlink to it (a worktree's): the prune below must not reach the original.
cp -a "$(readlink -f node_modules)" "$STAGE/node_modules"
(cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null 2>&1)
cat > "$STAGE/pulumi-resource-lxc" <<'LAUNCHER'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec node "$here/dist/provider/src/adapters/plugin/main.js" "$@"
LAUNCHER
chmod 0755 "$STAGE/pulumi-resource-lxc"
# Pulumi's plugin installer takes regular files, directories and symlinks only: hard links (node-gyp
# leaves some in node_modules) go in as the files they name.
tar --hard-dereference -czf "$OUT.tmp" -C "$STAGE" .
mv "$OUT.tmp" "$OUT"
echo "$OUT"
