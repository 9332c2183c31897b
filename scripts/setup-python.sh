#!/usr/bin/env bash
# Creates the Python SDK's project-local virtual environment (sdk/python/.venv,
# git-ignored) and installs the package with its test and framework extras from
# PyPI. Idempotent: reinstalls only when pyproject.toml changed. Prints the venv's
# python. The Debian python3 and python3-venv come from bootstrap's apt step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/sdk/python"
VENV="$PKG/.venv"
PY="${GATEHOUSE_PYTHON:-python3}"

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "setup-python: Python 3.10+ is required ($PY is $("$PY" --version 2>&1))" >&2; exit 1; }

# One set-up at a time: test runs in parallel worktrees share nothing, but two
# callers in the same tree (a test beside `./gatehouse up`) must not race.
mkdir -p "$VENV"
exec 9>"$VENV/.setup.lock"
flock 9

stamp="$VENV/.gatehouse-stamp"
sum="$(sha256sum "$PKG/pyproject.toml" | cut -c1-16)"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

echo "setup-python: installing sdk/python into $VENV" >&2
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
log="$VENV/pip-install.log"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "$PKG[test,fastapi,flask]" > "$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup-python: pip install failed (full log: $log)" >&2
  exit 1
fi
echo "$sum" > "$stamp"
echo "$VENV/bin/python"
