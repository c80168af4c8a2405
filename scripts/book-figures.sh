#!/usr/bin/env bash
# Regenerate what the book shows from real runs: the default pipeline on the default world
# and on two evaluation worlds, each with three draws of its stages after pretraining
# (`rlhf worlds --draws 3`, ~3.5 minutes a world and ~2 a further draw on 2 cores), the default
# run's figures and report (the book includes sections of it), the table over worlds and
# samples of the world, into book/src/generated/ (not committed: always made from the code
# of the checkout). The worlds: 1234 (the default, used to choose the defaults) and 15223,
# 39417 (drawn at random, never tuned on; see chapter 6).
set -euo pipefail
cd "$(dirname "$0")/.."
# Prints how long each long step took (to stderr), so that CI's log shows where its time goes.
timed() {
    local t0=$SECONDS
    "$@"
    echo "    book-figures: $((SECONDS - t0)) s for: ${*:1:6}" >&2
}
# Every world with three draws of SFT, the reward model and PPO, pooled (chapter 6: one
# draw's verdict is less stable than its interval says).
timed cargo run --release -q -- worlds --name book --seeds 1234,15223,39417 --draws 3 >/dev/null
run=runs/book/seed-1234 # the default world: the same run as `cargo run --release`
out=book/src/generated
rm -rf "$out"
mkdir -p "$out/ch01" "$out/ch02" "$out/ch03" "$out/ch04" "$out/ch05" "$out/ch06"
cp $run/tokenizer/compression.svg $run/tokenizer/zipf.svg "$out/ch01/"
cp $run/attention/*.svg "$out/ch02/"
cp $run/pretrain/loss.svg $run/pretrain/samples.md "$out/ch03/"
cp $run/sft/loss.svg $run/sft/format_by_family.svg $run/sft/right_by_family.svg "$out/ch04/"
cp $run/reward/accuracy.svg $run/reward/scores.svg $run/reward/calibration.svg "$out/ch05/"
cp $run/ppo/*.svg "$out/ch06/"
# Chapters 7 and 8's figures are committed (book/src/ch07/ and ch08/, made by
# scripts/ch07-figures.sh and ch08-figures.sh): their runs (about 10 and 5 minutes) do not fit in
# CI's time.
# This build's own speed: one round of the reference benchmark, as a table.
cargo run --release -q -- bench --rounds 1 --steps 5 | python3 scripts/bench-table.py > "$out/ch03/bench.md"
cp $run/report.md "$out/report.md"
cp runs/book/worlds.md "$out/worlds.md"
# Chapter 6's acceptance, on every world of this very build: fails the book (and CI) when
# it does not hold.
python3 scripts/check-acceptance.py runs/book
cp $run/world/samples.md "$out/world-samples.md"
echo "book figures regenerated in $out"
