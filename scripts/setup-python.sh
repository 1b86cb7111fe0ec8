#!/usr/bin/env bash
# Python for the plugin's Python example (examples/python): a virtualenv holding pulumi from PyPI (the
# release examples/python/requirements.txt pins, PULUMI_PYTHON_VERSION: PyPI may lag the CLI's), cached
# beside the CLI, and the stand-in language host (scripts/pulumi-language-python.py) with a launcher named
# pulumi-language-python next to the pulumi binary, where the engine looks for it. Only when setup built the
# CLI itself: a CLI from Pulumi's distribution brings its own Python host.
# PyPI is reached once per machine: the wheels are kept in the cache (python-wheels-<version>, complete once
# its .complete marker exists) and the virtualenv is always built from them with --no-index, so a deleted or
# broken virtualenv is rebuilt offline, during a PyPI outage too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/retry.sh
source scripts/pulumi-version.sh
CACHE="${PULUMI_LXC_CACHE:-$HOME/.cache/pulumi-lxc}"
CLI_DIR="$CACHE/pulumi-v$PULUMI_VERSION"
[ -x "$CLI_DIR/pulumi" ] && [ "$(readlink -f .tools/bin/pulumi)" = "$(readlink -f "$CLI_DIR/pulumi")" ] || exit 0
VENV="$CACHE/python-pulumi-$PULUMI_PYTHON_VERSION"
WHEELS="$CACHE/python-wheels-$PULUMI_PYTHON_VERSION"
# pulumi, and what the generated SDK (sdk/python, put on PYTHONPATH by the tests) imports besides.
# The generator of 3.276 reads versions with packaging where 3.259's used parver (sdk/python/setup.py).
REQUIREMENTS=("pulumi==$PULUMI_PYTHON_VERSION" "packaging>=24.0" "semver>=2.8.1")
# What a virtualenv must import to be kept: one made for an older list is rebuilt.
IMPORTS="import pulumi, packaging.version, semver"
PIP=("$VENV/bin/pip" --quiet --disable-pip-version-check)

# pip keeps what an interrupted download already got; the marker is written only after a whole one (by
# `&&`: under retry, set -e does not stop a function).
download_wheels() {
  rm -f "$WHEELS/.complete"
  "${PIP[@]}" download --dest "$WHEELS" "${REQUIREMENTS[@]}" && touch "$WHEELS/.complete"
}

install_from_wheels() {
  "${PIP[@]}" install --no-index --find-links "$WHEELS" "${REQUIREMENTS[@]}"
}

if "$VENV/bin/python" -c "$IMPORTS" 2>/dev/null; then
  # A virtualenv made before the wheels were kept: keep them now if PyPI answers, once, without retrying
  # (nothing needs them today, and an outage must not fail a machine whose virtualenv works).
  if [ ! -f "$WHEELS/.complete" ] && ! download_wheels; then
    echo "setup-python: could not keep the wheels in $WHEELS (PyPI unreachable?); the virtualenv works" >&2
  fi
else
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  [ -f "$WHEELS/.complete" ] || retry download_wheels
  # Wheels kept for other requirements (this list changed) or another Python: fetched again, then installed.
  install_from_wheels || {
    retry download_wheels
    install_from_wheels
  }
fi
install -m 0644 scripts/pulumi-language-python.py "$CLI_DIR/pulumi-language-python.py"
cat > "$CLI_DIR/pulumi-language-python.tmp" <<LAUNCHER
#!/bin/sh
PULUMI_LXC_PULUMI_VERSION=$PULUMI_VERSION exec "$VENV/bin/python" -u "$CLI_DIR/pulumi-language-python.py" "\$@"
LAUNCHER
chmod 0755 "$CLI_DIR/pulumi-language-python.tmp"
mv "$CLI_DIR/pulumi-language-python.tmp" "$CLI_DIR/pulumi-language-python"
