#!/usr/bin/env python3
"""Chapter 6's acceptance on the worlds of a study made by `rlhf worlds` (the book's build
runs it on runs/book): on every world, RLHF's gold reward on held-out prompts is above
SFT's beyond noise (the 95% paired-bootstrap interval of the change lies above zero),
RLHF is no less helpful, harmless or truthful than SFT beyond noise (no interval of those
changes lies below zero), and the KL to SFT stays below BOUND nats per response.

    python3 scripts/check-acceptance.py runs/book
"""
import json
import sys

BOUND = 2.0  # KL(RLHF ‖ SFT), nats per response
NO_WORSE = ["Helpfulness", "Harmlessness", "Truthfulness"]


def pts(c):
    return f"{100 * c['value']:+.0f} [{100 * c['low']:+.0f}, {100 * c['high']:+.0f}] points"


def main():
    study = sys.argv[1] if len(sys.argv) > 1 else "runs/book"
    report = json.load(open(f"{study}/worlds.json"))
    ok_all = True
    for r in report["results"]:
        m = {x["metric"]: x for x in r["metrics"]}
        g = m["GoldReward"]["change"]
        checks = [
            (f"gold reward {m['GoldReward']['sft']['value']:.2f} → {m['GoldReward']['rlhf']['value']:.2f}, "
             f"change {g['value']:+.2f} [{g['low']:+.2f}, {g['high']:+.2f}] above zero", g["low"] > 0),
            (f"KL to SFT {r['kl']:.2f} nats per response (below {BOUND})", r["kl"] < BOUND),
        ]
        for name in NO_WORSE:
            c = m[name]["change"]
            checks.append((f"{name.lower()} {pts(c)}: not below zero", c["high"] >= 0))
        print(f"world {r['seed']}:")
        for text, ok in checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {text}")
        ok_all &= all(ok for _, ok in checks)
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
