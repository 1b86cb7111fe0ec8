#!/usr/bin/env bash
# What the tests need beyond `npm run setup`, fetched before any test starts and under retry, so that a
# registry outage is waited out here rather than failing a test midway (`pretest` runs it):
# - qemu-user-static and Debian's arm64 sysroot (install-host-deps.sh --tests), for the arm64 agent;
# - the other pinned Node.js lines, 22 and 26 (npm run test:node-lines), and the arm64 binary of the
#   agent's line (test/remote/arm64.test.ts), into ~/.cache/pulumi-lxc;
# - Debian 12's own Node.js 18 with the packages its externalized builtins live in, unpacked (not installed)
#   under ~/.cache/pulumi-lxc/debian-nodejs-<version>: a test host has it as its node, and the agent must
#   never run it (test/remote/faults.test.ts);
# - the OS-image fixtures (scripts/setup-images.sh), built from Debian's packages once per machine;
# - root's subordinate ids, 100000-165535 in /etc/subuid and /etc/subgid: the unprivileged containers of
#   the tests map container root there (as Proxmox does), and LXC's newuidmap lets root map only those.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
bash scripts/install-host-deps.sh --tests
others=$(node -p 'const p = require("./provider/src/adapters/remote/node-runtime.json"); [...Object.keys(p.lines).filter((l) => l !== p.agentLine), `${p.agentLine}:arm64`].join(" ")')
# shellcheck disable=SC2086 # one argument per line and architecture
retry bash scripts/with-node.sh node scripts/setup-node.js $others >/dev/null

debian_node() {
  local cache=${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc} version tmp
  # Debian's build, not another repository's (a machine may have NodeSource's): +dfsg marks Debian's.
  version=$(apt-cache madison nodejs | awk '$3 ~ /^18\..*dfsg/ { print $3; exit }')
  [ -n "$version" ] || { echo "setup-test-host: apt's lists have no Debian nodejs 18 (apt-get update?)" >&2; return 1; }
  [ -x "$cache/debian-nodejs-$version/usr/bin/node" ] && return 0
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/debian-nodejs.tmp-XXXXXX")
  local status=0
  # apt-get download writes to the current directory, and says so on stdout.
  # Its shared libraries too (libnode108's Depends that a host without Node may lack): LD_LIBRARY_PATH finds
  # them beside it, so nothing is installed.
  (cd "$tmp" && apt-get download -q "nodejs=$version" "libnode108=$version" libc-ares2 libuv1 libbrotli1 \
    libicu72 libnghttp2-14 node-acorn node-cjs-module-lexer node-undici node-busboy node-xtend >&2) &&
    (for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root" || exit 1; done) &&
    mv -T "$tmp/root" "$cache/debian-nodejs-$version" || status=1
  rm -rf "$tmp"
  return $status
}
# A Debian security update replaces the version the lists name: read them again, then try again, each under
# retry (an archive that is down is waited out, as every fetch here is).
debian_node || { retry apt-get update -qq && retry debian_node; }
bash scripts/setup-images.sh >/dev/null
for f in /etc/subuid /etc/subgid; do
  grep -qx 'root:100000:65536' "$f" 2>/dev/null || echo 'root:100000:65536' >>"$f"
done
