//! Chapter 6's command: `rlhf ppo`.

use crate::progress;
use anyhow::{Context, Result, ensure};
use ch04_sft::EvalConfig;
use ch06_ppo::{Column, PpoConfig, Report};
use std::fmt::Write as _;
use std::path::Path;
use world::World;

/// The base model's column of the capability table, beside `ppo_report.json`.
pub const BASE_COLUMN: &str = "base_column.json";
/// The best-of-n column (chapter 7's selection from the SFT model), beside it.
pub const BEST_OF_N_COLUMN: &str = "best_of_n_column.json";

/// Settings of `rlhf ppo` that replace the preset's.
#[derive(Clone, Copy, Default)]
pub struct Overrides {
    pub iterations: Option<usize>,
    pub kl_coef: Option<f64>,
    pub temperature: Option<f64>,
    pub lr: Option<f64>,
    pub rollout_batch: Option<usize>,
    pub prompt_baseline: Option<bool>,
    pub ptx_coef: Option<f64>,
    pub ptx_demo_share: Option<f64>,
    /// Another draw of the stage's randomness (0: the preset's seed).
    pub draw: u64,
}

/// What `rlhf ppo` reports: the PPO run, and the base model measured the same way when given.
pub struct PpoSummary {
    pub report: Report,
    pub base: Option<Column>,
    /// Best-of-n from the SFT model against the same reward model (`best_of_n` of the
    /// config; none when 0).
    pub best_of_n: Option<Column>,
    /// The world the prompts came from (to judge responses again for intervals).
    pub world: World,
}

