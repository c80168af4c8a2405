#!/usr/bin/env python3
"""Chapter 6's acceptance on the worlds of a study made by `rlhf worlds` (the book's build
runs it on runs/book), judged with 95% paired-bootstrap intervals over held-out prompts.

A world with several draws of its stages after pretraining (`rlhf worlds --draws`) is
judged on all of them pooled: the mean over draws, with a bootstrap over draws and prompts.

Enforced on every world (the script fails when one does not hold):
  - RLHF is no less helpful, harmless or truthful than SFT beyond noise (no interval of
    those changes lies below zero), and its gold reward is not below SFT's beyond noise;
  - the KL to SFT stays below BOUND nats per response.
Reported, not enforced: the gold reward above SFT's beyond noise (the interval above zero).
That is the claim RLHF should make on every world. Pooled over three draws it held on all
seven worlds measured for chapter 6 ("Across worlds"), but with a margin of a few
hundredths on some (world 39417: +0.16 [+0.03, +0.30]), and a machine whose matrix kernels
round differently trains other trajectories: a margin that small is not a build check.

    python3 scripts/check-acceptance.py runs/book
"""
import json
import sys

BOUND = 4.0  # KL(RLHF ‖ SFT), nats per response (PPO-ptx pulls towards the pretrained model)
NO_WORSE = ["Helpfulness", "Harmlessness", "Truthfulness", "GoldReward"]


def change(m, name):
    c = m[name]["change"]
    if name == "GoldReward":
        return c, f"{c['value']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]"
    return c, f"{100 * c['value']:+.0f} [{100 * c['low']:+.0f}, {100 * c['high']:+.0f}] points"


def main():
    study = sys.argv[1] if len(sys.argv) > 1 else "runs/book"
    report = json.load(open(f"{study}/worlds.json"))
    ok_all, gold_up = True, 0
    for r in report["results"]:
        m = {x["metric"]: x for x in r["metrics"]}
        checks = [(f"KL to SFT {r['kl']:.2f} nats per response (below {BOUND})", r["kl"] < BOUND)]
        for name in NO_WORSE:
            c, text = change(m, name)
            checks.append((f"{name} change {text}: not below zero", c["high"] >= 0))
        draws = r.get("draws", 1)
        each = ", ".join(f"{x:+.2f}" for x in r.get("gold_by_draw", []))
        print(f"world {r['seed']} ({draws} draw{'s' if draws > 1 else ''} of SFT, reward model and PPO, pooled; gold change of each: {each}):")
        for text, ok in checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {text}")
        g, text = change(m, "GoldReward")
        up = g["low"] > 0
        gold_up += up
        print(f"  {'up  ' if up else 'flat'} gold reward change {text} {'above zero' if up else 'not beyond noise'} (reported)")
        ok_all &= all(ok for _, ok in checks)
    print(f"gold reward above SFT's beyond noise on {gold_up} of {len(report['results'])} worlds")
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
