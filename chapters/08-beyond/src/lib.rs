//! # Chapter 8 — Beyond PPO: DPO and GRPO
//!
//! Two methods that replaced much of PPO since the seed article was written, each
//! removing one of its parts, both measured against PPO on the same world and truth:
//!
//! - **DPO** removes the reward model *and* the sampling: the KL-regularised objective of
//!   chapter 6 has a closed-form optimum, so the policy can be fitted to chapter 5's
//!   comparisons directly ([`dpo`], [`dpo_train`]); IPO, a variant that does not push
//!   margins to infinity.
//! - **GRPO** removes the value function: G samples per prompt, each judged against its
//!   siblings ([`grpo`], [`grpo_train`]), with a reward a program checks instead of a
//!   learned one — the world's arithmetic.
//! - [`frontier`]: every method's gold reward against its KL to the SFT model, with
//!   intervals.

pub mod config;
pub mod dpo;
pub mod dpo_train;
pub mod exercises;
pub mod frontier;
pub mod grpo;
pub mod grpo_train;
pub mod plots;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(not(feature = "exercises"))]
    pub use crate::dpo::dpo_loss;
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{dpo_loss, group_advantages};
    #[cfg(not(feature = "exercises"))]
    pub use crate::grpo::group_advantages;
}

pub use ch06_ppo;
pub use config::{DpoConfig, GrpoConfig};
pub use dpo::PreferenceLoss;

use anyhow::Result;
use ch04_sft::EvalConfig;
use ch06_ppo::{Column, Env};
use dpo_train::{Comparisons, DpoRecord, Heldout};
use grpo_train::GrpoRecord;
use serde::{Deserialize, Serialize};
use std::path::Path;
use world::{Family, Prompt};

/// What a DPO (or IPO) run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DpoReport {
    pub config: DpoConfig,
    /// Comparisons trained on, and held out (those that fit the context).
    pub n_train_pairs: usize,
    pub n_heldout_pairs: usize,
    pub history: Vec<DpoRecord>,
    /// The implicit reward on held-out comparisons at the end (at the start it is 0 for
    /// every response: the policy is the reference).
    pub heldout: Heldout,
    /// The policy measured on held-out prompts like chapter 6's models.
    pub column: Column,
}

