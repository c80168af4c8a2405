#!/usr/bin/env python3
"""The same GPT and the same training step as `rlhf bench`, in PyTorch eager, on CPU or CUDA.

GPT-2 (pre-layer-norm, tanh GELU, tied embeddings, no dropout) written out in plain
PyTorch, trained on random tokens with AdamW (β = 0.9, 0.95; weight decay 0.1 on
matrices only), gradient clipping at global norm 1, f32. Prints one JSON line per
measurement, in the same form as `rlhf bench`:

    python bench/pytorch_gpt.py --threads 2
    python bench/pytorch_gpt.py --threads 2 --generate      # generation with a KV cache
    python bench/pytorch_gpt.py --device cuda --precision bf16 --vocab 50257 --ctx 1024 \
        --width 768 --layers 12 --heads 12 --batch 8 --seq-len 1024

Precision as in `rlhf --precision`: `f32` (TF32 matrix products on a GPU), `f32-strict`,
`bf16` (autocast: bf16 matrix products, f32 weights and optimiser). Eager: no
torch.compile, no fused attention kernel — the same operations our model runs.

`--generate` times generation instead: `--gen-batch` random prompts of `--prompt-len`
tokens, each continued by `--new-tokens` tokens sampled at temperature 1, with a key/value
cache (`past_key_values` in Hugging Face's terms: each step feeds only the newest token and
appends its keys and values to the cache with `torch.cat`, as transformers' default cache
does), under `torch.inference_mode()`.

`rlhf bench --pytorch PYTHON` runs it in the same process tree, alternating with the Rust
measurement, and prints the ratio. Needs only `torch` (pip install torch).
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(c, eps=1e-5)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c, eps=1e-5)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def attention(self, x, mask, cache=None):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        past = 0
        if cache is not None:
            if cache:  # append the new keys and values to the cached ones
                past = cache[0].shape[2]
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.h) + mask[past:past + t, :past + t]
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))

    def forward(self, x, mask, cache=None):
        x = x + self.attention(self.ln_1(x), mask, cache)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, c, h, layers):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(ctx, c)
        self.h = nn.ModuleList(Block(c, h) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c, eps=1e-5)
        mask = torch.full((ctx, ctx), float("-inf")).triu(1)
        self.register_buffer("mask", mask)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def logits(self, idx, caches=None, past=0):
        b, t = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(past, past + t, device=idx.device))
        for i, block in enumerate(self.h):
            x = block(x, self.mask, None if caches is None else caches[i])
        return self.ln_f(x) @ self.wte.weight.t()  # tied head

    def forward(self, idx, targets):
        b, t = idx.shape
        return F.cross_entropy(self.logits(idx).view(b * t, -1), targets.reshape(-1))


def generate(model, a, dev, sync):
    """New tokens per second: prompts continued with the KV cache, sampled at temperature 1."""
    prompts = torch.randint(0, a.vocab, (a.gen_batch, a.prompt_len), device=dev)
    with torch.inference_mode():
        for timed in (False, True):  # one untimed run first (allocator, caches)
            sync()
            t0 = time.perf_counter()
            caches = [[] for _ in model.h]
            logits = model.logits(prompts, caches)[:, -1]
            past = a.prompt_len
            for _ in range(a.new_tokens):
                nxt = torch.multinomial(F.softmax(logits, dim=-1), 1)  # (B, 1)
                logits = model.logits(nxt, caches, past)[:, -1]
                past += 1
            sync()
            seconds = time.perf_counter() - t0
    return a.gen_batch * a.new_tokens / seconds, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--precision", choices=["f32", "f32-strict", "bf16"], default="f32")
    ap.add_argument("--generate", action="store_true", help="time generation with a KV cache instead of training")
    ap.add_argument("--gen-batch", type=int, default=8)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=112)
    a = ap.parse_args()
    torch.manual_seed(7)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = a.precision == "f32"
    torch.backends.cudnn.allow_tf32 = a.precision == "f32"
    autocast = torch.autocast(a.device, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    model = GPT(a.vocab, a.ctx, a.width, a.heads, a.layers).to(dev)
    if a.generate:
        tps, seconds = generate(model, a, dev, sync)
        print(json.dumps({
            "bench": "generate", "kv_cache": True,
            "implementation": f"pytorch {torch.__version__} eager ({a.device} {a.precision})",
            "tokens_per_s": tps, "seconds": seconds, "batch": a.gen_batch, "prompt_len": a.prompt_len,
            "new_tokens": a.new_tokens, "threads": a.threads,
        }), flush=True)
        return
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=2e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True,
    )
    phases = {"forward_loss_ms": 0.0, "backward_ms": 0.0, "clip_ms": 0.0, "adamw_ms": 0.0}
    for step in range(a.warmup_steps + a.steps):
        data = torch.randint(0, a.vocab, (a.batch, a.seq_len + 1), device=dev)
        x, y = data[:, :-1], data[:, 1:]
        sync()
        t0 = time.perf_counter()
        with autocast:
            loss = model(x, y)
        loss.item()
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sync()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        sync()
        t3 = time.perf_counter()
        opt.step()
        sync()
        t4 = time.perf_counter()
        if step >= a.warmup_steps:
            for k, (s, e) in zip(phases, [(t0, t1), (t1, t2), (t2, t3), (t3, t4)]):
                phases[k] += (e - s) * 1e3
    ms = sum(phases.values()) / a.steps
    print(json.dumps({
        "bench": "train",
        "implementation": f"pytorch {torch.__version__} eager ({a.device} {a.precision})",
        "tokens_per_s": a.batch * a.seq_len / (ms / 1e3),
        "ms_per_step": ms,
        "profile": {k: v / a.steps for k, v in phases.items()},
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch": a.batch, "seq_len": a.seq_len, "threads": a.threads,
        "gpu": torch.cuda.get_device_name(0) if a.device == "cuda" else None,
    }), flush=True)


if __name__ == "__main__":
    main()
