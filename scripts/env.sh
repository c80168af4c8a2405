# Sourced by the notebook scripts: where the learner's tools live and how Jupyter finds them.
# Everything goes under $RLHF_TOOLS (default ~/.cache/rlhf-workshop), shared by every clone,
# so the 20-minute evcxr build happens once per machine.
RLHF_TOOLS=${RLHF_TOOLS:-$HOME/.cache/rlhf-workshop}
export RLHF_TOOLS
export PATH="$RLHF_TOOLS/cargo/bin:$RLHF_TOOLS/venv/bin:$PATH"
# The Rust kernel's spec lives here, not in the user's Jupyter directory.
export JUPYTER_PATH="$RLHF_TOOLS/jupyter"
# evcxr's settings (init.evcxr): a panic fails the cell instead of being printed and ignored.
export EVCXR_CONFIG_DIR="$RLHF_TOOLS/evcxr-config"
# One build directory for every notebook: dependencies compile once.
export EVCXR_TMPDIR="$RLHF_TOOLS/evcxr-tmp"
EVCXR_VERSION=0.22.0
# evcxr links each cell against the toolchain's libstd-*.so through a relative rpath, which
# points to the wrong place when the build directory and the toolchain share a parent below
# `/` (e.g. both under $HOME): "dlopen failed". The loader falls back to LD_LIBRARY_PATH.
if command -v rustc >/dev/null; then
    RUST_STD_LIB="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib"
    export LD_LIBRARY_PATH="$RUST_STD_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
