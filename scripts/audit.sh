#!/usr/bin/env bash
# `make check`'s last step: pip-audit looks every locked version up in PyPI's vulnerability data
# and fails on any known vulnerability. A package whose data cannot be fetched (PyPI's per-release
# JSON unreachable) is not audited: said in one line, not a failure (`pip-audit --strict` would).
set -uo pipefail
cd "$(dirname "$0")/.."
# Offline, every lookup would wait for its own time-out: one look first.
if ! .venv/bin/python -c "import urllib.request as u; u.urlopen('https://pypi.org/pypi/pip/json', timeout=10)" \
  2>/dev/null; then
  echo "pip-audit: PyPI is not reachable: the locked packages were NOT audited" >&2
  exit 0
fi
out=$(.venv/bin/python -m pip_audit --progress-spinner off --disable-pip --require-hashes \
  -r requirements.lock -r requirements-nodeps.txt 2>&1)
status=$?
skipped=$(grep -c "could not be audited" <<<"$out")
locked=$(cat requirements.lock requirements-nodeps.txt | grep -c "^[A-Za-z0-9].*==")
# The vulnerabilities found (or "No known vulnerabilities found" when every package was looked up).
[ "$status" -ne 0 ] || [ "$skipped" -eq 0 ] && sed '/Skip Reason/,$d' <<<"$out"
if [ "$skipped" -gt 0 ]; then
  echo "pip-audit: $skipped of $locked locked packages NOT audited: PyPI's vulnerability data for them" \
    "could not be fetched (https://pypi.org/pypi/NAME/VERSION/json)" >&2
fi
exit $status
