#!/usr/bin/env bash
# Regenerate what the book shows from a real run: the default pipeline's figures, its
# report (the book includes sections of it) and samples of the world, into
# book/src/generated/ (not committed: always made from the code of the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -- pipeline --name book >/dev/null
out=book/src/generated
rm -rf "$out"
mkdir -p "$out/ch01" "$out/ch02" "$out/ch03" "$out/ch04" "$out/ch05" "$out/ch06"
cp runs/book/tokenizer/compression.svg runs/book/tokenizer/zipf.svg "$out/ch01/"
cp runs/book/attention/*.svg "$out/ch02/"
cp runs/book/pretrain/loss.svg runs/book/pretrain/samples.md "$out/ch03/"
cp runs/book/sft/loss.svg runs/book/sft/format_by_family.svg runs/book/sft/right_by_family.svg "$out/ch04/"
cp runs/book/reward/accuracy.svg runs/book/reward/scores.svg runs/book/reward/calibration.svg "$out/ch05/"
cp runs/book/ppo/*.svg "$out/ch06/"
# This build's own speed: one round of the reference benchmark, as a table.
cargo run --release -q -- bench --rounds 1 --steps 5 | python3 scripts/bench-table.py > "$out/ch03/bench.md"
cp runs/book/report.md "$out/report.md"
# Chapter 6's acceptance, on this very run: fails the book (and CI) when it does not hold.
python3 scripts/check-acceptance.py runs/book
cp runs/book/world/samples.md "$out/world-samples.md"
echo "book figures regenerated in $out"
