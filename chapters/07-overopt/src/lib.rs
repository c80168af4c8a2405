//! # Chapter 7 — when the proxy lies
//!
//! The reward model is a proxy for the human: trained on a few thousand noisy comparisons,
//! it is right on average near the SFT policy and wrong in ways a policy can find. Push
//! hard enough on a proxy and the true reward — here the hidden labeler's gold utility,
//! which this project can measure and a real lab cannot — first rises, then falls
//! (Goodhart's law; Gao, Schulman & Hilton 2022, "Scaling laws for reward model
//! overoptimization").
//!
//! - [`bon`]: best-of-n and its KL, `ln n − (n − 1)/n`, checked by Monte Carlo;
//! - [`column`]: best-of-n as a column of chapter 6's capability table;
//! - [`fit`]: Gao's forms `d (α − β d)` and `d (α − β ln d)`, fitted by least squares;
//! - [`study`]: best-of-n against reward models trained on more or fewer comparisons, and
//!   PPO at several fixed β, from a finished pipeline's models;
//! - [`hacking`]: PPO against the seed's length reward and against a reward model trained
//!   on a labeler who likes long answers;
//! - [`population`]: a reward model of labelers who disagree, and whose side it takes;
//! - [`mitigations`]: ensembles, a length penalty and early stopping on a trusted gold
//!   check, at matched KL;
//! - [`studies`]: each study as one step of [`run`];
//! - [`plots`]: proxy and gold against d = √KL.

pub mod bon;
pub mod column;
pub mod exercises;
pub mod fit;
pub mod hacking;
pub mod mitigations;
pub mod plots;
pub mod population;
pub mod studies;
pub mod study;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(not(feature = "exercises"))]
    pub use crate::bon::{best_of_n, kl_best_of_n, kl_best_of_n_monte_carlo};
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{best_of_n, fit, kl_best_of_n, kl_best_of_n_monte_carlo};
    #[cfg(not(feature = "exercises"))]
    pub use crate::fit::fit;
}

pub use ch06_ppo;
pub use study::OveroptConfig;

use anyhow::Result;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch05_reward::RewardModel;
use ch05_reward::train::RmConfig;
use ch06_ppo::{Column, PpoConfig};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use study::{Curve, RmPoint};
use world::World;

/// A finished pipeline's models and settings: what the studies start from.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub world: &'a World,
    pub tok: &'a Tokenizer,
    pub sft: &'a Gpt,
    /// The pipeline's reward model, and what its report says about it.
    pub rm: &'a RewardModel,
    pub rm_summary: &'a RmSummary,
    /// How the pipeline trained its reward model and ran PPO: the studies change one thing.
    pub rm_config: &'a RmConfig,
    pub ppo_config: &'a PpoConfig,
    /// The pretraining corpus as token ids, for PPO-ptx (empty: none).
    pub corpus: &'a [u32],
}

/// The part of a reward model's report (`reward_report.json`) the studies use.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct RmSummary {
    pub n_train_pairs: usize,
    pub heldout: ch05_reward::train::PairMetrics,
}

impl From<&ch05_reward::Report> for RmSummary {
    fn from(r: &ch05_reward::Report) -> Self {
        RmSummary {
            n_train_pairs: r.n_train_pairs,
            heldout: r.heldout,
        }
    }
}

/// What the studies measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub config: OveroptConfig,
    pub heldout_prompts: usize,
    /// The reward models, fewest comparisons first; the last is the pipeline's.
    pub rms: Vec<RmPoint>,
    /// Best-of-n against each reward model, in the same order.
    pub bon: Vec<Curve>,
    /// Best-of-n against the pipeline's reward model, per family, and what it picked.
    pub bon_by_family: Vec<study::FamilyRow>,
    pub bon_picks: Vec<study::Pick>,
    /// PPO, one curve per β.
    pub ppo: Vec<Curve>,
    /// Each PPO run's policy measured on held-out prompts (greedy), as in chapter 6.
    pub ppo_heldout: Vec<Column>,
    /// The SFT policy on held-out prompts (greedy).
    pub sft_heldout: Column,
    /// Reward hacking you can read.
    pub hacking: hacking::HackingReport,
    /// Mitigations, at matched KL.
    pub mitigations: mitigations::MitigationReport,
    /// Whose preferences the reward model of a population of labelers takes.
    pub population: population::PopulationReport,
}

