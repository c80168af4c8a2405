#!/usr/bin/env bash
# Chapter 8's figures and tables, from a finished pipeline run (default: runs/default, the
# default world), into book/src/ch08/ — committed, unlike book/src/generated/: the runs take
# about 8 minutes on 2 cores, which CI's 90-minute limit has no room for, and the chapter's
# prose quotes these very numbers. Run it again after changing chapter 8 and commit the
# result; the end-to-end test (`tests/cli.rs`) runs the same commands on the tiny preset.
#   scripts/ch08-figures.sh [RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/made-with.sh
run=${1:-runs/default}
need_run "$run"
cargo build --release -q
rlhf=target/release/rlhf
$rlhf dpo --run "$run" >/dev/null                              # DPO, 300 steps (2.5 min)
$rlhf dpo --run "$run" --loss ipo >/dev/null                   # IPO, the same (2.5 min)
$rlhf dpo --run "$run" --steps 60 --out "$run/dpo-60" >/dev/null   # DPO stopped early (0.5 min)
$rlhf grpo --run "$run" >/dev/null                             # GRPO on easier sums (1 min)
$rlhf frontier --run "$run" >/dev/null                         # every method, one frontier (0.5 min)
out=book/src/ch08
rm -rf "$out"
for m in dpo ipo grpo; do
    mkdir -p "$out/$m"
    cp "$run/$m"/*.svg "$out/$m/"
done
cp "$run/grpo/grpo.md" "$run/frontier/frontier.md" "$run/frontier/frontier.svg" "$out/"
made_with "$run" "$out"
echo "chapter 8's figures written to $out"
