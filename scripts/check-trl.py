#!/usr/bin/env python3
"""Parity with TRL on the same rows: the ecosystem's own code as a second check of ours.

From a finished run, export the SFT model, the reward model and the data (`rlhf export`,
`rlhf export-data`), open the data with `datasets.load_dataset` (no code), then compute

  - the SFT loss on the first N demonstrations with TRL's SFTTrainer (prompt–completion,
    completion-only loss), and chapter 4's loss on the same rows (`rlhf loss`);
  - the pairwise loss on the first N comparisons with TRL's RewardTrainer, and chapter 5's
    (`rlhf loss` with the reward model);

and print both with their difference. Exits non-zero when a difference exceeds 1e-4.

    cargo run --release                      # or any run: --run runs/<name>
    scripts/python-ref.sh                    # a venv with torch, transformers, datasets, trl
    ~/.cache/rlhf-workshop/pyref/bin/python scripts/check-trl.py --run runs/default

Not run in CI (it needs PyTorch, about 3 GB).
"""
import argparse
import json
import os
import subprocess
import tempfile

import datasets
import torch
import transformers
import trl
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
from trl import RewardConfig, RewardTrainer, SFTConfig, SFTTrainer


def rlhf(binary, *args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def first_batch(trainer):
    """The trainer's own first training batch (sequential order), on its device."""
    return trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))


def sft_parity(model_dir, data_dir, rows, out, cache):
    ds = load_dataset(data_dir, "sft", split="train", cache_dir=cache).select(range(rows))
    # Conversational prompt–completion: TRL tokenizes the prompt with the generation prompt,
    # the whole conversation with the template, and counts the loss on the completion only.
    ds = ds.map(lambda r: {"prompt": r["messages"][:1], "completion": r["messages"][1:]},
                remove_columns=ds.column_names)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = SFTConfig(output_dir=out, report_to="none", use_cpu=True, per_device_train_batch_size=rows,
                     train_sampling_strategy="sequential", loss_type="nll", completion_only_loss=True,
                     packing=False, padding_free=False, max_length=None)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    batch = first_batch(trainer)
    model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, batch).item()
    tokens = int((batch["labels"][:, 1:] != -100).sum())
    return loss, tokens


def reward_parity(model_dir, data_dir, rows, out, cache):
    ds = load_dataset(data_dir, "preference", split="train", cache_dir=cache).select(range(rows))
    ds = ds.select_columns(["prompt", "chosen", "rejected"])
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    args = RewardConfig(output_dir=out, report_to="none", use_cpu=True, per_device_train_batch_size=rows,
                        train_sampling_strategy="sequential", center_rewards_coefficient=None, max_length=None)
    trainer = RewardTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    batch = first_batch(trainer)
    model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, batch).item()
        scores = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
    return loss, scores[:rows].tolist(), scores[rows:].tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--rlhf", default="target/release/rlhf")
    ap.add_argument("--rows", type=int, default=8)
    a = ap.parse_args()
    versions = (f"TRL {trl.__version__}, transformers {transformers.__version__}, "
                f"datasets {datasets.__version__}, torch {torch.__version__}")
    print(versions)
    with tempfile.TemporaryDirectory() as tmp:
        sft, rm, data = (os.path.join(tmp, n) for n in ("sft", "rm", "data"))
        # A cache of its own: datasets keys its cache by the directory's name, and an export
        # of another run to a directory of the same name would be read from the old cache.
        cache = os.path.join(tmp, "cache")
        rlhf(a.rlhf, "export", "--model", f"{a.run}/sft/checkpoint", "--out", sft)
        rlhf(a.rlhf, "export", "--model", f"{a.run}/reward/checkpoint", "--out", rm)
        rlhf(a.rlhf, "export-data", "--run", a.run, "--out", data)
        for name in ("sft", "preference", "prompts"):
            d = load_dataset(data, name, cache_dir=cache)
            print(f"load_dataset(DIR, {name!r}): " + ", ".join(f"{s} {len(d[s])}" for s in d))

        theirs, tokens = sft_parity(sft, data, a.rows, os.path.join(tmp, "o1"), cache)
        ours = json.loads(rlhf(a.rlhf, "loss", "--model", sft, "--data", f"{data}/sft/train.jsonl",
                               "--rows", str(a.rows)))
        assert tokens == ours["tokens"], f"TRL counts {tokens} completion tokens, chapter 4 {ours['tokens']}"
        d_sft = abs(theirs - ours["loss"])
        print(f"SFT loss, {a.rows} demonstrations ({tokens} response tokens): "
              f"TRL SFTTrainer {theirs:.6f}, chapter 4 {ours['loss']:.6f}, |Δ| = {d_sft:.1e}")

        theirs, chosen, rejected = reward_parity(rm, data, a.rows, os.path.join(tmp, "o2"), cache)
        ours = json.loads(rlhf(a.rlhf, "loss", "--model", rm, "--data", f"{data}/preference/train.jsonl",
                               "--rows", str(a.rows)))
        d_scores = max(abs(x - y) for x, y in zip(chosen + rejected, ours["chosen"] + ours["rejected"]))
        d_rm = abs(theirs - ours["loss"])
        print(f"pairwise loss, {a.rows} comparisons: TRL RewardTrainer {theirs:.6f}, chapter 5 "
              f"{ours['loss']:.6f}, |Δ| = {d_rm:.1e}; largest |Δ| of a raw score {d_scores:.1e}")
    worst = max(d_sft, d_rm, d_scores)
    print(f"largest difference {worst:.1e} ({'ok' if worst < 1e-4 else 'FAIL'}); {versions}")
    raise SystemExit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