// ANCHOR: run
/// The chapter's studies. Best-of-n: N samples of each held-out prompt from the SFT model,
/// scored by each reward model — the pipeline's and new ones trained on fractions of its
/// comparisons. PPO: the pipeline's configuration with β fixed at each value (and the
/// study's pretraining coefficient, temperature and rollout batch), from the SFT model against the pipeline's reward model. Figures, `overopt_report.json` and
/// `overopt.md` go to `out`; `on_progress` hears what is being done.
pub fn run(
    inp: Inputs,
    cfg: &OveroptConfig,
    out: &Path,
    mut on_progress: impl FnMut(&str),
) -> Result<Report> {
    cfg.validate()?;
    files::ensure_dir(out, "over-optimisation output")?;
    let heldout = &inp.world.prompts.heldout;
    let prompts = if cfg.prompts == 0 {
        &heldout[..]
    } else {
        &heldout[..cfg.prompts.min(heldout.len())]
    };
    on_progress(&format!(
        "sampling {} responses to each of {} held-out prompts",
        cfg.samples,
        prompts.len()
    ));
    let samples = study::sample(inp.world, inp.tok, inp.sft, prompts, cfg, 70)?;
    let s = studies::Study {
        inp,
        cfg,
        samples,
        ns: cfg.ns(),
        out,
    };
    let progress: &mut dyn FnMut(&str) = &mut on_progress;
    let bon = s.best_of_n(progress)?;
    let ppo = s.ppo_at_each_beta(progress)?;
    let runs = ppo.pipeline_run.into_iter().collect();
    let (hacking, proxy_b) = s.hacking(&bon, &ppo.sft_heldout, runs, progress)?;
    let population = s.population(progress)?;
    let mitigations = s.mitigations(&bon, &proxy_b);
    // ANCHOR_END: run
    let report = Report {
        config: cfg.clone(),
        heldout_prompts: prompts.len(),
        rms: bon.rms,
        bon: bon.bon,
        bon_by_family: bon.bon_by_family,
        bon_picks: bon.bon_picks,
        ppo: ppo.ppo,
        ppo_heldout: ppo.ppo_heldout,
        sft_heldout: ppo.sft_heldout,
        hacking,
        mitigations,
        population,
    };
    write_figures(&report, out)?;
    files::write_string_atomic(
        &out.join("overopt_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    files::write_string_atomic(&out.join("overopt.md"), &markdown(&report))?;
    Ok(report)
}

/// A reward model's place on the "more comparisons" curve, from its report.
pub(crate) fn rm_point(fraction: f64, r: &RmSummary) -> RmPoint {
    RmPoint {
        fraction,
        comparisons: r.n_train_pairs,
        accuracy: r.heldout.accuracy,
        ceiling: r.heldout.ceiling,
        gold_accuracy: r.heldout.gold_accuracy,
    }
}

fn write_figures(r: &Report, out: &Path) -> Result<()> {
    use plot::Chart;
    let full = r.bon.last().unwrap();
    plots::proxy_and_gold(full, "Best-of-n: the proxy and the truth")
        .save_svg(&out.join("bon.svg"))?;
    plots::gold_of(&r.bon, "Best-of-n: weaker reward models")
        .save_svg(&out.join("bon_rm_size.svg"))?;
    plots::rm_data(&r.rms).save_svg(&out.join("rm_data.svg"))?;
    plots::gold_of(&r.ppo, "PPO: gold reward along training, per β")
        .save_svg(&out.join("ppo_gold.svg"))?;
    plots::proxy_of(&r.ppo, "PPO: proxy reward along training, per β")
        .save_svg(&out.join("ppo_proxy.svg"))?;
    plots::gold_of(
        &r.mitigations.curves,
        "Best-of-n: mitigations at matched KL",
    )
    .save_svg(&out.join("mitigations.svg"))?;
    let both = [r.bon.last().unwrap().clone(), r.hacking.bon_biased.clone()];
    plots::gold_of(
        &both,
        "Best-of-n: an unbiased and a biased labeler's reward model",
    )
    .save_svg(&out.join("bon_biased.svg"))?;
    if let Some(weakest) = r.ppo.first() {
        plots::proxy_and_gold(
            weakest,
            &format!("{}: the proxy and the truth", weakest.label),
        )
        .save_svg(&out.join("ppo_weakest.svg"))?;
    }
    Ok(())
}

fn fit_cells(c: &Curve) -> String {
    match c.fit {
        Some(f) => format!(
            "{:.2} | {:.2} | {:.2} | {}",
            f.alpha,
            f.beta,
            f.r2,
            f.peak_d
                .map_or("none (still rising)".into(), |d| format!("{d:.2}"))
        ),
        None => "— | — | — | —".into(),
    }
}

/// The studies as markdown tables (the book includes them through the ANCHOR comments).
pub fn markdown(r: &Report) -> String {
    let mut s = bon_section(r);
    s += &ppo_section(r);
    s += &hacking_section(r);
    s += &population_section(r);
    s += &mitigations_section(r);
    let h = &r.hacking;
    for (i, run) in h.runs.iter().enumerate().skip(1) {
        writeln!(s, "### Samples: PPO against {}\n\n<!-- ANCHOR: hacking_samples_{i} -->\n{}<!-- ANCHOR_END: hacking_samples_{i} -->\n", run.label, run.samples).unwrap();
    }
    s += "![best-of-n](bon.svg)\n\n![reward-model size](bon_rm_size.svg)\n\n![comparisons](rm_data.svg)\n\n![PPO gold](ppo_gold.svg)\n\n![PPO proxy](ppo_proxy.svg)\n\n";
    s
}

/// Best-of-n: the curve, per family, the picks, and the reward models on fewer comparisons.
fn bon_section(r: &Report) -> String {
    let mut s = String::from("## Over-optimisation\n\n<!-- ANCHOR: bon -->\n");
    let full = r.bon.last().unwrap();
    writeln!(s, "Best-of-n on {} held-out prompts, {} samples each from the SFT policy (temperature {}), against the pipeline's reward model:\n", r.heldout_prompts, r.config.samples, r.config.temperature).unwrap();
    s += "| n | KL (nats) | d = √KL | proxy | gold | gold − SFT |\n|---|---|---|---|---|---|\n";
    for p in &full.points {
        writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:+.2} | {:.2} | {:+.2} |",
            p.step, p.kl, p.d, p.proxy, p.gold, p.gold_gain
        )
        .unwrap();
    }
    writeln!(s, "<!-- ANCHOR_END: bon -->\n\n<!-- ANCHOR: bon_family -->").unwrap();
    let (peak, last) = (full.peak.step, full.points.last().unwrap().step);
    writeln!(s, "| family | prompts | gold, one sample | best of {peak} (the peak) | best of {last} |\n|---|---|---|---|---|").unwrap();
    for f in &r.bon_by_family {
        writeln!(
            s,
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            f.family, f.prompts, f.gold_one, f.gold_peak, f.gold_all
        )
        .unwrap();
    }
    writeln!(
        s,
        "<!-- ANCHOR_END: bon_family -->\n\n<!-- ANCHOR: bon_picks -->"
    )
    .unwrap();
    writeln!(s, "| prompt | a sample (proxy, gold) | the proxy's pick of {last} (proxy, gold) |\n|---|---|---|").unwrap();
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', "⏎").replace('`', "'");
    for p in &r.bon_picks {
        writeln!(
            s,
            "| {} | `{}` ({:+.2}, {:.1}) | `{}` ({:+.2}, {:.1}) |",
            cell(&p.prompt),
            cell(&p.first.0),
            p.first.1,
            p.first.2,
            cell(&p.top.0),
            p.top.1,
            p.top.2
        )
        .unwrap();
    }
    writeln!(
        s,
        "<!-- ANCHOR_END: bon_picks -->\n\n<!-- ANCHOR: bon_rms -->"
    )
    .unwrap();
    s += "| reward model | comparisons | held-out accuracy (ceiling) | gold order | best n | gold gain at best n | gold at n = N − at best n [95%] | fit α | fit β | R² | fitted peak d |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (rm, c) in r.rms.iter().zip(&r.bon) {
        let fall = c.fall_interval.map_or(format!("{:+.2}", c.fall), |i| {
            format!("{:+.2} [{:+.2}, {:+.2}]", i.value, i.low, i.high)
        });
        writeln!(
            s,
            "| {:.0}% | {} | {:.1}% ({:.1}%) | {:.1}% | {} | {:+.2} | {} | {} |",
            100.0 * rm.fraction,
            rm.comparisons,
            100.0 * rm.accuracy,
            100.0 * rm.ceiling,
            100.0 * rm.gold_accuracy,
            c.peak.step,
            c.peak.gold_gain,
            fall,
            fit_cells(c)
        )
        .unwrap();
    }
    writeln!(s, "<!-- ANCHOR_END: bon_rms -->\n").unwrap();
    s
}

/// PPO at each β.
fn ppo_section(r: &Report) -> String {
    let mut s = String::from("<!-- ANCHOR: ppo -->\n");
    writeln!(
        s,
        "PPO for {} iterations at each fixed β, pretraining coefficient γ = {}, rollouts of {} prompts at temperature {}, otherwise the pipeline's settings; points average {} iterations' rollouts (training prompts), gains over the SFT policy's answers to {} training prompts sampled the same way; held-out columns: greedy responses, as in chapter 6.\n",
        r.config.ppo_iterations,
        r.config.ppo_ptx_coef,
        r.config.ppo_rollout_batch,
        r.config.ppo_temperature,
        r.config.window,
        r.config.reference_prompts
    )
    .unwrap();
    s += "| β | final KL | final proxy gain | final gold gain | peak gold gain (at d) | fit α | fit β | R² | fitted peak d | held-out gold (SFT → RLHF) |\n|---|---|---|---|---|---|---|---|---|---|\n";
    for ((beta, c), col) in r.config.betas.iter().zip(&r.ppo).zip(&r.ppo_heldout) {
        let last = c.points.last().unwrap();
        writeln!(
            s,
            "| {beta} | {:.2} | {:+.2} | {:+.2} | {:+.2} ({:.2}) | {} | {:.2} → {:.2} |",
            last.kl,
            last.proxy_gain,
            last.gold_gain,
            c.peak.gold_gain,
            c.peak.d,
            fit_cells(c),
            r.sft_heldout.capabilities.gold_reward,
            col.capabilities.gold_reward
        )
        .unwrap();
    }
    s += "<!-- ANCHOR_END: ppo -->\n\n";
    s
}

/// Reward hacking you can read: the PPO runs against each reward, and the biased labeler.
fn hacking_section(r: &Report) -> String {
    let h = &r.hacking;
    let mut s = String::from("## Reward hacking you can read\n\n<!-- ANCHOR: hacking -->\n");
    writeln!(
        s,
        "PPO at the pipeline's β for {} iterations (pretraining coefficient γ = {}); rollouts: means of the first and the last {} iterations; held out: greedy answers to the {} held-out prompts (SFT: gold {:.2}, {:.1} words).\n",
        r.config.ppo_iterations,
        r.config.ppo_ptx_coef,
        r.config.window,
        r.sft_heldout.capabilities.n,
        r.sft_heldout.capabilities.gold_reward,
        h.sft_words
    )
    .unwrap();
    s += "| PPO against | rollouts: its reward | rollouts: gold | rollouts: tokens | held out: gold (SFT → RLHF) | held out: words |\n|---|---|---|---|---|---|\n";
    for run in &h.runs {
        writeln!(
            s,
            "| {} | {:+.2} → {:+.2} | {:.2} → {:.2} | {:.1} → {:.1} | {:.2} → {:.2} | {:.1} → {:.1} |",
            run.label, run.first.0, run.last.0, run.first.1, run.last.1, run.first.2, run.last.2,
            r.sft_heldout.capabilities.gold_reward, run.heldout.capabilities.gold_reward, h.sft_words, run.words
        )
        .unwrap();
    }
    let b = &h.biased_rm;
    writeln!(
        s,
        "\nThe biased labeler adds {} to the utility per word. Its reward model, trained on {} of its comparisons: {:.1}% held-out agreement with it, {:.1}% with the gold order (the pipeline's: {:.1}%). Score per extra word, over the best-of-n samples that ended: {:+.3} (the pipeline's reward model: {:+.3}). Best-of-{} with it: gold {:+.2} over SFT (the pipeline's: {:+.2}).",
        h.bias_per_word,
        b.comparisons,
        100.0 * b.accuracy,
        100.0 * b.gold_accuracy,
        100.0 * r.rms.last().unwrap().gold_accuracy,
        h.slope_biased,
        h.slope_unbiased,
        h.bon_biased.points.last().unwrap().step,
        h.bon_biased.points.last().unwrap().gold_gain,
        r.bon.last().unwrap().points.last().unwrap().gold_gain
    )
    .unwrap();
    s += "<!-- ANCHOR_END: hacking -->\n\n";
    s
}

/// Whose preferences: each group of labelers, and the population's reward model.
fn population_section(r: &Report) -> String {
    let pop = &r.population;
    let h = &r.hacking;
    let mut s = String::from("## Whose preferences?\n\n<!-- ANCHOR: population -->\n");
    s += "| labelers | share of the comparisons | adds per word | the pipeline's reward model agrees with their held-out labels | the population's reward model agrees | their ceiling |\n|---|---|---|---|---|---|\n";
    for (i, g) in pop.groups.iter().enumerate() {
        let total: f64 = pop.groups.iter().map(|g| g.share).sum();
        writeln!(
            s,
            "| group {} | {:.0}% | {:+} | {:.1}% | {:.1}% | {:.1}% |",
            i + 1,
            100.0 * g.share / total,
            g.bias_per_word,
            100.0 * g.pipeline_rm,
            100.0 * g.population_rm,
            100.0 * g.ceiling
        )
        .unwrap();
    }
    writeln!(
        s,
        "\nThe population's reward model ({} comparisons): {:.1}% agreement with the population's held-out labels, {:.1}% with the gold order; score per extra word {:+.3} (the pipeline's: {:+.3}; the length-liking labeler's: {:+.3}).",
        pop.rm.comparisons,
        100.0 * pop.rm.accuracy,
        100.0 * pop.rm.gold_accuracy,
        pop.slope,
        h.slope_unbiased,
        h.slope_biased
    )
    .unwrap();
    s += "<!-- ANCHOR_END: population -->\n\n";
    s
}

/// Mitigations at matched KL, and early stopping.
fn mitigations_section(r: &Report) -> String {
    let m = &r.mitigations;
    let mut s = String::from("## Mitigations\n\n<!-- ANCHOR: mitigations -->\n");
    writeln!(s, "Best-of-n from the same {} samples of each held-out prompt with each proxy: the same n is the same KL.\n", r.config.samples).unwrap();
    s += "| best-of-n with | peak n | gold gain at the peak | gold gain at the largest n | from the peak to the largest n [95%] |\n|---|---|---|---|---|\n";
    for c in &m.curves {
        let last = c.points.last().unwrap();
        let fall = c.fall_interval.map_or(format!("{:+.2}", c.fall), |i| {
            format!("{:+.2} [{:+.2}, {:+.2}]", i.value, i.low, i.high)
        });
        writeln!(
            s,
            "| {} | {} | {:+.2} | {:+.2} (n = {}) | {} |",
            c.label, c.peak.step, c.peak.gold_gain, last.gold_gain, last.step, fall
        )
        .unwrap();
    }
    let e = &m.early_stop;
    writeln!(
        s,
        "\nEarly stopping on a trusted gold check: the gold of best-of-n on {} held-out prompts chooses n = {}; on the other {} prompts that n gains {:+.2} over one sample, against {:+.2} for n = {} and {:+.2} for the n that is best there in hindsight (n = {}).",
        e.trusted, e.chosen_n, e.evaluated, e.gain_chosen, e.gain_largest, e.largest_n, e.gain_best, e.best_n
    )
    .unwrap();
    s += "<!-- ANCHOR_END: mitigations -->\n\n";
    s
}
