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

pub mod curve;
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
    /// The held-out metrics family by family: where the distance to the ceiling is.
    #[serde(default)]
    pub by_family: Vec<train::FamilyMetrics>,
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
    let c = comparisons(world, tok, sft, cfg, labeler)?;
    let (train_prompts, heldout_prompts) = (&world.prompts.train, &world.prompts.heldout);
    let sets = (
        PairSet {
            prompts: train_prompts,
            pairs: &c.train_pairs,
        },
        PairSet {
            prompts: heldout_prompts,
            pairs: &c.heldout_pairs,
        },
    );
    let mut rm = RewardModel::from_sft(sft, cfg.seed)?;
    if cfg.knowledge {
        rm = with_fitted_knowledge(rm, sft, tok, sets.0)?;
    }
    let history = train::train(&rm, tok, sets.0, sets.1, cfg, on_step)?;
    // Normalise on the policy's own samples: mean 0, std 1.
    let train_texts: Vec<String> = train_prompts
        .iter()
        .zip(&c.train_responses)
        .flat_map(|(p, rs)| rs.iter().map(|r| full_text(p, r)))
        .collect();
    rm.norm = Normalisation::fit(&train::score_texts(&rm, tok, &train_texts, 128)?)?;
    // ANCHOR_END: run
    let report = measure(
        world,
        tok,
        &rm,
        &c,
        history,
        labeler.describe(),
        cfg.seed,
        out,
    )?;
    files::write_string_atomic(
        &out.join("reward_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    // The comparisons themselves, for `rlhf export-data` and anyone who wants to read them.
    write_pairs(&out.join(TRAIN_PAIRS), &c.train_pairs)?;
    write_pairs(&out.join(HELDOUT_PAIRS), &c.heldout_pairs)?;
    Ok((rm, report))
}

/// The SFT policy's samples and the labeler's comparisons of them, on the training and the
/// held-out prompts.
struct Comparisons {
    /// K responses per training prompt, and [`HELDOUT_K`] per held-out prompt.
    train_responses: Vec<Vec<String>>,
    heldout_responses: Vec<Vec<String>>,
    train_pairs: Vec<Pair>,
    heldout_pairs: Vec<Pair>,
}

/// Sample K responses per training prompt (with off-prompt candidates, and the two
/// non-answers when asked) and label every pair; the same for the held-out prompts.
fn comparisons<L: Labeler>(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    cfg: &RmConfig,
    labeler: &L,
) -> Result<Comparisons> {
    let mut rng = world::rng(cfg.seed, 30);
    let s = Sampling {
        temperature: cfg.sample_temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let (train_prompts, heldout_prompts) = (&world.prompts.train, &world.prompts.heldout);
    let max_new = cfg.max_new_tokens;
    let train_responses =
        data::sample_responses(sft, tok, train_prompts, cfg.k, &s, max_new, &mut rng)?;
    // The held-out pairs come from their own random stream and always K = 4, so that
    // reward models trained on different data are measured on the same comparisons.
    let mut heldout_rng = world::rng(cfg.seed, 33);
    let heldout_responses = data::sample_responses(
        sft,
        tok,
        heldout_prompts,
        HELDOUT_K,
        &s,
        max_new,
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
    Ok(Comparisons {
        train_responses,
        heldout_responses,
        train_pairs,
        heldout_pairs,
    })
}

/// `rm` with the SFT model's knowledge as a second input, its weight fitted alone on the
/// training comparisons first.
fn with_fitted_knowledge(
    rm: RewardModel,
    sft: &Gpt,
    tok: &Tokenizer,
    train: PairSet,
) -> Result<RewardModel> {
    let assistant = tok
        .token_to_id(world::chat::ASSISTANT)
        .context("the tokenizer has no <|assistant|> token")?;
    let rm = rm.with_knowledge(sft, assistant, 0.0)?;
    let a = train::fit_knowledge_weight(&rm, tok, train)?;
    RewardModel {
        knowledge: None,
        ..rm
    }
    .with_knowledge(sft, assistant, a)
}

/// The trained reward model measured on the held-out prompts — correlation with the gold
/// utility, the probe of each kind of answer, calibration — with its plots in `out`.
#[allow(clippy::too_many_arguments)]
fn measure(
    world: &World,
    tok: &Tokenizer,
    rm: &RewardModel,
    c: &Comparisons,
    history: Vec<RmRecord>,
    labeler: serde_json::Value,
    seed: u64,
    out: &Path,
) -> Result<Report> {
    let heldout_prompts = &world.prompts.heldout;
    let heldout = *history.last().and_then(|r| r.heldout.as_ref()).unwrap();
    let (texts, gold): (Vec<String>, Vec<f64>) = heldout_prompts
        .iter()
        .zip(&c.heldout_responses)
        .flat_map(|(p, rs)| {
            rs.iter()
                .map(move |r| (full_text(p, r), world.utility(p, r).total))
        })
        .unzip();
    let correlation = train::correlation(&train::score_texts(rm, tok, &texts, 128)?, &gold);
    let probe = probe::probe(world, tok, rm, heldout_prompts, seed)?;
    let scores = train::pair_scores(rm, tok, heldout_prompts, &c.heldout_pairs)?;
    plots::accuracy_curve(&history).save_svg(&out.join("accuracy.svg"))?;
    let n = |x: f64| rm.norm.apply(x);
    plots::score_histogram(
        scores.iter().map(|s| n(s.0)).collect(),
        scores.iter().map(|s| n(s.1)).collect(),
    )
    .save_svg(&out.join("scores.svg"))?;
    let (chart, calibration) = plots::calibration(&scores, 10);
    chart.save_svg(&out.join("calibration.svg"))?;
    let by_family = train::family_metrics(heldout_prompts, &c.heldout_pairs, &scores);
    Ok(Report {
        by_family,
        n_train_pairs: c.train_pairs.len(),
        n_heldout_pairs: c.heldout_pairs.len(),
        history,
        heldout,
        correlation,
        norm: rm.norm,
        calibration,
        probe,
        labeler,
    })
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
