#!/usr/bin/env bash
# Chapter 7's figures and tables, from a finished pipeline run (default: runs/default, the
# default world), into book/src/ch07/ — committed, unlike book/src/generated/: `rlhf overopt`
# takes about 10 minutes on 2 cores, which CI's time has no room for, and the chapter's prose
# quotes these very numbers. Run it again after changing chapter 7 and commit the result;
# the end-to-end test (`tests/cli.rs`) runs the same command on the tiny preset.
#   scripts/ch07-figures.sh [RUN]
#   scripts/ch07-figures.sh --from-overopt DIR   (copy a finished `rlhf overopt` directory)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/made-with.sh
if [ "${1:-}" = "--from-overopt" ]; then
    src=$2
    run=$(dirname "$src")
else
    run=${1:-runs/default}
    need_run "$run"
    cargo build --release -q
    target/release/rlhf overopt --run "$run" --out "$run/overopt" >/dev/null
    src=$run/overopt
fi
[ -f "$src/overopt.md" ] || { echo "$src has no overopt.md: not an \`rlhf overopt\` directory" >&2; exit 1; }
out=book/src/ch07
rm -rf "$out"
mkdir -p "$out"
cp "$src"/*.svg "$src/overopt.md" "$out/"
made_with "$run" "$out"
echo "chapter 7's figures written to $out"
