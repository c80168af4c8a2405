//! # Chapter 1 — the tokenizer
//!
//! A language model reads a sequence of integers. This chapter turns the world's corpus
//! into such sequences with byte-pair encoding (BPE), twice:
//!
//! 1. [`bpe`]: by hand — count adjacent pairs, merge the most frequent, repeat;
//! 2. [`library`]: with Hugging Face `tokenizers`, as GPT-2 does it, with the chat
//!    template's special tokens (`<|user|>`, `<|assistant|>`, `<|end|>`, `<|endoftext|>`)
//!    as single ids, saved as `tokenizer.json` for every later chapter;
//!
//! then [`measure`]s what came out — bytes per token for several vocabulary sizes, token
//! frequencies against Zipf's law, how far the two agree — and [`plots`] it.
//!
//! [`run`] does all of it for the `rlhf tokenizer` command, the pipeline and the notebook.

pub mod bpe;
pub mod exercises;
pub mod library;
pub mod measure;
pub mod plots;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(not(feature = "exercises"))]
    pub use crate::bpe::{count_pairs, encode_word, merge};
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{count_pairs, encode_word, merge};
}

// One `:dep` in a notebook brings everything the chapter uses, at the same versions.
pub use plot;
pub use tokenizers;
pub use world;

use anyhow::{Result, ensure};
use plot::Chart;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokenizers::Tokenizer;

/// How the chapter's tokenizer is trained and measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenizerConfig {
    /// Vocabulary size of the tokenizer every later chapter uses (bytes and special tokens included).
    pub vocab_size: usize,
    /// Vocabulary sizes for the compression plot.
    pub sweep: Vec<usize>,
    /// Every `heldout_every`-th document is held out to measure compression.
    pub heldout_every: usize,
}

impl TokenizerConfig {
    /// The pipeline's tokenizer: 1024 tokens, a sweep from bytes alone to 2048 (which the
    /// world's small vocabulary does not reach: BPE stops when every word is one token).
    pub fn small() -> Self {
        TokenizerConfig {
            vocab_size: 1024,
            sweep: vec![260, 320, 384, 512, 640, 768, 1024, 2048],
            heldout_every: 10,
        }
    }

    /// For fast tests: 512 tokens, a short sweep.
    pub fn tiny() -> Self {
        TokenizerConfig {
            vocab_size: 512,
            sweep: vec![260, 384, 512],
            heldout_every: 10,
        }
    }

    /// The tokenizer of a run's preset; `gpu` is the same as `small`, since the world's
    /// language is the same whatever the model's size.
    pub fn preset(p: world::Preset) -> Self {
        match p {
            world::Preset::Tiny => Self::tiny(),
            world::Preset::Small | world::Preset::Gpu => Self::small(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        for &v in std::iter::once(&self.vocab_size).chain(&self.sweep) {
            ensure!(
                v >= library::MIN_VOCAB,
                "vocabulary size {v} is too small: expected at least {} ({} bytes + {} special tokens)",
                library::MIN_VOCAB,
                library::BYTE_ALPHABET,
                world::chat::SPECIAL_TOKENS.len()
            );
        }
        ensure!(
            self.heldout_every >= 2,
            "heldout_every = {} must be at least 2",
            self.heldout_every
        );
        Ok(())
    }
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self::small()
    }
}

/// What [`run`] measured; written as `tokenizer_report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub vocab_size: usize,
    pub train_documents: usize,
    pub heldout_documents: usize,
    /// Held-out bytes per token of the chapter's tokenizer.
    pub bytes_per_token: f64,
    /// Held-out compression for each vocabulary size of the sweep.
    pub sweep: Vec<SweepPoint>,
    /// The hand-written BPE against the library at the same vocabulary size.
    pub hand_vs_library: measure::Agreement,
    /// The 20 most frequent tokens and their counts.
    pub top_tokens: Vec<(String, usize)>,
    /// A held-out sentence cut into tokens.
    pub example: Vec<String>,
}

/// One tokenizer of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The vocabulary size asked for.
    pub requested: usize,
    /// The size BPE reached: less than asked once every word of the corpus is one token.
    pub vocab_size: usize,
    pub bytes_per_token: f64,
}

/// Progress of [`run`]: `(what, done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize);