/// `rlhf ppo`: PPO from the SFT checkpoint against the reward model; the policy goes to
/// `out/checkpoint`, the diagnostics' plots and `ppo_report.json` beside it.
pub fn ppo_command(
    out: &Path,
    world_dir: &Path,
    sft_dir: &Path,
    reward_dir: &Path,
    base_dir: Option<&Path>,
    preset: &str,
    o: &Overrides,
) -> Result<PpoSummary> {
    let mut cfg = PpoConfig::preset(preset)?;
    let Overrides {
        iterations,
        kl_coef,
        temperature,
        lr,
        rollout_batch,
        prompt_baseline,
        ptx_coef,
        ptx_demo_share,
        draw,
    } = *o;
    cfg.seed += draw;
    if let Some(s) = ptx_demo_share {
        cfg.ptx_demo_share = s;
    }
    if let Some(g) = ptx_coef {
        ensure!(g >= 0.0 && g.is_finite(), "--ptx-coef must be ≥ 0, got {g}");
        cfg.ptx_coef = g;
    }
    if let Some(b) = prompt_baseline {
        cfg.prompt_baseline = b;
    }
    if let Some(lr) = lr {
        ensure!(
            lr > 0.0 && lr.is_finite(),
            "--lr must be positive, got {lr}"
        );
        cfg.lr = lr;
    }
    if let Some(n) = rollout_batch {
        ensure!(n > 0, "--rollout-batch must be positive");
        cfg.rollout_batch = n;
    }
    if let Some(n) = iterations {
        ensure!(n > 0, "--iterations must be positive");
        cfg.iterations = n;
    }
    if let Some(b) = kl_coef {
        ensure!(b >= 0.0 && b.is_finite(), "--kl-coef must be ≥ 0, got {b}");
        cfg.kl_coef = b;
    }
    if let Some(t) = temperature {
        ensure!(
            t > 0.0 && t.is_finite(),
            "--temperature must be positive, got {t}"
        );
        cfg.temperature = t;
    }
    let w = World::read_from(world_dir)?;
    let sft =
        crate::compute::load(sft_dir).with_context(|| format!("--sft `{}`", sft_dir.display()))?;
    let tok = ch01_tokenizer::library::load(&sft_dir.join("tokenizer.json"))?;
    let rm = crate::compute::load_reward_for(reward_dir, &sft, "--reward")?;
    files::ensure_dir(out, "--out")?;
    let bar = progress::steps(cfg.iterations as u64);
    bar.set_message("PPO");
    let eval = EvalConfig::default();
    let corpus = if cfg.ptx_coef > 0.0 {
        ptx_text(&tok, world_dir, &w, sft.cfg.n_positions, cfg.ptx_demo_share)?
    } else {
        Vec::new()
    };
    let env = ch06_ppo::Env {
        world: &w,
        tok: &tok,
        reference: &sft,
        rm: &rm,
        corpus: &corpus,
        score: None,
    };
    let (policy, report) = ch06_ppo::run(env, &cfg, &eval, out, |s| {
        bar.set_position(s.iteration as u64);
        bar.set_message(format!(
            "RM {:+.2}, gold {:+.2}, KL {:.2}",
            s.rm_reward, s.gold_reward, s.kl
        ));
    })?;
    bar.finish_and_clear();
    crate::sft::save_checkpoint(&policy.gpt, &tok, &out.join("checkpoint"))?;
    // The alignment tax: every model's loss on the corpus's held-out tenth.
    let ids = crate::gpt::corpus_ids(&tok, &world_dir.join(world::CORPUS_FILE))?;
    let heldout_text = &ids[crate::gpt::pretraining_split(ids.len())..];
    let lm_loss = |m: &ch03_gpt::Gpt| {
        ch06_ppo::corpus_loss(m, heldout_text, LM_LOSS_WINDOWS, m.cfg.n_positions.min(128))
    };
    let mut report = report;
    report.sft.lm_loss = Some(lm_loss(&sft)?);
    report.rlhf.lm_loss = Some(lm_loss(&policy.gpt)?);
    files::write_string_atomic(
        &out.join("ppo_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    let base = match base_dir {
        Some(b) => {
            let base =
                crate::compute::load(b).with_context(|| format!("--base `{}`", b.display()))?;
            let mut col = ch06_ppo::measure(&w, &tok, &base, &sft, &rm, &w.prompts.heldout, &eval)?;
            col.lm_loss = Some(lm_loss(&base)?);
            files::write_string_atomic(
                &out.join(BASE_COLUMN),
                &serde_json::to_string_pretty(&col)?,
            )?;
            Some(col)
        }
        None => None,
    };
    let best_of_n = match cfg.best_of_n {
        0 => None,
        n => {
            let col = ch07_overopt::column::best_of_n_column(
                &w,
                &tok,
                &sft,
                &rm,
                &w.prompts.heldout,
                n,
                &cfg,
            )?;
            files::write_string_atomic(
                &out.join(BEST_OF_N_COLUMN),
                &serde_json::to_string_pretty(&col)?,
            )?;
            Some(col)
        }
    };
    let (s, r) = (&report.sft, &report.rlhf);
    println!(
        "ppo: {} iterations; held-out gold reward {:.2} (SFT) → {:.2} (RLHF), RM reward {:.2} → {:.2}, KL to SFT {:.2} → {}",
        cfg.iterations,
        s.capabilities.gold_reward,
        r.capabilities.gold_reward,
        s.rm_reward,
        r.rm_reward,
        r.kl,
        out.join("checkpoint").display()
    );
    Ok(PpoSummary {
        report,
        base,
        best_of_n,
        world: w,
    })
}

/// Windows of the corpus's held-out tenth for the corpus-loss row (128 tokens each).
const LM_LOSS_WINDOWS: usize = 128;

/// The report's PPO section and the capability table.
pub fn report_section(p: &PpoSummary) -> String {
    let r = &p.report;
    let mut s = String::from("## PPO\n\n<!-- ANCHOR: ppo -->\n");
    let last = r.history.last().copied().unwrap_or_default();
    writeln!(
        s,
        "{} iterations of {} rollouts (up to {} tokens, temperature {}), β = {} ({:?}), {} epochs of minibatches of {}. \
         Last iteration: RM reward {:.2}, gold reward {:.2}, KL {:.2} nats, clip fraction {:.2}, entropy {:.2}.",
        r.config.iterations,
        r.config.rollout_batch,
        r.config.max_new_tokens,
        r.config.temperature,
        r.config.kl_coef,
        r.config.kl_control,
        r.config.ppo_epochs,
        r.config.minibatch,
        last.rm_reward,
        last.gold_reward,
        last.kl,
        last.clipfrac,
        last.entropy
    )
    .unwrap();
    s += "<!-- ANCHOR_END: ppo -->\n\n![rewards](ppo/rewards.svg)\n\n![kl](ppo/kl.svg)\n\n";
    s += "<!-- ANCHOR: ppo_samples -->\n";
    s += &r.samples;
    s += "<!-- ANCHOR_END: ppo_samples -->\n\n## The capability table\n\n<!-- ANCHOR: capabilities -->\n";
    writeln!(
        s,
        "Measured on the {} held-out prompts (greedy answers; KL on sampled ones):\n",
        r.sft.capabilities.n
    )
    .unwrap();
    let mut cols: Vec<(&str, &Column)> = Vec::new();
    if let Some(b) = &p.base {
        cols.push(("base", b));
    }
    cols.push(("SFT", &r.sft));
    let bon_name = format!("best-of-{}", r.config.best_of_n);
    if let Some(b) = &p.best_of_n {
        cols.push((&bon_name, b));
    }
    cols.push(("RLHF", &r.rlhf));
    s += &ch06_ppo::table(&cols);
    if p.best_of_n.is_some() {
        let n = r.config.best_of_n;
        writeln!(
            s,
            "\n{bon_name}: {n} samples of the SFT model per prompt at temperature {}, the one the reward model ranks first; no training. Its KL is ln {n} − {}/{n} = {:.2} nats, to the SFT model at that temperature — the KL PPO's penalty charges, which measured {:.2} at PPO's last iteration; the other columns' KL is at temperature 1.",
            r.config.temperature,
            n - 1,
            ch07_overopt::bon::kl_best_of_n(n),
            last.kl
        )
        .unwrap();
    }
    s += "<!-- ANCHOR_END: capabilities -->\n\n";
    s += "How sure are these numbers? Each with its 95% interval (bootstrap over the held-out prompts), and the change from SFT to RLHF with its paired interval:\n\n<!-- ANCHOR: intervals -->\n";
    s += &crate::worlds::interval_table(
        &p.world,
        p.base.as_ref(),
        &r.sft,
        &r.rlhf,
        p.best_of_n.as_ref().map(|b| (bon_name.as_str(), b)),
        0,
    );
    s += "<!-- ANCHOR_END: intervals -->\n\n";
    s
}

/// PPO-ptx's text as token ids: the pretraining corpus's training part (the split
/// pretraining used: its last tenth stays held out) and the SFT demonstrations, mixed so
/// that the demonstrations are `demo_share` of it ([`ch06_ppo::train::ptx_stream`]).
pub fn ptx_text(
    tok: &ch01_tokenizer::tokenizers::Tokenizer,
    world_dir: &Path,
    w: &World,
    context: usize,
    demo_share: f64,
) -> Result<Vec<u32>> {
    let ids = crate::gpt::corpus_ids(tok, &world_dir.join(world::CORPUS_FILE))?;
    let train = &ids[..crate::gpt::pretraining_split(ids.len())];
    let (demos, _) = ch04_sft::data::examples(tok, &w.demonstrations, context)?;
    let demos: Vec<Vec<u32>> = demos
        .into_iter()
        .map(|e| [e.prompt, e.response].concat())
        .collect();
    Ok(ch06_ppo::train::ptx_stream(train, &demos, demo_share))
}
