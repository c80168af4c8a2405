#!/usr/bin/env bash
# Chapter 5's curve — what each option buys the reward model — from finished pipeline runs
# (default: runs/default, the default world), into book/src/ch05/seed-<S>/: committed,
# like chapters 7 and 8, because the book quotes these numbers and CI has no room for the
# runs (about 2 minutes a world on 2 cores: sampling once, then 14 reward models). Give
# several runs to measure several worlds; the book shows the tuning worlds 1234 and 7 and
# the evaluation worlds 15223 and 39417. The end-to-end test runs the same command on the
# tiny preset.
#   scripts/ch05-figures.sh [RUN...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/made-with.sh
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(runs/default)
cargo build --release -q
for run in "${runs[@]}"; do
    need_run "$run"
    seed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['config']['seed'])" "$run/world/world.json")
    out=book/src/ch05/seed-$seed
    target/release/rlhf reward-curve --world "$run/world" --model "$run/sft/checkpoint" \
        --pretrained "$run/pretrain/checkpoint" --out "$out" >/dev/null
    made_with "$run" "$out"
    echo "chapter 5's curve for world $seed written to $out"
done
