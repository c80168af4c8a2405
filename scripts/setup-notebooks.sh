#!/usr/bin/env bash
# Install what the notebooks need, under $RLHF_TOOLS (default ~/.cache/rlhf-workshop):
#   - evcxr_jupyter, the Rust kernel, from crates.io (the first time: 10-35 min on 2 cores);
#   - Jupyter in a Python virtual environment: JupyterLab to open the notebooks, or with
#     --headless only nbclient, enough to execute them (CI);
#   - the kernel's registration and evcxr's settings.
# Run it again at any time: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

headless=0
[ "${1:-}" = "--headless" ] && headless=1

mkdir -p "$RLHF_TOOLS" "$EVCXR_TMPDIR" "$EVCXR_CONFIG_DIR" "$JUPYTER_PATH"

if ! grep -qs "evcxr_jupyter $EVCXR_VERSION " "$RLHF_TOOLS/cargo/.crates.toml"; then
    echo "installing evcxr_jupyter $EVCXR_VERSION (this takes a while; only once per machine)"
    # opt-level 1 builds in about half the time of the default, and runs notebooks nearly as fast.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install evcxr_jupyter --version "$EVCXR_VERSION" --locked --root "$RLHF_TOOLS/cargo"
fi

if [ ! -x "$RLHF_TOOLS/venv/bin/python" ]; then
    python3 -m venv "$RLHF_TOOLS/venv"
fi
pip() { "$RLHF_TOOLS/venv/bin/python" -m pip -q --disable-pip-version-check "$@"; }
pip install 'nbclient==0.11.0' 'nbformat>=5.10'
if [ $headless = 0 ]; then
    pip install 'jupyterlab>=4,<5'
fi

evcxr_jupyter --install >/dev/null
cat >"$EVCXR_CONFIG_DIR/init.evcxr" <<'INIT'
:preserve_vars_on_panic 0
:cache 4000
INIT
echo "notebooks ready: scripts/jupyter.sh opens them, scripts/run-notebooks.sh executes them all"
