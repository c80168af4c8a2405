#!/usr/bin/env bash
# Chapter 9 on the GPU machine, in one command (about 9 minutes on an H100/H200):
#   1. the benchmark: GPT-2 small (124M) training at 8 × 1024 in bf16 and in TF32, with
#      tokens/s and MFU, side by side with PyTorch eager on the same model and batch, and
#      batched generation with the KV cache;
#   2. the whole pipeline at GPT-2 width and depth (`--preset gpu`): world → tokenizer →
#      pretrain → SFT → reward model → PPO → the capability table.
# Everything goes to OUT (default: $OUT if set, else runs/gpu).
#
# Usage: scripts/gpu-run.sh [OUT]
#   RLHF_BIN   the CUDA binary (default: dist/rlhf-cuda, made by scripts/cuda-build.sh)
#   PYTHON     a Python with PyTorch and its CUDA 13 pip libraries (default: python3)
#   For a dry run of this script on a CPU (tiny sizes): DEVICE=cpu PRESET=tiny BENCH=tiny RLHF_BIN=target/release/rlhf
#
# The binary needs libcuda.so.1 (the NVIDIA driver), libcudart.so.13, libcublas(Lt).so.13
# and libcurand.so.10: PyTorch's pip packages ship the last three; they go on the loader path.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${OUT:-$ROOT/runs/gpu}}
BIN=${RLHF_BIN:-$ROOT/dist/rlhf-cuda}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
PRESET=${PRESET:-gpu}
BENCH=${BENCH:-gpt2}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-run.log") 2>&1

dirs=""
NV=$("$PY" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null) && [ -d "$NV" ] && dirs="$NV"
for d in /usr/local/cuda/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu; do [ -d "$d" ] && dirs="$dirs:$d"; done
export LD_LIBRARY_PATH="${dirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -x "$BIN" ] || { echo "gpu-run: no binary at $BIN: build it with scripts/cuda-build.sh and copy dist/ here"; exit 2; }
missing=$(ldd "$BIN" 2>/dev/null | awk '/not found/ {print $1}')
if [ -n "$missing" ]; then
  echo "gpu-run: $BIN cannot start, missing shared libraries: $missing (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
  exit 3
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/gpu.csv"
cd "$ROOT"   # bench/pytorch_gpt.py is found from here
step() { local name=$1 limit=$2; shift 2; local t0=$SECONDS
  echo "== $name (at most ${limit}s)" >&2
  timeout "$limit" "$@"; local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0))s" >&2; }

step "bench bf16" 150 "$BIN" --device "$DEVICE" --precision bf16 bench --preset "$BENCH" --rounds 2 --pytorch "$PY" > "$OUT/bench-bf16.jsonl"
step "bench tf32" 90 "$BIN" --device "$DEVICE" --precision f32 bench --preset "$BENCH" --rounds 1 --no-generate --pytorch "$PY" > "$OUT/bench-tf32.jsonl"
cat "$OUT"/bench-*.jsonl
step "pipeline" 330 "$BIN" --device "$DEVICE" --precision bf16 pipeline --preset "$PRESET" --name pipeline --runs "$OUT"
echo "gpu-run: done in ${SECONDS}s; results in $OUT"
