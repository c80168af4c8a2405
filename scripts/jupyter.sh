#!/usr/bin/env bash
# Open the notebooks in JupyterLab, with the Rust kernel that scripts/setup-notebooks.sh installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v jupyter-lab >/dev/null || { echo "JupyterLab is not installed: run scripts/setup-notebooks.sh first" >&2; exit 1; }
exec jupyter-lab notebooks/ "$@"
