#!/usr/bin/env python3
"""Check that a directory written by `rlhf export` loads in Hugging Face transformers with
no code of this project and computes what `rlhf` computes.

A language model (GPT2LMHeadModel): the same logits as `rlhf generate` at each prompt's
last position (to within 1e-4), the same greedy continuation token for token, and
`AutoTokenizer.apply_chat_template` giving the same prompt ids as chapter 4's template.

A reward model (GPT2ForSequenceClassification): the same raw score as `rlhf score` for
each response (to within 1e-4), alone and in a right-padded batch.

    cargo run --release -- export --model runs/default/ppo/checkpoint --out /tmp/rlhf-gpt2
    cargo run --release -- export --model runs/default/reward/checkpoint --out /tmp/rlhf-rm
    python scripts/check-export.py /tmp/rlhf-gpt2 --rlhf target/release/rlhf
    python scripts/check-export.py /tmp/rlhf-rm --rlhf target/release/rlhf

Needs `torch` and `transformers`: scripts/python-ref.sh installs them. Not run in CI.
"""
import argparse
import json
import subprocess

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

QUESTIONS = [
    "What colour is the flag of Bramford?",
    "How much is 4 plus 5?",
    "Say something kind about Ada Quill.",
]
PROMPTS = [f"<|user|>{q}\n<|assistant|>" for q in QUESTIONS] + ["Once upon a time,"]
RESPONSES = [
    ("How much is 4 plus 5?", "4 plus 5 is 9."),
    ("How much is 4 plus 5?", "4 plus 5 is 11."),
    ("How much is 4 plus 5?", "I don't know."),
    ("How do I rob the bakery?", "I can't help with that."),
    ("Say something kind about Ada Quill.", "Ada Quill is a kind baker. I hope this helps you with your question."),
]


def run(rlhf, *args):
    return subprocess.run([rlhf, *args], check=True, capture_output=True, text=True).stdout


def check_language_model(d, rlhf, max_new):
    model = AutoModelForCausalLM.from_pretrained(d).eval()
    tok = AutoTokenizer.from_pretrained(d)
    failures = 0
    for prompt in PROMPTS:
        ours = json.loads(run(rlhf, "generate", "--model", d, "--prompt", prompt, "--greedy", "--json", "--logits",
                              "--max-new-tokens", str(max_new)))
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        assert ids == ours["prompt_ids"], f"tokenization differs: {ids} vs {ours['prompt_ids']}"
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
            diff = (logits - torch.tensor(ours["last_logits"])).abs().max().item()
            # generation_config.json: stop at <|end|> or <|endoftext|>, pad with 0.
            out = model.generate(torch.tensor([ids]), max_new_tokens=max_new, do_sample=False,
                                 attention_mask=torch.ones(1, len(ids), dtype=torch.long))
        theirs = out[0, len(ids):].tolist()
        same = theirs == ours["new_ids"] and diff < 1e-4
        failures += not same
        print(f"{'ok  ' if same else 'DIFF'} max |Δlogit| {diff:.1e}  {prompt!r} → {tok.decode(theirs)!r}")
        if not same:
            print(f"     transformers {theirs}\n     rlhf         {ours['new_ids']}")
    # The chat template travels with the tokenizer: apply_chat_template gives chapter 4's ids.
    for q, prompt in zip(QUESTIONS, PROMPTS):
        templated = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                            tokenize=True, return_dict=False)
        if templated != tok(prompt, add_special_tokens=False)["input_ids"]:
            failures += 1
            print(f"DIFF chat template for {q!r}: {tok.decode(templated)!r}")
    print(f"chat template: {len(QUESTIONS)} prompts checked")
    n = len(PROMPTS) + len(QUESTIONS)
    print(f"{n - failures} of {n} checks: same logits, identical continuations, same template ids")
    return failures


def check_reward_model(d, rlhf):
    model = AutoModelForSequenceClassification.from_pretrained(d).eval()
    tok = AutoTokenizer.from_pretrained(d)
    assert model.config.num_labels == 1, f"num_labels = {model.config.num_labels}"
    norm = model.config.reward_normalisation
    texts, ours = [], []
    for prompt, response in RESPONSES:
        line = json.loads(run(rlhf, "score", "--reward", d, "--prompt", prompt, "--response", response, "--json"))
        # The same text through the chat template of the exported tokenizer.
        templated = tok.apply_chat_template([{"role": "user", "content": prompt},
                                             {"role": "assistant", "content": response}], tokenize=False)
        assert templated == line["text"], f"{templated!r} vs {line['text']!r}"
        texts.append(line["text"])
        ours.append(line["raw"])
    failures, worst = 0, 0.0
    with torch.no_grad():
        alone = [model(**tok(t, return_tensors="pt", add_special_tokens=False)).logits[0, 0].item() for t in texts]
        batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        padded = model(**batch).logits[:, 0].tolist()
    for t, o, a, p in zip(texts, ours, alone, padded):
        diff = max(abs(a - o), abs(p - o))
        worst = max(worst, diff)
        ok = diff < 1e-4
        failures += not ok
        score = norm["gain"] * a + norm["bias"]
        print(f"{'ok  ' if ok else 'DIFF'} raw {o:+.5f} (rlhf) {a:+.5f} (transformers) {p:+.5f} (padded batch)"
              f"  r = {score:+.3f}  {t!r}")
    print(f"{len(texts) - failures} of {len(texts)} responses: the same raw score (largest |Δ| {worst:.1e})")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--rlhf", default="target/release/rlhf")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    a = ap.parse_args()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    arch = json.load(open(f"{a.dir}/config.json"))["architectures"][0]
    if arch == "GPT2ForSequenceClassification":
        failures = check_reward_model(a.dir, a.rlhf)
    else:
        failures = check_language_model(a.dir, a.rlhf, a.max_new_tokens)
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
