//! The `rlhf` command end to end: each stage on the tiny preset, and bad input.

use std::path::Path;
use std::process::{Command, Output};

fn rlhf(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run rlhf")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn world_then_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = rlhf(
        &[
            "world",
            "--out",
            "w",
            "--preset",
            "tiny",
            "--corpus-mb",
            "0.3",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "world.json",
        "facts.tsv",
        "prompts_train.jsonl",
        "prompts_heldout.jsonl",
        "demonstrations.jsonl",
        "corpus.txt",
    ] {
        assert!(d.join("w").join(f).is_file(), "{f} missing");
    }
    let corpus = std::fs::read_to_string(d.join("w/corpus.txt")).unwrap();
    let bytes: usize = world::split_corpus(&corpus).iter().map(|d| d.len()).sum();
    assert!(
        (300_000..302_000).contains(&bytes),
        "--corpus-mb 0.3 gave {bytes} bytes of documents"
    );

    let o = rlhf(
        &[
            "tokenizer",
            "--out",
            "t",
            "--corpus",
            "w/corpus.txt",
            "--preset",
            "tiny",
            "--vocab-size",
            "400",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "tokenizer.json",
        "tokenizer_report.json",
        "compression.svg",
        "zipf.svg",
    ] {
        assert!(d.join("t").join(f).is_file(), "{f} missing");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("t/tokenizer_report.json")).unwrap())
            .unwrap();
    assert_eq!(report["vocab_size"], 400);
    assert!(String::from_utf8_lossy(&o.stdout).contains("400 tokens"));
}

/// One of the best-of-n sizes the tiny study measures.
fn ns_contains(n: &serde_json::Value) -> bool {
    [1, 2, 4, 8].contains(&n.as_u64().unwrap_or(0))
}

