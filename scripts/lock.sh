#!/usr/bin/env bash
# Lock the dependencies after editing requirements.txt (or pyproject.toml's dependencies):
#   scripts/lock.sh              keep every pin that still fits, pin what is new
#   scripts/lock.sh --upgrade    move every pin to the newest version that fits
# Writes requirements.lock (runtime, tests and checks: `make setup` installs it) and
# requirements-runtime.lock (the package's runtime dependencies only, at the same versions:
# scripts/install.sh installs it), every version pinned with the sha256 of each of its files, so
# that pip installs exactly these files or stops. pip-tools runs from a virtualenv of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=var/lock-tools
[ -x "$tools/bin/pip-compile" ] || {
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check "pip-tools==7.7.0"
}
compile=("$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras
  --no-emit-index-url --no-emit-find-links --no-header "$@")
"${compile[@]}" -o requirements.lock requirements.txt
"${compile[@]}" -c requirements.lock -o requirements-runtime.lock pyproject.toml