// ANCHOR: run_dpo
/// Chapter 8's DPO end to end: fit a copy of `env.reference` (the SFT model) to the
/// comparisons, then measure it on the held-out prompts. Plots and `dpo_report.json` go to
/// `out`.
pub fn run_dpo(
    env: Env,
    comparisons: Comparisons,
    cfg: &DpoConfig,
    eval: &EvalConfig,
    out: &Path,
    on_step: impl FnMut(&DpoRecord),
) -> Result<(ch03_gpt::Gpt, DpoReport)> {
    files::ensure_dir(out, "DPO output")?;
    let sft = env.reference;
    let train_set = dpo_train::encode(sft, env.tok, comparisons.train_prompts, comparisons.train)?;
    let heldout_set = dpo_train::encode(
        sft,
        env.tok,
        comparisons.heldout_prompts,
        comparisons.heldout,
    )?;
    // The KL along training, on 64 held-out prompts (the end's on all of them, below).
    let probe_prompts = &env.world.prompts.heldout[..64.min(env.world.prompts.heldout.len())];
    let probe = |g: &ch03_gpt::Gpt| ch06_ppo::sampled_kl(g, sft, env.tok, probe_prompts, eval, 62);
    let (policy, history) =
        dpo_train::train(sft, &train_set, &heldout_set, cfg, Some(&probe), on_step)?;
    let heldout = history
        .iter()
        .rev()
        .find_map(|r| r.heldout)
        .expect("the last step measures the held-out comparisons");
    let w = env.world;
    let column = ch06_ppo::measure(w, env.tok, &policy, sft, env.rm, &w.prompts.heldout, eval)?;
    // ANCHOR_END: run_dpo
    plots::dpo(&history, cfg.loss.name(), out)?;
    let report = DpoReport {
        config: cfg.clone(),
        n_train_pairs: train_set.pairs.len(),
        n_heldout_pairs: heldout_set.pairs.len(),
        history,
        heldout,
        column,
    };
    files::write_string_atomic(
        &out.join("dpo_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    Ok((policy, report))
}

/// What a GRPO run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrpoReport {
    pub config: GrpoConfig,
    pub n_prompts: usize,
    pub history: Vec<GrpoRecord>,
    /// The checker's verdict on the greedy answers to the held-out arithmetic prompts,
    /// before (SFT) and after.
    pub heldout_before: f64,
    pub heldout_after: f64,
    /// The same on the held-out problems of the easier arithmetic it trained on (NaN when
    /// it trained on the world's own).
    pub easy_before: f64,
    pub easy_after: f64,
    /// The policy measured on held-out prompts like chapter 6's models.
    pub column: Column,
}

/// The world's prompts that have a checkable answer (arithmetic).
pub fn checkable(prompts: &[Prompt]) -> Vec<Prompt> {
    prompts
        .iter()
        .filter(|p| p.family == Family::Arithmetic)
        .cloned()
        .collect()
}

/// The fraction of `responses[i]` to `prompts[i]` the checker accepts, over the prompts it
/// can check.
pub fn checker_accuracy(prompts: &[Prompt], responses: &[String]) -> f64 {
    let v: Vec<f64> = prompts
        .iter()
        .zip(responses)
        .filter_map(|(p, r)| grpo::verifiable_reward(p, r))
        .collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

// ANCHOR: run_grpo
/// Chapter 8's GRPO end to end: from a copy of `env.reference` (the SFT model) on the
/// world's arithmetic training prompts, rewarded by the checker alone (no reward model),
/// then measured on every held-out prompt. Plots and `grpo_report.json` go to `out`.
pub fn run_grpo(
    env: Env,
    cfg: &GrpoConfig,
    eval: &EvalConfig,
    out: &Path,
    on_iteration: impl FnMut(&GrpoRecord),
) -> Result<(ch03_gpt::Gpt, GrpoReport)> {
    files::ensure_dir(out, "GRPO output")?;
    let (w, sft) = (env.world, env.reference);
    let (prompts, easy_heldout) = match cfg.max_operand {
        0 => (checkable(&w.prompts.train), Vec::new()),
        max => grpo::easy_arithmetic(max),
    };
    let (policy, history) = grpo_train::train(sft, env.tok, &prompts, cfg, on_iteration)?;
    let heldout = &w.prompts.heldout;
    let before = ch06_ppo::measure(w, env.tok, sft, sft, env.rm, heldout, eval)?;
    let column = ch06_ppo::measure(w, env.tok, &policy, sft, env.rm, heldout, eval)?;
    let easy = |g: &ch03_gpt::Gpt| -> Result<f64> {
        if easy_heldout.is_empty() {
            return Ok(f64::NAN);
        }
        let (_, responses) = ch04_sft::evaluate(w, g, env.tok, &easy_heldout, eval)?;
        Ok(checker_accuracy(&easy_heldout, &responses))
    };
    let (easy_before, easy_after) = (easy(sft)?, easy(&policy)?);
    // ANCHOR_END: run_grpo
    plots::grpo(&history, out)?;
    let report = GrpoReport {
        config: cfg.clone(),
        n_prompts: prompts.len(),
        history,
        heldout_before: checker_accuracy(heldout, &before.responses),
        heldout_after: checker_accuracy(heldout, &column.responses),
        easy_before,
        easy_after,
        column,
    };
    files::write_string_atomic(
        &out.join("grpo_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    files::write_string_atomic(&out.join("grpo.md"), &report.table(&before))?;
    Ok((policy, report))
}

impl GrpoReport {
    /// What GRPO did, as a markdown table: the checker's verdicts before and after, the
    /// training reward at the start and the end, and the cost on every other prompt.
    pub fn table(&self, sft: &Column) -> String {
        let pct = |x: f64| {
            if x.is_nan() {
                "–".to_string()
            } else {
                format!("{:.1}%", 100.0 * x)
            }
        };
        let k = (self.history.len() / 5).max(1);
        let mean =
            |h: &[GrpoRecord]| h.iter().map(|r| r.reward).sum::<f64>() / h.len().max(1) as f64;
        let (first, last) = (
            mean(&self.history[..k.min(self.history.len())]),
            mean(&self.history[self.history.len().saturating_sub(k)..]),
        );
        let g = &self.config;
        format!(
            "{} iterations of {} prompts × {} samples (temperature {}), β = {}, learning rate {}, on {} training prompts{}:\n\n\
             | | SFT | GRPO |\n|---|---|---|\n\
             | held-out problems of the easier arithmetic, answered right (greedy, checker) | {} | {} |\n\
             | the world's held-out arithmetic, answered right (greedy, checker) | {} | {} |\n\
             | training samples answered right, first and last {k} iterations | {} | {} |\n\
             | gold reward, every held-out prompt | {:.2} | {:.2} |\n\
             | KL to SFT (nats per response) | 0.00 | {:.2} |\n",
            g.iterations,
            g.prompts,
            g.group,
            g.temperature,
            g.kl_coef,
            g.lr,
            self.n_prompts,
            if g.max_operand > 0 {
                format!(" (sums and differences up to {})", g.max_operand)
            } else {
                String::new()
            },
            pct(self.easy_before),
            pct(self.easy_after),
            pct(self.heldout_before),
            pct(self.heldout_after),
            pct(first),
            pct(last),
            sft.capabilities.gold_reward,
            self.column.capabilities.gold_reward,
            self.column.kl,
        )
    }
}
