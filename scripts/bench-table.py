#!/usr/bin/env python3
"""`rlhf bench`'s JSON lines (stdin) as a Markdown table (stdout), for the book."""
import json
import sys

rows = ["| measurement | tokens/s | details |", "|---|---|---|"]
for line in sys.stdin:
    m = json.loads(line)
    if m["bench"] == "train":
        p = m["profile"]
        phases = ", ".join(f"{k.removesuffix('_ms').replace('_', ' + ')} {v:.1f}" for k, v in p.items())
        details = f"batch {m['batch']} × {m['seq_len']}, {m['ms_per_step']:.0f} ms per step ({phases} ms)"
        rows.append(f"| training ({m['implementation']}) | {m['tokens_per_s']:,.0f} | {details} |")
    elif m["bench"] == "generate":
        cache = "with" if m["kv_cache"] else "without"
        who = f" ({m['implementation']})" if "implementation" in m else ""
        rows.append(f"| generation, {cache} KV cache{who} | {m['tokens_per_s']:,.0f} | {m['batch']} prompts of {m['prompt_len']} tokens + {m['new_tokens']} new |")
    elif m["bench"] == "train_ratio":
        rows.append(f"| training: ratio to PyTorch eager | {m['ratio']:.2f} | medians of {m['rounds']} rounds |")
    elif m["bench"] == "generate_ratio":
        rows.append(f"| generation with the cache: ratio to PyTorch eager (its own cache) | {m['ratio']:.2f} | medians of {m['rounds']} rounds |")
threads = m.get("threads", "?")
print("\n".join(rows))
print(f"\n({threads} threads.)")