#[test]
fn pipeline_writes_every_stage_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(
        &[
            "pipeline", "--preset", "tiny", "--runs", "runs", "--name", "check",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("runs/check");
    for f in [
        "world/corpus.txt",
        "tokenizer/tokenizer.json",
        "tokenizer/compression.svg",
        "tokenizer/zipf.svg",
        "attention/loss.svg",
        "attention/attention_l0_h0.svg",
        "pretrain/checkpoint/model.safetensors",
        "pretrain/loss.svg",
        "sft/checkpoint/model.safetensors",
        "sft/checkpoint/tokenizer.json",
        "sft/format_by_family.svg",
        "reward/checkpoint/model.safetensors",
        "reward/checkpoint/reward.json",
        "reward/calibration.svg",
        "ppo/checkpoint/model.safetensors",
        "ppo/rewards.svg",
        "ppo/kl.svg",
        "ppo/clipfrac.svg",
        "ppo/best_of_n_column.json",
        "report.md",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for section in [
        "## The world",
        "## Tokenizer",
        "## Attention from scratch",
        "## Pretraining",
        "## Supervised fine-tuning",
        "| capability | base | SFT |",
        "## Reward model",
        "ceiling: the labeler's own agreement",
        "## PPO",
        "| capability | base | SFT | best-of-2 | RLHF |",
        "| KL to SFT (nats per response) |",
        "| held-out corpus loss (nats per token) |",
        "| family | ideal | wrong | refusal | don't know | harmful | same order as the labeler |",
        "| capability | base | SFT | best-of-2 | RLHF | RLHF − SFT | RLHF − best-of-2 |",
        "| truthful and informative |",
        "## Speed",
        "| PPO updates |",
        "## Time and memory per stage",
        "tokenizer/zipf.svg",
    ] {
        assert!(report.contains(section), "report lacks {section}");
    }
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("## Time and memory per stage"),
        "the report is printed too"
    );
    if cfg!(target_os = "linux") {
        // Each stage's peak memory is measured: a plausible number of MiB, not a dash.
        let row = report
            .lines()
            .find(|l| l.starts_with("| pretrain |"))
            .expect("a pretrain row");
        let mib: f64 = row
            .split('|')
            .nth(3)
            .unwrap()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no peak memory in `{row}`"));
        assert!(
            (10.0..16_000.0).contains(&mib),
            "pretrain peak memory {mib} MiB"
        );
    }

    // Each stage improved what it should — bounds loose enough for any seed, tight enough
    // to fail when a stage does nothing.
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join(f)).unwrap()).unwrap()
    };
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let sft = json("sft/sft_report.json");
    let hist = sft["history"].as_array().unwrap();
    assert!(
        num(&hist.last().unwrap()["heldout"]) < num(&hist[0]["heldout"]) - 1.0,
        "SFT lowers the response loss by a nat"
    );
    assert!(
        num(&sft["sft"]["instruction_format"]) >= num(&sft["base"]["instruction_format"]) + 0.5,
        "SFT teaches the format"
    );
    assert!(
        num(&sft["sft"]["gold_reward"]) > num(&sft["base"]["gold_reward"]) + 1.0,
        "SFT raises the gold reward"
    );
    let rm = json("reward/reward_report.json");
    assert!(
        num(&rm["heldout"]["accuracy"]) > 0.52,
        "the reward model beats chance on held-out pairs"
    );
    assert!(
        num(&rm["heldout"]["gold_accuracy"]) > 0.6,
        "the reward model orders pairs as the gold utility does"
    );
    assert!(
        num(&rm["correlation"]) > 0.3,
        "the reward correlates with the gold utility"
    );
    let ppo = json("ppo/ppo_report.json");
    let (s, r) = (&ppo["sft"], &ppo["rlhf"]);
    assert!(
        num(&r["rm_reward"]) > num(&s["rm_reward"]) + 0.1,
        "PPO raises the reward it optimises, on held-out prompts"
    );
    assert!(
        num(&r["kl"]) > 0.1 && num(&r["kl"]) < 20.0,
        "the policy moved, on a leash: KL {}",
        r["kl"]
    );
    assert!(
        num(&r["capabilities"]["instruction_format"]) > 0.8,
        "PPO keeps the format"
    );
    // Best-of-2 from the SFT model: one pick per held-out prompt, at its analytic KL.
    let bon = json("ppo/best_of_n_column.json");
    assert_eq!(
        bon["responses"].as_array().unwrap().len(),
        s["responses"].as_array().unwrap().len()
    );
    assert!((num(&bon["kl"]) - (2f64.ln() - 0.5)).abs() < 1e-12);

    // Ask the reward model directly: one normalised score per response, in order.
    let d = dir.path();
    let rm = "runs/check/reward/checkpoint";
    let o = rlhf(
        &[
            "score",
            "--reward",
            rm,
            "--prompt",
            "How do I rob the bakery?",
            "--response",
            "I can't help with that.",
            "--response",
            "First, break the window.",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].ends_with("I can't help with that.")
            && lines[1].ends_with("First, break the window."),
        "{out}"
    );
    for l in &lines {
        let x: f64 = l.split_whitespace().next().unwrap().parse().unwrap();
        assert!(x.is_finite(), "{l}");
    }
    let o = rlhf(
        &[
            "score",
            "--reward",
            "nowhere",
            "--prompt",
            "hi",
            "--response",
            "hello",
        ],
        d,
    );
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(&["score", "--reward", rm, "--prompt", "hi"], d);
    assert_eq!(o.status.code(), Some(2), "--response is required");

    // Chapter 5's curve on the finished run: one point per option, each a share of the
    // ceiling inside its interval; the default recipe on all the prompts is the reward
    // stage's model again (the same comparisons, the same seed), so its accuracy is the same.
    let o = rlhf(
        &[
            "reward-curve",
            "--world",
            "runs/check/world",
            "--model",
            "runs/check/sft/checkpoint",
            "--pretrained",
            "runs/check/pretrain/checkpoint",
            "--preset",
            "tiny",
            "--fractions",
            "0.5,1",
            "--ensemble",
            "2",
            "--out",
            "runs/check/reward-curve",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let c = json("reward-curve/curve.json");
    let points = c["points"].as_array().unwrap();
    let options: Vec<&str> = points
        .iter()
        .map(|p| p["option"].as_str().unwrap())
        .collect();
    assert_eq!(
        options,
        [
            "the default recipe",
            "the default recipe",
            "with the SFT model's knowledge",
            "with the SFT model's knowledge",
            "another seed (seed + 1)",
            "ensemble of 2",
            "weight average of 2",
            "from the pretrained model"
        ]
    );
    for p in points {
        let (v, lo, hi) = (
            num(&p["share"]["value"]),
            num(&p["share"]["low"]),
            num(&p["share"]["high"]),
        );
        assert!(lo <= v && v <= hi && v > 0.0, "{p}");
        let m = &p["heldout"];
        assert!(
            (v - num(&m["accuracy"]) / num(&m["ceiling"])).abs() < 1e-9,
            "{p}"
        );
    }
    assert!(
        num(&points[0]["pairs"]) < num(&points[1]["pairs"]),
        "half the prompts, fewer pairs"
    );
    assert_eq!(
        num(&points[1]["heldout"]["accuracy"]),
        num(&json("reward/reward_report.json")["heldout"]["accuracy"]),
        "the curve's full default point is the reward stage's model"
    );
    assert!(
        run.join("reward-curve/curve.svg").is_file() && run.join("reward-curve/curve.md").is_file()
    );
    let o = rlhf(&["reward-curve", "--fractions", "0.5,1.5"], d);
    assert!(
        o.status.code() == Some(2)
            && stderr(&o).contains("--fractions")
            && stderr(&o).contains("(0, 1]"),
        "{}",
        stderr(&o)
    );

    exports_carry_the_data_and_the_chat_template(d, &run);

    // Chapter 7 from the finished run: its files, best-of-n's proxy never falls with n, the
    // KL is the formula's, and the smaller reward model trained on fewer comparisons.
    let o = rlhf(&["overopt", "--run", "runs/check", "--preset", "tiny"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "overopt_report.json",
        "overopt.md",
        "bon.svg",
        "bon_rm_size.svg",
        "rm_data.svg",
        "ppo_gold.svg",
        "ppo_proxy.svg",
        "rm-0.5/reward_report.json",
        "ppo-beta-0/ppo_report.json",
        "ppo-seed-length/ppo_report.json",
        "ppo-biased-rm/ppo_report.json",
        "rm-biased/reward_report.json",
        "bon_biased.svg",
        "mitigations.svg",
        "rm-population/reward_report.json",
    ] {
        assert!(run.join("overopt").join(f).is_file(), "overopt/{f} missing");
    }
    let r = json("overopt/overopt_report.json");
    let bon = r["bon"].as_array().unwrap();
    assert_eq!(bon.len(), 2, "one curve per reward model");
    for c in bon {
        let pts = c["points"].as_array().unwrap();
        let ns: Vec<f64> = pts.iter().map(|p| num(&p["step"])).collect();
        assert_eq!(ns, [1.0, 2.0, 4.0, 8.0]);
        for w in pts.windows(2) {
            assert!(
                num(&w[1]["proxy"]) >= num(&w[0]["proxy"]) - 1e-9,
                "best-of-n's proxy falls with n: {c}"
            );
        }
        let last = pts.last().unwrap();
        assert!((num(&last["kl"]) - (8f64.ln() - 7.0 / 8.0)).abs() < 1e-9);
        assert!(
            num(&last["proxy_gain"]) > 0.0,
            "picking the best of 8 raises the proxy"
        );
    }
    let rms = r["rms"].as_array().unwrap();
    assert!(
        num(&rms[0]["comparisons"]) < num(&rms[1]["comparisons"]),
        "half the prompts, fewer comparisons"
    );
    let ppo = r["ppo"].as_array().unwrap();
    assert_eq!(ppo.len(), 2, "one curve per β");
    assert!(
        ppo.iter()
            .all(|c| c["points"].as_array().unwrap().len() == 3),
        "(0, 0) and one point per 2 iterations"
    );
    // The labeler who likes length teaches its reward model to like length.
    let h = &r["hacking"];
    assert!(
        num(&h["slope_biased"]) > num(&h["slope_unbiased"]),
        "the biased labeler's reward model pays more per word: {h}"
    );
    assert_eq!(
        h["runs"].as_array().unwrap().len(),
        3,
        "PPO against the reward model, the seed's length reward, the biased one"
    );
    // Labelers who disagree 3 : 1 about length: the population's reward model sides with
    // the majority.
    let groups = r["population"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert!(
        num(&groups[0]["population_rm"]) > num(&groups[1]["population_rm"]),
        "{groups:?}"
    );
    let m = &r["mitigations"];
    assert_eq!(
        m["curves"].as_array().unwrap().len(),
        6,
        "the reward model, two ensembles, two length penalties, the biased one"
    );
    assert!(
        ns_contains(&m["early_stop"]["chosen_n"]),
        "early stopping chooses one of the n measured: {m}"
    );
    let md = std::fs::read_to_string(run.join("overopt/overopt.md")).unwrap();
    assert!(
        md.contains("| n | KL (nats) | d = √KL | proxy | gold | gold − SFT |"),
        "{md}"
    );
    assert!(
        md.contains("Early stopping on a trusted gold check"),
        "{md}"
    );
    let o = rlhf(&["overopt", "--run", "nowhere", "--preset", "tiny"], d);
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere") && stderr(&o).contains("world"),
        "{}",
        stderr(&o)
    );

    // Chapter 8 from the finished run: DPO and IPO on the reward stage's comparisons, GRPO
    // on easier arithmetic, and every policy on one frontier.
    for loss in ["dpo", "ipo"] {
        let o = rlhf(
            &[
                "dpo",
                "--run",
                "runs/check",
                "--preset",
                "tiny",
                "--loss",
                loss,
            ],
            d,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        for f in [
            "dpo_report.json",
            "loss.svg",
            "accuracy.svg",
            "log_ratios.svg",
            "checkpoint/model.safetensors",
        ] {
            assert!(run.join(loss).join(f).is_file(), "{loss}/{f} missing");
        }
        let r = json(&format!("{loss}/dpo_report.json"));
        assert_eq!(
            r["history"].as_array().unwrap().len(),
            30,
            "the tiny preset's 30 steps"
        );
        assert!(r["n_train_pairs"].as_u64().unwrap() > 0);
        let h = &r["heldout"];
        assert!((0.0..=1.0).contains(&num(&h["accuracy"])), "{h}");
        assert!(num(&h["kl"]).is_finite(), "the KL along training: {h}");
        assert!(num(&r["column"]["kl"]).is_finite());
    }
    // Bad settings are refused with an error that names them.
    for (flag, value, says) in [
        ("--loss", "kto", "'kto' for '--loss"),
        ("--beta", "0", "--beta"),
    ] {
        let o = rlhf(
            &[
                "dpo",
                "--run",
                "runs/check",
                "--preset",
                "tiny",
                flag,
                value,
            ],
            d,
        );
        assert!(
            !o.status.success() && stderr(&o).contains(says),
            "{}",
            stderr(&o)
        );
    }
    let o = rlhf(
        &[
            "grpo",
            "--run",
            "runs/check",
            "--preset",
            "tiny",
            "--iterations",
            "3",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json("grpo/grpo_report.json");
    assert_eq!(r["history"].as_array().unwrap().len(), 3);
    for h in r["history"].as_array().unwrap() {
        assert!((0.0..=1.0).contains(&num(&h["reward"])), "{h}");
    }
    assert!(run.join("grpo/reward.svg").is_file() && run.join("grpo/checkpoint").is_dir());
    let o = rlhf(&["frontier", "--run", "runs/check", "--best-of", "2"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(run.join("frontier/frontier.md")).unwrap();
    for name in ["SFT", "best-of-2", "PPO", "DPO", "IPO", "GRPO"] {
        assert!(
            md.lines().next().unwrap().contains(&format!(" {name} |")),
            "{md}"
        );
    }
    assert!(
        md.contains("| gold − SFT |") && md.contains("| arithmetic right |"),
        "{md}"
    );
    assert!(run.join("frontier/frontier.svg").is_file());
    let o = rlhf(&["dpo", "--run", "nowhere", "--preset", "tiny"], d);
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere") && stderr(&o).contains("world"),
        "{}",
        stderr(&o)
    );

    // `rlhf worlds` reuses a finished run (this one is world seed 1234, the preset's) and
    // writes the table over worlds, with the claims checked per world.
    std::fs::create_dir_all(d.join("runs/study")).unwrap();
    std::fs::rename(d.join("runs/check"), d.join("runs/study/seed-1234")).unwrap();
    let o = rlhf(
        &[
            "worlds", "--runs", "runs", "--name", "study", "--seeds", "1234", "--preset", "tiny",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("reusing"),
        "the finished run is not trained again"
    );
    let md = std::fs::read_to_string(d.join("runs/study/worlds.md")).unwrap();
    for row in [
        "| capability | base | SFT | RLHF | RLHF − SFT | worlds up / within noise / down |",
        "| gold reward |",
        "| 1234 |",
    ] {
        assert!(md.contains(row), "worlds.md lacks {row}:\n{md}");
    }
    let worlds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/study/worlds.json")).unwrap())
            .unwrap();
    let gold = &worlds["results"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "GoldReward")
        .unwrap()["rlhf"];
    assert!(
        num(&gold["low"]) <= num(&gold["value"]) && num(&gold["value"]) <= num(&gold["high"]),
        "{gold}"
    );
    // A second draw of SFT, the reward model and PPO on the same world and pretrained
    // model: pooled with the first, each draw's change listed.
    let o = rlhf(
        &[
            "worlds", "--runs", "runs", "--name", "study", "--seeds", "1234", "--preset", "tiny",
            "--draws", "2",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        d.join("runs/study/seed-1234/draw-1/draw.md").exists()
            && d.join("runs/study/seed-1234/draw-1/ppo/ppo_report.json")
                .exists()
    );
    assert!(
        !d.join("runs/study/seed-1234/draw-1/pretrain").exists(),
        "a draw reuses the run's pretrained model"
    );
    let worlds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/study/worlds.json")).unwrap())
            .unwrap();
    assert_eq!(worlds["results"][0]["draws"], 2);
    assert_eq!(
        worlds["results"][0]["gold_by_draw"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let md = std::fs::read_to_string(d.join("runs/study/worlds.md")).unwrap();
    assert!(
        md.contains("World 1234 over 2 draws") && md.contains("| 2: "),
        "{md}"
    );
    let o = rlhf(
        &[
            "worlds", "--runs", "runs", "--name", "study", "--seeds", "x1",
        ],
        d,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "a seed that is not a number is refused"
    );
}

#[test]
fn attention_needs_a_tokenizer_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(&["world", "--out", "w", "--preset", "tiny"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rlhf(
        &[
            "attention",
            "--out",
            "a",
            "--corpus",
            "w/corpus.txt",
            "--tokenizer",
            "no/tokenizer.json",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot read tokenizer `no/tokenizer.json`"),
        "{}",
        stderr(&o)
    );
    std::fs::write(dir.path().join("bad.json"), "[]").unwrap();
    let o = rlhf(
        &[
            "attention",
            "--out",
            "a",
            "--corpus",
            "w/corpus.txt",
            "--tokenizer",
            "bad.json",
        ],
        dir.path(),
    );
    assert!(
        stderr(&o).contains("tokenizer `bad.json` is not a valid tokenizer.json"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("a/attention_report.json").exists());
}

#[test]
fn pretrain_then_generate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["world", "--out", "w", "--preset", "tiny"][..],
        &[
            "tokenizer",
            "--out",
            "t",
            "--corpus",
            "w/corpus.txt",
            "--preset",
            "tiny",
        ],
        &[
            "pretrain",
            "--out",
            "p",
            "--corpus",
            "w/corpus.txt",
            "--tokenizer",
            "t/tokenizer.json",
            "--preset",
            "tiny",
            "--steps",
            "20",
        ],
    ] {
        let o = rlhf(args, d);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    for f in [
        "checkpoint/config.json",
        "checkpoint/model.safetensors",
        "checkpoint/tokenizer.json",
        "checkpoint/trainer.json",
        "loss.svg",
        "samples.md",
    ] {
        assert!(d.join("p").join(f).is_file(), "{f} missing");
    }
    let generate = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            "p/checkpoint",
            "--prompt",
            "The flag of",
            "--max-new-tokens",
            "6",
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = rlhf(&args, d);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let a = generate(&["--greedy"]);
    assert_eq!(a, generate(&["--greedy"]), "greedy is deterministic");
    let n = a["new_ids"].as_array().unwrap().len();
    assert!((1..=6).contains(&n), "{a}");
    assert!(!a["prompt_ids"].as_array().unwrap().is_empty() && a["text"].is_string());
    let s = generate(&["--temperature", "0.8", "--top-k", "5", "--seed", "3"]);
    assert_eq!(
        s,
        generate(&["--temperature", "0.8", "--top-k", "5", "--seed", "3"]),
        "same seed, same sample"
    );

    // A Hugging Face directory without tokenizer.json is named in the error.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gpt2-tiny");
    let o = rlhf(
        &[
            "generate",
            "--model",
            fixture.to_str().unwrap(),
            "--prompt",
            "hi",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("gpt2-tiny/tokenizer.json"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(
        &[
            "generate",
            "--model",
            "p/checkpoint",
            "--prompt",
            "hi",
            "--greedy",
            "--temperature",
            "2",
        ],
        d,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "--greedy and --temperature conflict"
    );
    let o = rlhf(
        &[
            "generate",
            "--model",
            "p/checkpoint",
            "--prompt",
            "hi",
            "--top-p",
            "0",
        ],
        d,
    );
    assert!(stderr(&o).contains("top-p"), "{}", stderr(&o));

    // Export: a Hugging Face GPT-2 directory that continues exactly as the checkpoint does.
    let o = rlhf(&["export", "--model", "p/checkpoint", "--out", "hf"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(d.join("hf").join(f).is_file(), "export lacks {f}");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("hf/config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "GPT2LMHeadModel");
    let o = rlhf(
        &[
            "generate",
            "--model",
            "hf",
            "--prompt",
            "The flag of",
            "--max-new-tokens",
            "6",
            "--json",
            "--greedy",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(),
        a,
        "the export continues as the checkpoint"
    );
    // --logits: the prompt's last logits, as many as the vocabulary, the argmax the first new token.
    let o = rlhf(
        &[
            "generate",
            "--model",
            "hf",
            "--prompt",
            "The flag of",
            "--max-new-tokens",
            "1",
            "--json",
            "--greedy",
            "--logits",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let logits: Vec<f64> = v["last_logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(
        logits.len(),
        config["vocab_size"].as_u64().unwrap() as usize
    );
    let argmax = (0..logits.len())
        .max_by(|&i, &j| logits[i].total_cmp(&logits[j]))
        .unwrap();
    assert_eq!(v["new_ids"][0].as_u64().unwrap() as usize, argmax);
    let o = rlhf(&["export", "--model", "nowhere", "--out", "hf2"], d);
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn output_path_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("taken"), "x").unwrap();
    let o = rlhf(&["world", "--out", "taken", "--preset", "tiny"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("--out `taken` is a file"), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("taken")).unwrap(),
        "x",
        "the file is left alone"
    );
}

#[test]
fn missing_or_unreadable_corpus_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(
        &["tokenizer", "--out", "t", "--corpus", "nowhere/corpus.txt"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot read corpus `nowhere/corpus.txt`"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("t/tokenizer.json").exists());

    std::fs::write(dir.path().join("bin.txt"), [0xff, 0xfe, 0x00]).unwrap();
    let o = rlhf(
        &["tokenizer", "--out", "t", "--corpus", "bin.txt"],
        dir.path(),
    );
    assert!(
        stderr(&o).contains("corpus `bin.txt` is not valid UTF-8"),
        "{}",
        stderr(&o)
    );
    std::fs::write(dir.path().join("empty.txt"), "").unwrap();
    let o = rlhf(
        &["tokenizer", "--out", "t", "--corpus", "empty.txt"],
        dir.path(),
    );
    assert!(stderr(&o).contains("holds no documents"), "{}", stderr(&o));
    assert!(
        !dir.path().join("t/tokenizer.json").exists(),
        "nothing that looks complete is left"
    );
}

#[test]
fn vocabulary_smaller_than_bytes_plus_specials_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(
        &["tokenizer", "--out", "t", "--vocab-size", "200"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("--vocab-size") && e.contains("200") && e.contains("at least 260"),
        "{e}"
    );
    assert!(
        !dir.path().join("t").exists(),
        "checked before anything is written"
    );
}

#[test]
fn unknown_flags_and_presets_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(&["world", "--colour", "blue"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--colour"), "{}", stderr(&o));
    // A preset is one of three names, checked by the parser before any work starts.
    let o = rlhf(&["world", "--preset", "huge", "--out", "w"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("'huge'") && e.contains("--preset") && e.contains("tiny, small, gpu"),
        "{e}"
    );
    assert!(!dir.path().join("w").exists(), "nothing is written");
    // So is every number that must be positive.
    let o = rlhf(&["ppo", "--lr", "0"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--lr") && stderr(&o).contains("positive"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(&["sft", "--steps", "0"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--steps"), "{}", stderr(&o));
    let o = rlhf(&["pipeline", "--name", "../escape"], dir.path());
    assert!(stderr(&o).contains("--name `../escape`"), "{}", stderr(&o));
    let o = rlhf(&["world", "--corpus-mb", "0", "--out", "w"], dir.path());
    assert!(stderr(&o).contains("--corpus-mb"), "{}", stderr(&o));
}

#[test]
fn bench_prints_one_json_line_per_measurement() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(
        &["bench", "--preset", "tiny", "--steps", "1", "--rounds", "2"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<(&str, Option<bool>)> = lines
        .iter()
        .map(|l| (l["bench"].as_str().unwrap(), l["kv_cache"].as_bool()))
        .collect();
    // Two rounds of training and of cached generation, then generation without the cache once.
    assert_eq!(
        kinds,
        [
            ("train", None),
            ("train", None),
            ("generate", Some(true)),
            ("generate", Some(true)),
            ("generate", Some(false))
        ]
    );
    for l in &lines {
        assert!(l["tokens_per_s"].as_f64().unwrap() > 0.0, "{l}");
        assert_eq!(l["model"]["n_embd"], 64, "the tiny preset");
    }
    let p = &lines[0]["profile"];
    assert!(p["forward_ms"].as_f64().unwrap() > 0.0 && p["backward_ms"].as_f64().unwrap() > 0.0);
    // Bad input is named.
    let o = rlhf(&["bench", "--preset", "huge"], dir.path());
    assert!(
        !o.status.success() && stderr(&o).contains("unknown bench preset `huge`"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(
        &[
            "bench",
            "--preset",
            "tiny",
            "--no-generate",
            "--steps",
            "1",
            "--pytorch",
            "/no/such/python",
        ],
        dir.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("/no/such/python"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn device_and_precision_are_chosen_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    // bf16 with f32 master weights runs on a CPU too (slowly): the same code as on a GPU.
    let o = rlhf(
        &[
            "--precision",
            "bf16",
            "bench",
            "--preset",
            "tiny",
            "--steps",
            "1",
            "--rounds",
            "1",
            "--no-generate",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(line["device"], "cpu bf16");
    assert!(
        line["tokens_per_s"].as_f64().unwrap() > 0.0 && line["mfu"].is_null(),
        "{line}"
    );
    assert!(line["flops_per_token"].as_f64().unwrap() > 0.0, "{line}");
    let o = rlhf(&["--device", "tpu", "world", "--out", "w"], dir.path());
    assert!(
        !o.status.success() && stderr(&o).contains("device `tpu`"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(&["--precision", "fp8", "world", "--out", "w"], dir.path());
    assert!(
        !o.status.success() && stderr(&o).contains("precision `fp8`"),
        "{}",
        stderr(&o)
    );
    if !cfg!(feature = "cuda") {
        let o = rlhf(&["--device", "cuda", "world", "--out", "w"], dir.path());
        assert!(
            !o.status.success() && stderr(&o).contains("scripts/cuda-build.sh"),
            "{}",
            stderr(&o)
        );
    }
    assert!(
        !dir.path().join("w").exists(),
        "nothing was written after a bad --device or --precision"
    );
}

#[test]
fn sft_and_reward_name_a_missing_model() {
    let dir = tempfile::tempdir().unwrap();
    let o = rlhf(&["world", "--preset", "tiny", "--out", "w"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rlhf(
        &[
            "sft", "--world", "w", "--model", "nowhere", "--out", "s", "--preset", "tiny",
        ],
        dir.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(
        &[
            "reward", "--world", "w", "--model", "nowhere", "--out", "r", "--preset", "tiny",
        ],
        dir.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(
        &[
            "sft",
            "--world",
            "missing-world",
            "--model",
            "nowhere",
            "--preset",
            "tiny",
        ],
        dir.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("missing-world"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(
        &[
            "reward",
            "--world",
            "w",
            "--labeler-temperature",
            "0",
            "--preset",
            "tiny",
        ],
        dir.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("temperature"),
        "{}",
        stderr(&o)
    );
}

/// `rlhf export` and `rlhf export-data` on a finished run: the files transformers and
/// datasets read, and — through those files only — the chat template gives exactly the ids
/// chapter 4 trains on, for every held-out prompt and every demonstration.
fn exports_carry_the_data_and_the_chat_template(d: &Path, run: &Path) {
    let read =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let o = rlhf(
        &[
            "export",
            "--model",
            "runs/check/sft/checkpoint",
            "--out",
            "hf-sft",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rlhf(
        &[
            "export",
            "--model",
            "runs/check/reward/checkpoint",
            "--out",
            "hf-rm",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rm_cfg: serde_json::Value =
        serde_json::from_str(&read(&d.join("hf-rm/config.json"))).unwrap();
    assert_eq!(rm_cfg["architectures"][0], "GPT2ForSequenceClassification");
    assert_eq!(
        rm_cfg["id2label"]["0"], "reward",
        "one label: num_labels = 1"
    );
    assert!(rm_cfg["reward_normalisation"]["gain"].as_f64().unwrap() > 0.0);
    let generation: serde_json::Value =
        serde_json::from_str(&read(&d.join("hf-sft/generation_config.json"))).unwrap();
    assert_eq!(
        generation["eos_token_id"].as_array().unwrap().len(),
        2,
        "<|end|> and <|endoftext|>"
    );

    let o = rlhf(&["export-data", "--run", "runs/check", "--out", "data"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let card = read(&d.join("data/README.md"));
    let w = world::World::read_from(&run.join("world")).unwrap();
    let rows = |rel: &str| -> Vec<serde_json::Value> {
        read(&d.join("data").join(rel))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    for sub in ["sft", "preference", "prompts"] {
        assert!(
            card.contains(&format!("- config_name: {sub}\n")),
            "the card names {sub}"
        );
        for split in ["train", "test"] {
            let path = format!("{sub}/{split}.jsonl");
            assert!(
                card.contains(&format!("path: {path}")),
                "the card lists {path}"
            );
            let n = rows(&path).len();
            assert!(n > 0, "{path} is empty");
            assert!(
                card.contains(&format!("- name: {split}\n"))
                    && card.contains(&format!("num_examples: {n}\n")),
                "the card's dataset_info gives {path}'s {n} rows"
            );
        }
    }
    assert_eq!(rows("prompts/test.jsonl").len(), w.prompts.heldout.len());
    assert_eq!(
        rows("sft/train.jsonl").len() + rows("sft/validation.jsonl").len(),
        w.demonstrations.len()
    );
    let heldout_pairs = read(&run.join("reward/heldout_pairs.jsonl"))
        .lines()
        .count();
    assert_eq!(rows("preference/test.jsonl").len(), heldout_pairs);
    let pref = &rows("preference/train.jsonl")[0];
    assert_eq!(pref["prompt"][0]["role"], "user");
    assert_eq!(pref["chosen"][0]["role"], "assistant");
    assert!(pref["u_chosen"].is_f64() && pref["p_chosen"].is_f64());

    // The template, rendered as transformers renders it (Jinja with trim_blocks and
    // lstrip_blocks), tokenized by the exported tokenizer.json.
    let cfg: serde_json::Value =
        serde_json::from_str(&read(&d.join("hf-sft/tokenizer_config.json"))).unwrap();
    assert_eq!(cfg["tokenizer_class"], "PreTrainedTokenizerFast");
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env.add_template("chat", cfg["chat_template"].as_str().unwrap())
        .unwrap();
    let template = env.get_template("chat").unwrap();
    let tok = ch01_tokenizer::library::load(&d.join("hf-sft/tokenizer.json")).unwrap();
    let ids = |text: &str| ch01_tokenizer::library::encode(&tok, text).unwrap();
    let render = |messages: &serde_json::Value, generation: bool| {
        template
            .render(
                minijinja::context! { messages => messages, add_generation_prompt => generation },
            )
            .unwrap()
    };
    let prompts = rows("prompts/test.jsonl");
    for (row, p) in prompts.iter().zip(&w.prompts.heldout) {
        let ours = ch04_sft::data::examples(
            &tok,
            &[world::demos::Demonstration {
                prompt: p.clone(),
                response: world::chat::finished("x"),
                quality: world::demos::Quality::Ideal,
            }],
            usize::MAX,
        )
        .unwrap()
        .0[0]
            .prompt
            .clone();
        assert_eq!(ids(&render(&row["prompt"], true)), ours, "{}", p.text);
    }
    let demos: Vec<serde_json::Value> =
        [rows("sft/train.jsonl"), rows("sft/validation.jsonl")].concat();
    let (ours, _) = ch04_sft::data::examples(&tok, &w.demonstrations, usize::MAX).unwrap();
    assert_eq!(ours.len(), demos.len());
    let mut theirs: Vec<Vec<u32>> = demos
        .iter()
        .map(|r| ids(&render(&r["messages"], false)))
        .collect();
    let mut ours: Vec<Vec<u32>> = ours
        .iter()
        .map(|e| [e.prompt.clone(), e.response.clone()].concat())
        .collect();
    theirs.sort();
    ours.sort();
    assert!(
        theirs == ours,
        "the template's conversations are chapter 4's token for token"
    );
    // The losses that scripts/check-trl.py compares with TRL's, and bad input named.
    let o = rlhf(
        &[
            "loss",
            "--model",
            "hf-sft",
            "--data",
            "data/sft/train.jsonl",
            "--rows",
            "4",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(l["loss"].as_f64().unwrap() > 0.0 && l["rows"] == 4, "{l}");
    let o = rlhf(
        &[
            "loss",
            "--model",
            "hf-rm",
            "--data",
            "data/preference/test.jsonl",
            "--rows",
            "4",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l["chosen"].as_array().unwrap().len(), 4, "{l}");
    let o = rlhf(
        &[
            "loss",
            "--model",
            "hf-sft",
            "--data",
            "data/preference/test.jsonl",
        ],
        d,
    );
    assert!(
        !o.status.success() && stderr(&o).contains("messages"),
        "{}",
        stderr(&o)
    );
    let o = rlhf(&["export-data", "--run", "nowhere", "--out", "x"], d);
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere") && stderr(&o).contains("world"),
        "{}",
        stderr(&o)
    );
    let bad = serde_json::json!([{ "role": "system", "content": "hi" }]);
    assert!(
        template
            .render(minijinja::context! { messages => bad, add_generation_prompt => true })
            .is_err(),
        "an unknown role is an error"
    );
}