/// (train, held out): every `every`-th document is held out.
fn split_heldout<'a>(documents: &[&'a str], every: usize) -> (Vec<&'a str>, Vec<&'a str>) {
    let is_heldout = |i: usize| (i + 1).is_multiple_of(every);
    let pick = |held: bool| -> Vec<&'a str> {
        documents
            .iter()
            .enumerate()
            .filter(|(i, _)| is_heldout(*i) == held)
            .map(|(_, d)| *d)
            .collect()
    };
    (pick(false), pick(true))
}

/// Held-out bytes per token of a tokenizer trained to each vocabulary size of `cfg.sweep`
/// (`tok` itself at its own size).
fn vocabulary_sweep(
    tok: &Tokenizer,
    train: &[&str],
    heldout: &[&str],
    cfg: &TokenizerConfig,
    progress: Progress,
) -> Result<Vec<SweepPoint>> {
    let steps = cfg.sweep.len() + 3;
    let mut sweep = Vec::new();
    for (i, &v) in cfg.sweep.iter().enumerate() {
        progress(&format!("sweep: vocabulary {v}"), i + 1, steps);
        let t = if v == cfg.vocab_size {
            tok.clone()
        } else {
            library::train(train, v)?
        };
        sweep.push(SweepPoint {
            requested: v,
            vocab_size: t.get_vocab_size(true),
            bytes_per_token: measure::bytes_per_token(&t, heldout)?,
        });
    }
    Ok(sweep)
}

/// Train the chapter's tokenizer on `documents`, measure it, and write into `out`:
/// `tokenizer.json`, `tokenizer_report.json`, `compression.svg` and `zipf.svg`.
pub fn run(
    documents: &[&str],
    cfg: &TokenizerConfig,
    out: &Path,
    progress: Progress,
) -> Result<(Tokenizer, Report)> {
    cfg.validate()?;
    ensure!(
        documents.len() >= cfg.heldout_every,
        "the corpus has {} documents, too few to hold some out",
        documents.len()
    );
    files::ensure_dir(out, "tokenizer output")?;
    let (train, heldout) = split_heldout(documents, cfg.heldout_every);
    let steps = cfg.sweep.len() + 3;

    progress("training the tokenizer", 0, steps);
    let tok = library::train(&train, cfg.vocab_size)?;
    let sweep = vocabulary_sweep(&tok, &train, &heldout, cfg, progress)?;

    progress("hand-written BPE", cfg.sweep.len() + 1, steps);
    let train_text = train.join("\n");
    let mut curve = Vec::new();
    // The hand BPE has no special tokens: give it the same number of merges.
    let hand_vocab = cfg.vocab_size - world::chat::SPECIAL_TOKENS.len();
    let hand = bpe::HandBpe::train(&train_text, hand_vocab, |b, tokens| {
        curve.push((b.vocab.len(), train_text.len() as f64 / tokens as f64))
    });
    let hand_vs_library = measure::agreement(&hand, &tok, &heldout, 100)?;

    progress("measuring", cfg.sweep.len() + 2, steps);
    let freqs = measure::token_frequencies(&tok, documents)?;
    let top_tokens = freqs
        .iter()
        .take(20)
        .map(|&(id, n)| Ok((library::decode(&tok, &[id])?, n)))
        .collect::<Result<_>>()?;
    let example_text = heldout
        .iter()
        .flat_map(|d| d.split_inclusive(". "))
        .find(|s| s.contains("flag of"))
        .unwrap_or(heldout[0])
        .trim();
    let report = Report {
        vocab_size: tok.get_vocab_size(true),
        train_documents: train.len(),
        heldout_documents: heldout.len(),
        bytes_per_token: measure::bytes_per_token(&tok, &heldout)?,
        sweep,
        hand_vs_library,
        top_tokens,
        example: measure::pieces(&tok, example_text)?,
    };

    let sweep_points: Vec<(usize, f64)> = report
        .sweep
        .iter()
        .map(|p| (p.vocab_size, p.bytes_per_token))
        .collect();
    plots::compression_chart(&sweep_points, &curve).save_svg(&out.join("compression.svg"))?;
    plots::zipf_chart(&freqs).save_svg(&out.join("zipf.svg"))?;
    files::write_string_atomic(
        &out.join("tokenizer_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    // Last: its presence means the stage finished.
    library::save(&tok, &out.join("tokenizer.json"))?;
    progress("done", steps, steps);
    Ok((tok, report))
}
