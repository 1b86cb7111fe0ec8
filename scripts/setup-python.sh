#!/usr/bin/env bash
# Python for the plugin's Python example (examples/python): a virtualenv holding pulumi from PyPI, cached
# beside the CLI, and the stand-in language host (scripts/pulumi-language-python.py) with a launcher named
# pulumi-language-python next to the pulumi binary, where the engine looks for it. Only when setup built the
# CLI itself: a CLI from Pulumi's distribution brings its own Python host.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
source scripts/pulumi-version.sh
CACHE="${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}"
CLI_DIR="$CACHE/pulumi-v$PULUMI_VERSION"
[ -x "$CLI_DIR/pulumi" ] && [ "$(readlink -f .tools/bin/pulumi)" = "$(readlink -f "$CLI_DIR/pulumi")" ] || exit 0
VENV="$CACHE/python-pulumi-$PULUMI_VERSION"
if ! "$VENV/bin/python" -c "import pulumi" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # pulumi, and what the generated SDK (sdk/python, put on PYTHONPATH by the tests) imports besides.
  retry "$VENV/bin/pip" install --quiet --disable-pip-version-check "pulumi==$PULUMI_VERSION" "parver>=0.2.1" "semver>=2.8.1"
fi
install -m 0644 scripts/pulumi-language-python.py "$CLI_DIR/pulumi-language-python.py"
cat > "$CLI_DIR/pulumi-language-python.tmp" <<LAUNCHER
#!/bin/sh
PULUMI_LXC_PULUMI_VERSION=$PULUMI_VERSION exec "$VENV/bin/python" -u "$CLI_DIR/pulumi-language-python.py" "\$@"
LAUNCHER
chmod 0755 "$CLI_DIR/pulumi-language-python.tmp"
mv "$CLI_DIR/pulumi-language-python.tmp" "$CLI_DIR/pulumi-language-python"
