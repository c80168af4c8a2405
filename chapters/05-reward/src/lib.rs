//! # Chapter 5 — the reward model
//!
//! Humans cannot write down their utility, but they can say which of two answers they
//! prefer. The reward model learns a score from such comparisons: the SFT transformer
//! with a scalar head, trained so that the labeler's choices are likely under the
//! Bradley–Terry model `P(a ≻ b) = σ(r(a) − r(b))`.
//!
//! - [`data`]: K responses per prompt from the SFT policy, every pair labelled by the
//!   world's simulated human;
//! - [`model`]: the head at the last real token, normalisation, checkpoints;
//! - [`loss`]: `−log σ(r_chosen − r_rejected)`;
//! - [`train`]: training, held-out accuracy against the labeler's ceiling;
//! - [`plots`]: accuracy, score histograms, calibration.

pub mod data;
pub mod exercises;
pub mod loss;
pub mod model;
pub mod plots;
pub mod probe;
pub mod train;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{last_token_index, pairwise_loss};
    #[cfg(not(feature = "exercises"))]
    pub use crate::loss::pairwise_loss;
    #[cfg(not(feature = "exercises"))]
    pub use crate::model::last_token_index;
}

pub use ch04_sft;
pub use model::{Normalisation, RewardModel};

use anyhow::{Context, Result};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use data::{Pair, PairSet, full_text};
use plot::Chart;
use serde::{Deserialize, Serialize};
use std::path::Path;
use train::{PairMetrics, RmConfig, RmRecord};
use world::{Labeler, World};

/// What a reward-model run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub n_train_pairs: usize,
    pub n_heldout_pairs: usize,
    pub history: Vec<RmRecord>,
    /// On held-out pairs, after training.
    pub heldout: PairMetrics,
    /// Pearson correlation of the reward with the gold utility, over every sampled response
    /// to the held-out prompts.
    pub correlation: f64,
    pub norm: Normalisation,
    /// (mean predicted, observed, count) per calibration bin.
    pub calibration: Vec<(f64, f64, usize)>,
    /// The reward model's scores of each kind of answer to the held-out prompts, next to
    /// the gold utility ([`probe`]).
    #[serde(default)]
    pub probe: probe::Probe,
    /// The labeler of the comparisons ([`Labeler::describe`]).
    #[serde(default)]
    pub labeler: serde_json::Value,
}

/// The file of the training comparisons beside a reward model's report (one [`Pair`]
/// per line, `prompt` indexing the world's training prompts).
pub const TRAIN_PAIRS: &str = "train_pairs.jsonl";
/// The same for the held-out comparisons (indexing the held-out prompts).
pub const HELDOUT_PAIRS: &str = "heldout_pairs.jsonl";

/// Responses per held-out prompt whose pairs measure every reward model.
pub const HELDOUT_K: usize = 4;

/// Chapter 5 end to end, with the comparisons of `cfg.labeler`: see [`run_with`].
pub fn run(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    cfg: &RmConfig,
    out: &Path,
    on_step: impl FnMut(&RmRecord),
) -> Result<(RewardModel, Report)> {
    run_with(world, tok, sft, cfg, &cfg.labeler, out, on_step)
}

