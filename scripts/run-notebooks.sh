#!/usr/bin/env bash
# Execute every notebook (or those named) headless, one after another in one shared build
# directory, and fail on any cell error — including the panics and `?` errors that evcxr
# reports only on stderr while the cell's status stays "ok". Prints one line per notebook
# (and the failing cell) and a closing "N passed, N failed" line.
# Executed copies go to target/notebooks/ (the committed notebooks are not touched).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
[ -x "$RLHF_TOOLS/venv/bin/python" ] && command -v evcxr_jupyter >/dev/null \
    || { echo "run scripts/setup-notebooks.sh first" >&2; exit 1; }
if [ $# -gt 0 ]; then notebooks=("$@"); else notebooks=(notebooks/*.ipynb); fi
exec "$RLHF_TOOLS/venv/bin/python" scripts/nbtest.py --fail-on-stderr --timeout 1800 --out target/notebooks "${notebooks[@]}"
