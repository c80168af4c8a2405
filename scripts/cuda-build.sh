#!/usr/bin/env bash
# Build the `rlhf` binary with `--features cuda` here (no GPU needed) for the GPU machine
# (NVIDIA H100/H200: compute capability 90, driver 580, CUDA 13 libraries from PyTorch's
# pip packages, no Rust there). Output: dist/rlhf-cuda (stripped) and dist/ with the run
# script, ready to copy.
#
# Usage: scripts/cuda-build.sh         CUDA_COMPUTE_CAP=80 for A100 (portable PTX)
#
# Cold, on 2 cores: about 40 minutes, most of it nvcc compiling candle's kernels once.
# The build lives in target/cuda, apart from the CPU build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${CUDA_VENV:-$ROOT/.cuda-venv}
[ -x "$VENV/bin/python" ] || "$ROOT/scripts/cuda-setup.sh"
export CUDA_HOME=$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
[ -f "$CUDA_HOME/lib/stubs/libcuda.so" ] || "$ROOT/scripts/cuda-setup.sh"
export PATH="$CUDA_HOME/bin:$PATH"              # candle's build finds nvcc on PATH
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}  # 90 → sm_90a: Hopper only
export CUDARC_CUDA_VERSION=13000                 # the CUDA API level of driver 580
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-2}
export LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}"
cd "$ROOT"
cargo build --release --features cuda --bin rlhf --target-dir target/cuda
mkdir -p dist
cp target/cuda/release/rlhf dist/rlhf-cuda
strip dist/rlhf-cuda
cp scripts/gpu-run.sh dist/
echo "built dist/rlhf-cuda ($(du -h dist/rlhf-cuda | cut -f1)); on the GPU machine: dist/gpu-run.sh"
