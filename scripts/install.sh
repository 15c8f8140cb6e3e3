#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install tfk, its toolbox extras and every plugin in plugins/, with torch
# pinned to the CPU-friendly 2.13.0. Re-running is cheap. (The tests register their fixture plugin
# themselves: `tfk models` on a fresh install lists only real models.)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TFK_VENV:-.venv}"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
"$PY" - <<'PYCHK' || { echo "error: tfk needs Python >= 3.11 (found $($PY --version 2>&1))" >&2; exit 69; }
import sys
raise SystemExit(0 if sys.version_info >= (3, 11) else 1)
PYCHK
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip >/dev/null
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
"${PIP[@]}" install "torch==2.13.0"
args=(-e ".[all,ui,test]")  # the echo fixture plugin is registered by the tests, never installed
for p in plugins/tfk-*/; do
  [ -f "$p/pyproject.toml" ] && args+=(-e "$p")
done
"${PIP[@]}" install "torch==2.13.0" "${args[@]}"
echo "installed: $("$VENV/bin/tfk" --version)  ($VENV)" >&2
