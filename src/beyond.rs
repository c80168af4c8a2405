//! Chapter 8's commands: `rlhf dpo`, `rlhf grpo` and `rlhf frontier`, from a finished run.

use crate::args::{FromRun, Preset, count, positive};
use crate::progress;
use crate::run_dir::RunDir;
use anyhow::{Context, Result, ensure};
use ch04_sft::EvalConfig;
use ch05_reward::RewardModel;
use ch06_ppo::{Column, Env};
use ch08_beyond::dpo_train::Comparisons;
use ch08_beyond::{DpoConfig, GrpoConfig, PreferenceLoss};
use clap::{Args, ValueEnum};
use std::path::Path;
use world::World;

/// DPO's loss, or IPO's (chapter 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    Dpo,
    Ipo,
}

impl LossArg {
    pub fn name(self) -> &'static str {
        match self {
            LossArg::Dpo => "dpo",
            LossArg::Ipo => "ipo",
        }
    }
}

impl From<LossArg> for PreferenceLoss {
    fn from(l: LossArg) -> Self {
        match l {
            LossArg::Dpo => PreferenceLoss::Dpo,
            LossArg::Ipo => PreferenceLoss::Ipo,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct DpoArgs {
    /// The run, and the output directory (default: <run>/dpo, or <run>/ipo with `--loss ipo`).
    #[command(flatten)]
    pub from: FromRun,
    /// The size of the run: `tiny` or `small`.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// The loss.
    #[arg(long, value_enum, default_value = "dpo")]
    pub loss: LossArg,
    /// β (default: the preset's).
    #[arg(long, value_parser = positive)]
    pub beta: Option<f64>,
    /// Optimiser steps (default: the preset's).
    #[arg(long, value_parser = count)]
    pub steps: Option<usize>,
}

#[derive(Args, Debug, Clone)]
pub struct GrpoArgs {
    /// The run (its world, SFT model and reward model, to measure with), and the output
    /// directory (default: <run>/grpo).
    #[command(flatten)]
    pub from: FromRun,
    /// The size of the run: `tiny` or `small`.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Iterations (default: the preset's).
    #[arg(long, value_parser = count)]
    pub iterations: Option<usize>,
    /// Learning rate (default: the preset's).
    #[arg(long, value_parser = positive)]
    pub lr: Option<f64>,
    /// RLOO's leave-one-out baseline instead of GRPO's standardised advantage.
    #[arg(long)]
    pub rloo: bool,
}

#[derive(Args, Debug, Clone)]
pub struct FrontierArgs {
    /// The run, with whichever of ppo/, dpo/, ipo/, grpo/ it has, and the output directory
    /// (default: <run>/frontier).
    #[command(flatten)]
    pub from: FromRun,
    /// Best-of-n columns, comma-separated n.
    #[arg(long, value_delimiter = ',', default_value = "4,16")]
    pub best_of: Vec<usize>,
}

/// A finished run's world, SFT model (and tokenizer) and reward model.
pub struct RunModels {
    pub world: World,
    pub sft: ch03_gpt::Gpt,
    pub tok: ch01_tokenizer::tokenizers::Tokenizer,
    pub rm: RewardModel,
}

/// Load what the chapter starts from, with errors that say which stage is missing.
pub fn load_run(run: &Path) -> Result<RunModels> {
    let r = RunDir::new(run);
    let (world_dir, sft_dir, reward_dir) = (r.world(), r.sft(), r.reward_model());
    for (what, dir) in [
        ("world", &world_dir),
        ("SFT checkpoint", &sft_dir),
        ("reward model", &reward_dir),
    ] {
        ensure!(
            dir.is_dir(),
            "--run `{}` has no {what} (`{}`): run the pipeline first (`cargo run --release`)",
            run.display(),
            dir.display()
        );
    }
    let world = World::read_from(&world_dir)?;
    let (sft, tok) = crate::compute::load_with_tokenizer(&sft_dir, "SFT checkpoint")?;
    let rm = crate::compute::load_reward_for(&reward_dir, &sft, "reward model")?;
    Ok(RunModels {
        world,
        sft,
        tok,
        rm,
    })
}

impl RunModels {
    fn env(&self) -> Env<'_> {
        Env {
            world: &self.world,
            tok: &self.tok,
            reference: &self.sft,
            rm: &self.rm,
            corpus: &[],
            score: None,
        }
    }
}

/// `rlhf dpo`: DPO (or IPO) from the run's SFT model on its reward stage's comparisons;
/// the policy goes to `out/checkpoint`, plots and `dpo_report.json` beside it.
pub fn dpo_command(a: &DpoArgs) -> Result<ch08_beyond::DpoReport> {
    let (run, out) = (&a.from.run, &a.from.out_or(a.loss.name()));
    let mut cfg = DpoConfig::preset(a.preset)?;
    cfg.loss = a.loss.into();
    if let Some(b) = a.beta {
        cfg.beta = b;
    }
    if let Some(s) = a.steps {
        cfg.steps = s;
    }
    let m = load_run(run)?;
    let reward = RunDir::new(run).stage("reward");
    let (train, heldout) = (
        ch05_reward::read_pairs(
            &reward.join(ch05_reward::TRAIN_PAIRS),
            m.world.prompts.train.len(),
        )?,
        ch05_reward::read_pairs(
            &reward.join(ch05_reward::HELDOUT_PAIRS),
            m.world.prompts.heldout.len(),
        )?,
    );
    let comparisons = Comparisons {
        train_prompts: &m.world.prompts.train,
        train: &train,
        heldout_prompts: &m.world.prompts.heldout,
        heldout: &heldout,
    };
    files::ensure_dir(out, "--out")?;
    let bar = progress::steps(cfg.steps as u64);
    bar.set_message(cfg.loss.name());
    let (policy, report) = ch08_beyond::run_dpo(
        m.env(),
        comparisons,
        &cfg,
        &EvalConfig::default(),
        out,
        |r| {
            bar.set_position(r.step as u64);
            bar.set_message(format!(
                "{} loss {:.3}, margin {:+.2}",
                cfg.loss.name(),
                r.loss,
                r.margin
            ));
        },
    )?;
    bar.finish_and_clear();
    crate::sft::save_checkpoint(&policy, &m.tok, &out.join("checkpoint"))?;
    let h = &report.heldout;
    println!(
        "{}: held-out comparisons ordered as labelled {:.1}%, as the gold utility {:.1}%; log π/π_ref chosen {:+.2}, rejected {:+.2}; gold reward {:.2}, KL {:.2}",
        cfg.loss.name(),
        100.0 * h.accuracy,
        100.0 * h.gold_accuracy,
        h.chosen_log_ratio,
        h.rejected_log_ratio,
        report.column.capabilities.gold_reward,
        report.column.kl
    );
    Ok(report)
}

/// `rlhf grpo`: GRPO from the run's SFT model on the world's arithmetic, rewarded by a
/// checker; the policy goes to `out/checkpoint`, plots and `grpo_report.json` beside it.
pub fn grpo_command(a: &GrpoArgs) -> Result<ch08_beyond::GrpoReport> {
    let (run, out) = (&a.from.run, &a.from.out_or("grpo"));
    let mut cfg = GrpoConfig::preset(a.preset)?;
    if let Some(n) = a.iterations {
        cfg.iterations = n;
    }
    if let Some(lr) = a.lr {
        cfg.lr = lr;
    }
    cfg.rloo = a.rloo;
    let m = load_run(run)?;
    files::ensure_dir(out, "--out")?;
    let bar = progress::steps(cfg.iterations as u64);
    bar.set_message("GRPO");
    let (policy, report) =
        ch08_beyond::run_grpo(m.env(), &cfg, &EvalConfig::default(), out, |r| {
            bar.set_position(r.iteration as u64);
            bar.set_message(format!("right {:.2}, KL {:.2}", r.reward, r.kl));
        })?;
    bar.finish_and_clear();
    crate::sft::save_checkpoint(&policy, &m.tok, &out.join("checkpoint"))?;
    println!(
        "GRPO: held-out arithmetic answered right (greedy): the world's {:.1}% → {:.1}%, the easier problems' {:.1}% → {:.1}%; gold reward {:.2}, KL {:.2}",
        100.0 * report.heldout_before,
        100.0 * report.heldout_after,
        100.0 * report.easy_before,
        100.0 * report.easy_after,
        report.column.capabilities.gold_reward,
        report.column.kl
    );
    Ok(report)
}

/// `rlhf frontier`: SFT, best-of-n, PPO, and every chapter 8 policy the run has (`dpo-60`:
/// DPO stopped early, `rlhf dpo --steps 60 --out <run>/dpo-60`), measured
/// on the same held-out prompts; `frontier.md`, `frontier.json` and `frontier.svg` in `out`.
pub fn frontier_command(a: &FrontierArgs) -> Result<Vec<ch08_beyond::frontier::Point>> {
    let (run, out, best_of) = (&a.from.run, &a.from.out_or("frontier"), &a.best_of);
    let m = load_run(run)?;
    let eval = EvalConfig::default();
    let heldout = &m.world.prompts.heldout;
    let measure =
        |g: &ch03_gpt::Gpt| ch06_ppo::measure(&m.world, &m.tok, g, &m.sft, &m.rm, heldout, &eval);
    let mut columns: Vec<(String, Column)> = vec![("SFT".into(), measure(&m.sft)?)];
    let ppo_cfg = ch06_ppo::PpoConfig::small();
    for &n in best_of {
        let c = ch07_overopt::column::best_of_n_column(
            &m.world, &m.tok, &m.sft, &m.rm, heldout, n, &ppo_cfg,
        )?;
        columns.push((format!("best-of-{n}"), c));
    }
    for (name, dir) in [
        ("PPO", "ppo"),
        ("DPO", "dpo"),
        ("DPO, 60 steps", "dpo-60"),
        ("IPO", "ipo"),
        ("GRPO", "grpo"),
    ] {
        let ckpt = RunDir::new(run).checkpoint(dir);
        if ckpt.is_dir() {
            let g = crate::compute::load(&ckpt).with_context(|| format!("`{}`", ckpt.display()))?;
            columns.push((name.into(), measure(&g)?));
        }
    }
    let points = ch08_beyond::frontier::frontier(&m.world, &columns, m.world.config.seed)?;
    files::ensure_dir(out, "--out")?;
    let table = ch08_beyond::frontier::table(&points);
    files::write_string_atomic(&out.join("frontier.md"), &table)?;
    files::write_string_atomic(
        &out.join("frontier.json"),
        &serde_json::to_string_pretty(&points)?,
    )?;
    plot::Chart::save_svg(
        &ch08_beyond::frontier::chart(&points),
        &out.join("frontier.svg"),
    )?;
    println!("{table}");
    Ok(points)
}
