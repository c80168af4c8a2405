#!/usr/bin/env bash
# The CUDA 13.0 toolkit from PyPI, for building `--features cuda` on a machine without a
# GPU or a system CUDA install: nvcc, headers, cudart, cuBLAS, cuRAND, NVRTC in a venv
# (about 1.2 GB), unversioned lib*.so links for the linker, and a link-time-only
# libcuda.so stub (the real one comes with the NVIDIA driver on the GPU machine).
#
# Usage: scripts/cuda-setup.sh            (venv in .cuda-venv; CUDA_VENV=... to move it)
#
# Stay on 13.0.x: nvcc 13.5 emits PTX that driver 580 (the GPU machines here) cannot load.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${CUDA_VENV:-$ROOT/.cuda-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q \
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-cccl==13.0.85 \
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvrtc==13.0.88 nvidia-cublas==13.1.0.3 nvidia-curand==10.4.0.35
CU=$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
(cd "$CU/lib" && for l in cublas.so.13 cublasLt.so.13 curand.so.10 nvrtc.so.13 cudart.so.13; do
  ln -sf "lib$l" "lib${l%.so.*}.so"
done)

# The stub exports every driver function cudarc can call, each returning an error: enough
# to link, never run. cudarc's source comes from cargo's registry.
(cd "$ROOT" && cargo fetch -q)
CUDARC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | sort -V | tail -1)
mkdir -p "$CU/lib/stubs"
grep -oE 'pub unsafe fn cu[A-Za-z0-9_]+' "$CUDARC/src/driver/sys/mod.rs" | awk '{print $4}' | sort -u \
  | awk '{printf "int %s(void){return 999;}\n", $1}' > "$CU/lib/stubs/libcuda_stub.c"
gcc -shared -fPIC -O0 -Wl,-soname,libcuda.so.1 -o "$CU/lib/stubs/libcuda.so" "$CU/lib/stubs/libcuda_stub.c"
echo "CUDA 13.0 toolkit ready in $VENV ($CU)"
