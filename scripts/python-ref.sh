#!/usr/bin/env bash
# A Python environment with the reference implementations, for the optional checks that
# compare this project with the ecosystem (not run in CI): scripts/check-export.py
# (transformers loads the exported models and computes the same logits and scores) and
# scripts/check-trl.py (TRL's SFT and reward losses on the exported data equal ours).
# Installs into $RLHF_TOOLS/pyref (default ~/.cache/rlhf-workshop/pyref): PyTorch from
# PyPI with its CUDA libraries, about 3 GB; the checks run on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$RLHF_TOOLS/pyref"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# The versions the book's parity numbers were measured with.
"$venv/bin/python" -m pip -q --disable-pip-version-check install \
    'torch==2.15.0' 'transformers==5.24.0' 'datasets==5.2.0' 'trl==1.16.0' 'accelerate==1.16.0'
echo "reference Python ready: $venv/bin/python scripts/check-trl.py --run runs/default"
