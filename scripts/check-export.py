#!/usr/bin/env python3
"""Check that an exported checkpoint loads in Hugging Face transformers, gives the same
logits as `rlhf generate` (at each prompt's last position, to within 1e-4) and continues
prompts exactly as it does (greedy, token for token).

    cargo run --release -- export --model runs/default/ppo/checkpoint --out /tmp/rlhf-gpt2
    python scripts/check-export.py /tmp/rlhf-gpt2 --rlhf target/release/rlhf

Needs `torch` and `transformers` (pip install torch transformers). Not run in CI.
"""
import argparse
import json
import subprocess

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

PROMPTS = [
    "<|user|>What colour is the flag of Bramford?\n<|assistant|>",
    "<|user|>How much is 4 plus 5?\n<|assistant|>",
    "<|user|>Say something kind about Ada Quill.\n<|assistant|>",
    "Once upon a time,",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--rlhf", default="target/release/rlhf")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    a = ap.parse_args()
    model = GPT2LMHeadModel.from_pretrained(a.dir).eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{a.dir}/tokenizer.json")
    stops = [tok.convert_tokens_to_ids(t) for t in ("<|end|>", "<|endoftext|>")]
    failures = 0
    for prompt in PROMPTS:
        ours = json.loads(subprocess.run(
            [a.rlhf, "generate", "--model", a.dir, "--prompt", prompt, "--greedy", "--json", "--logits",
             "--max-new-tokens", str(a.max_new_tokens)],
            check=True, capture_output=True, text=True).stdout)
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        assert ids == ours["prompt_ids"], f"tokenization differs: {ids} vs {ours['prompt_ids']}"
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
            diff = (logits - torch.tensor(ours["last_logits"])).abs().max().item()
            out = model.generate(torch.tensor([ids]), max_new_tokens=a.max_new_tokens, do_sample=False,
                                 eos_token_id=stops, pad_token_id=0, attention_mask=torch.ones(1, len(ids), dtype=torch.long))
        theirs = out[0, len(ids):].tolist()
        same = theirs == ours["new_ids"] and diff < 1e-4
        failures += not same
        print(f"{'ok  ' if same else 'DIFF'} max |Δlogit| {diff:.1e}  {prompt!r} → {tok.decode(theirs)!r}")
        if not same:
            print(f"     transformers {theirs}\n     rlhf         {ours['new_ids']}")
    print(f"{len(PROMPTS) - failures} of {len(PROMPTS)} prompts: same logits and identical continuations")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