// ANCHOR: run
/// Chapter 5 end to end: sample K responses per prompt from the SFT policy, label every
/// pair with `labeler` (one simulated human, or a population of them: chapter 7), train a
/// reward model initialised from the SFT model, fit its normalisation on the policy's
/// samples, and measure it on held-out prompts' pairs. Plots go to `out`.
pub fn run_with<L: Labeler>(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    cfg: &RmConfig,
    labeler: &L,
    out: &Path,
    on_step: impl FnMut(&RmRecord),
) -> Result<(RewardModel, Report)> {
    files::ensure_dir(out, "reward model output")?;
    let mut rng = world::rng(cfg.seed, 30);
    let s = Sampling {
        temperature: cfg.sample_temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let (train_prompts, heldout_prompts) = (&world.prompts.train, &world.prompts.heldout);
    let train_responses = data::sample_responses(
        sft,
        tok,
        train_prompts,
        cfg.k,
        &s,
        cfg.max_new_tokens,
        &mut rng,
    )?;
    // The held-out pairs come from their own random stream and always K = 4, so that
    // reward models trained on different data are measured on the same comparisons.
    let mut heldout_rng = world::rng(cfg.seed, 33);
    let heldout_responses = data::sample_responses(
        sft,
        tok,
        heldout_prompts,
        HELDOUT_K,
        &s,
        cfg.max_new_tokens,
        &mut heldout_rng,
    )?;
    let mut train_candidates = data::with_off_prompt(&train_responses, cfg.off_prompt, &mut rng);
    if cfg.non_answers {
        train_candidates = data::with_non_answers(world, train_prompts, &train_candidates);
    }
    let train_pairs =
        data::label_pairs(world, labeler, train_prompts, &train_candidates, &mut rng)?;
    let heldout_pairs = data::label_pairs(
        world,
        labeler,
        heldout_prompts,
        &heldout_responses,
        &mut heldout_rng,
    )?;
    let mut rm = RewardModel::from_sft(sft, cfg.seed)?;
    let sets = (
        PairSet {
            prompts: train_prompts,
            pairs: &train_pairs,
        },
        PairSet {
            prompts: heldout_prompts,
            pairs: &heldout_pairs,
        },
    );
    if cfg.knowledge {
        // The SFT model's knowledge as a second input, its weight fitted alone first.
        let assistant = tok
            .token_to_id(world::chat::ASSISTANT)
            .context("the tokenizer has no <|assistant|> token")?;
        rm = rm.with_knowledge(sft, assistant, 0.0)?;
        let a = train::fit_knowledge_weight(&rm, tok, sets.0)?;
        rm = RewardModel {
            knowledge: None,
            ..rm
        }
        .with_knowledge(sft, assistant, a)?;
    }
    let history = train::train(&rm, tok, sets.0, sets.1, cfg, on_step)?;
    // Normalise on the policy's own samples: mean 0, std 1.
    let train_texts: Vec<String> = train_prompts
        .iter()
        .zip(&train_responses)
        .flat_map(|(p, rs)| rs.iter().map(|r| full_text(p, r)))
        .collect();
    rm.norm = Normalisation::fit(&train::raw_scores(&rm, tok, &train_texts, 128)?)?;
    // ANCHOR_END: run
    let heldout = *history.last().and_then(|r| r.heldout.as_ref()).unwrap();
    let (texts, gold): (Vec<String>, Vec<f64>) = heldout_prompts
        .iter()
        .zip(&heldout_responses)
        .flat_map(|(p, rs)| {
            rs.iter()
                .map(move |r| (full_text(p, r), world.utility(p, r).total))
        })
        .unzip();
    let correlation = train::correlation(&train::raw_scores(&rm, tok, &texts, 128)?, &gold);
    let probe = probe::probe(world, tok, &rm, heldout_prompts, cfg.seed)?;
    let scores = train::pair_scores(&rm, tok, heldout_prompts, &heldout_pairs)?;
    plots::accuracy_curve(&history).save_svg(&out.join("accuracy.svg"))?;
    let n = |x: f64| rm.norm.apply(x);
    plots::score_histogram(
        scores.iter().map(|s| n(s.0)).collect(),
        scores.iter().map(|s| n(s.1)).collect(),
    )
    .save_svg(&out.join("scores.svg"))?;
    let (chart, calibration) = plots::calibration(&scores, 10);
    chart.save_svg(&out.join("calibration.svg"))?;
    let report = Report {
        n_train_pairs: train_pairs.len(),
        n_heldout_pairs: heldout_pairs.len(),
        history,
        heldout,
        correlation,
        norm: rm.norm,
        calibration,
        probe,
        labeler: labeler.describe(),
    };
    files::write_string_atomic(
        &out.join("reward_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    // The comparisons themselves, for `rlhf export-data` and anyone who wants to read them.
    write_pairs(&out.join(TRAIN_PAIRS), &train_pairs)?;
    write_pairs(&out.join(HELDOUT_PAIRS), &heldout_pairs)?;
    Ok((rm, report))
}

/// The comparisons a reward stage wrote (`train_pairs.jsonl`, `heldout_pairs.jsonl`), each
/// checked to answer one of `n_prompts` prompts; errors name the file and line.
pub fn read_pairs(path: &Path, n_prompts: usize) -> Result<Vec<Pair>> {
    let text = files::read_string(path, "comparisons")?;
    let mut pairs = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let p: Pair = serde_json::from_str(line)
            .with_context(|| format!("`{}` line {}: not a comparison", path.display(), i + 1))?;
        anyhow::ensure!(
            p.prompt < n_prompts,
            "`{}` line {}: prompt {} is not one of the world's {n_prompts} (a reward stage of another world?)",
            path.display(),
            i + 1,
            p.prompt
        );
        pairs.push(p);
    }
    Ok(pairs)
}

fn write_pairs(path: &Path, pairs: &[Pair]) -> Result<()> {
    let mut s = String::new();
    for p in pairs {
        s += &serde_json::to_string(p)?;
        s.push('\n');
    }
    files::write_string_atomic(path, &s)
}
