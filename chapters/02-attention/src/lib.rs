//! # Chapter 2 — attention from scratch
//!
//! A transformer, in plain `ndarray`, with every gradient written by hand: no autograd.
//!
//! - [`ops`]: embedding, linear, layer norm, GELU, softmax, causal multi-head
//!   self-attention, cross-entropy — each forward with its backward beside it;
//! - [`model`]: a GPT made of them, with Hugging Face GPT-2's parameter names;
//! - [`train`]: Adam, and training on the world's corpus;
//! - [`plots`]: attention heatmaps and loss curves;
//! - [`hf`]: loading a Hugging Face GPT-2 into it, to check it against the reference.
//!
//! Every backward is checked against finite differences, and the whole model's gradients
//! against candle's autograd (the tests). [`run`] trains the model on the world's text for
//! a minute and draws what each attention head looks at.

pub mod exercises;
pub mod hf;
pub mod model;
pub mod ops;
pub mod plots;
pub mod train;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{
        attention_backward, attention_forward, layernorm_backward, softmax_backward,
    };
    #[cfg(not(feature = "exercises"))]
    pub use crate::ops::{
        attention_backward, attention_forward, layernorm_backward, softmax_backward,
    };
}

pub use ch01_tokenizer;
pub use ndarray;
pub use plot;
pub use world;

use anyhow::{Result, ensure};
use ch01_tokenizer::library;
use plot::Chart;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokenizers::Tokenizer;

/// The chapter's run: the model's shape (its vocabulary comes from the tokenizer) and
/// how long to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionConfig {
    pub model: model::Config,
    pub train: train::TrainConfig,
    pub seed: u64,
}

impl AttentionConfig {
    /// The pipeline's run.
    pub fn small() -> Self {
        AttentionConfig {
            model: model::Config::small(),
            train: train::TrainConfig::small(),
            seed: 2,
        }
    }

    /// A few seconds, for tests and notebooks.
    pub fn tiny() -> Self {
        AttentionConfig {
            model: model::Config {
                n_positions: 24,
                n_embd: 32,
                ..model::Config::small()
            },
            train: train::TrainConfig {
                steps: 150,
                batch: 4,
                lr: 3e-3,
                eval_every: 25,
            },
            seed: 2,
        }
    }

    /// The configuration of a run's preset; `gpu` is the same as `small`: this chapter runs
    /// on the CPU.
    pub fn preset(p: world::Preset) -> Self {
        match p {
            world::Preset::Tiny => Self::tiny(),
            world::Preset::Small | world::Preset::Gpu => Self::small(),
        }
    }
}

/// What [`run`] measured; written as `attention_report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub config: AttentionConfig,
    pub parameters: usize,
    pub curve: Vec<train::LossPoint>,
    /// The sentence whose attention the heatmaps show, as tokens.
    pub sentence: Vec<String>,
}

/// Token ids of the documents, each followed by `<|endoftext|>`.
pub fn tokenize(tok: &Tokenizer, documents: &[&str]) -> Result<Vec<usize>> {
    Ok(library::encode_documents(tok, documents)?
        .into_iter()
        .map(|i| i as usize)
        .collect())
}

/// Train the hand-written GPT on `documents` (90% train, 10% held out), then draw the
/// attention of every head on `sentence`. Writes into `out`: `loss.svg`,
/// `attention_l{layer}_h{head}.svg`, `attention_report.json`.
pub fn run(
    documents: &[&str],
    tok: &Tokenizer,
    sentence: &str,
    cfg: &AttentionConfig,
    out: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Report> {
    let vocab_size = tok.get_vocab_size(true);
    let mcfg = model::Config {
        vocab_size,
        ..cfg.model
    };
    let ids = tokenize(tok, documents)?;
    ensure!(
        ids.len() > 20 * mcfg.n_positions,
        "the corpus has {} tokens: too few to train on",
        ids.len()
    );
    let sentence_ids: Vec<usize> = library::encode(tok, sentence)?
        .into_iter()
        .map(|i| i as usize)
        .collect();
    ensure!(
        !sentence_ids.is_empty() && sentence_ids.len() <= mcfg.n_positions,
        "the sentence to look at has {} tokens, expected 1 to n_positions = {}",
        sentence_ids.len(),
        mcfg.n_positions
    );
    files::ensure_dir(out, "attention output")?;
    let split = ids.len() * 9 / 10;
    let mut rng = world::rng(cfg.seed, 0);
    let mut p = model::Params::init(mcfg, &mut rng);
    let curve = train::train(
        &mut p,
        &ids[..split],
        &ids[split..],
        &cfg.train,
        &mut rng,
        |s| progress(s, cfg.train.steps),
    );

    let tokens: Vec<String> = sentence_ids
        .iter()
        .map(|&i| library::decode(tok, &[i as u32]))
        .collect::<Result<_>>()?;
    for (l, att) in model::attention_maps(&p, &sentence_ids).iter().enumerate() {
        for h in 0..mcfg.n_head {
            plots::attention_heatmap(att, l, h, &tokens)
                .save_svg(&out.join(format!("attention_l{l}_h{h}.svg")))?;
        }
    }
    plots::loss_chart(&curve).save_svg(&out.join("loss.svg"))?;
    let report = Report {
        config: AttentionConfig {
            model: mcfg,
            ..cfg.clone()
        },
        parameters: p.count(),
        curve,
        sentence: tokens,
    };
    files::write_string_atomic(
        &out.join("attention_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    Ok(report)
}
