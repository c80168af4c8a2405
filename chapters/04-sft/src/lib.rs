//! # Chapter 4 — supervised fine-tuning
//!
//! A pretrained model continues text; it does not answer. SFT shows it, by example, what
//! an answer looks like: the world's demonstrations in the chat template
//! (`<|user|>…\n<|assistant|>…<|end|>`), with the loss counted on the response's tokens
//! only — the model is not asked to predict the user's question.
//!
//! - [`data`]: demonstrations → token ids → right-padded batches with an attention mask
//!   and a loss mask;
//! - [`loss`]: the loss mask and the masked cross-entropy;
//! - [`train`]: fine-tuning with chapter 3's AdamW, schedule and clipping;
//! - [`chat`]: a model's responses to prompts, batched;
//! - [`plots`], [`quick`] (a base model in seconds for tests and notebooks).

pub mod chat;
pub mod data;
pub mod exercises;
pub mod loss;
pub mod plots;
pub mod quick;
pub mod train;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{loss_mask, masked_cross_entropy};
    #[cfg(not(feature = "exercises"))]
    pub use crate::loss::{loss_mask, masked_cross_entropy};
}

pub use ch01_tokenizer;
pub use ch03_gpt;
pub use plot;
pub use world;

use anyhow::Result;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use plot::Chart;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use train::{SftConfig, SftRecord};
use world::eval::Capabilities;
use world::{Family, Prompt, World};

/// How models are evaluated on held-out prompts (here and in later chapters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    pub sampling: Sampling,
    pub max_new_tokens: usize,
    /// Prompts per generation batch.
    pub batch: usize,
    pub seed: u64,
}

impl Default for EvalConfig {
    /// Greedy decoding (the model's most likely answer), up to 40 new tokens.
    fn default() -> Self {
        EvalConfig {
            sampling: Sampling::GREEDY,
            max_new_tokens: 40,
            batch: 64,
            seed: 0,
        }
    }
}

/// A model's capabilities on `prompts`, and its responses.
pub fn evaluate(
    world: &World,
    model: &Gpt,
    tok: &Tokenizer,
    prompts: &[Prompt],
    cfg: &EvalConfig,
) -> Result<(Capabilities, Vec<String>)> {
    let mut rng = world::rng(cfg.seed, 21);
    let responses = chat::respond(
        model,
        tok,
        prompts,
        &cfg.sampling,
        cfg.max_new_tokens,
        cfg.batch,
        &mut rng,
    )?;
    Ok((world.evaluate(prompts, &responses)?, responses))
}

/// What a run of SFT did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Demonstrations trained on, kept aside for the held-out loss, and too long for the context.
    pub n_train: usize,
    pub n_heldout: usize,
    pub too_long: usize,
    pub history: Vec<SftRecord>,
    /// On the world's held-out prompts.
    pub base: Capabilities,
    pub sft: Capabilities,
    /// Markdown: a few held-out prompts of each family, with the base and SFT responses.
    pub samples: String,
    /// The demonstrations kept aside (indices into the world's list, ascending).
    #[serde(default)]
    pub heldout_demonstrations: Vec<usize>,
}

// ANCHOR: run
/// Chapter 4 end to end: evaluate the base model on the held-out prompts, fine-tune it in
/// place on the demonstrations, evaluate again, and write the plots and samples into `out`.
pub fn run(
    world: &World,
    tok: &Tokenizer,
    model: &Gpt,
    cfg: &SftConfig,
    eval: &EvalConfig,
    out: &Path,
    on_step: impl FnMut(&SftRecord),
) -> Result<Report> {
    files::ensure_dir(out, "SFT output")?;
    let (examples, too_long) = data::examples(tok, &world.demonstrations, model.cfg.n_positions)?;
    let (train_set, heldout_set) = train::split(examples, cfg);
    let prompts = &world.prompts.heldout;
    let (base, base_responses) = evaluate(world, model, tok, prompts, eval)?;
    let history = train::fine_tune(model, &train_set, &heldout_set, cfg, on_step)?;
    let (sft, sft_responses) = evaluate(world, model, tok, prompts, eval)?;
    // ANCHOR_END: run
    plots::loss_curve(&history).save_svg(&out.join("loss.svg"))?;
    let models = [("base", &base), ("SFT", &sft)];
    plots::by_family(
        "Instruction format by prompt family",
        "% of held-out prompts",
        &models,
        |s| s.format,
    )
    .save_svg(&out.join("format_by_family.svg"))?;
    plots::by_family(
        "Right answers by prompt family",
        "% of held-out prompts",
        &models,
        |s| s.right,
    )
    .save_svg(&out.join("right_by_family.svg"))?;
    let samples = samples_markdown(
        world,
        prompts,
        &[("base", &base_responses), ("SFT", &sft_responses)],
        2,
    );
    files::write_string_atomic(&out.join("samples.md"), &samples)?;
    let report = Report {
        n_train: train_set.len(),
        n_heldout: heldout_set.len(),
        too_long,
        history,
        base,
        sft,
        samples,
        heldout_demonstrations: {
            let mut held: Vec<usize> = heldout_set.iter().map(|e| e.demo).collect();
            held.sort_unstable();
            held
        },
    };
    files::write_string_atomic(
        &out.join("sft_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    Ok(report)
}

/// A table of `per_family` held-out prompts of each family with each model's response and
/// its gold utility.
pub fn samples_markdown(
    world: &World,
    prompts: &[Prompt],
    models: &[(&str, &Vec<String>)],
    per_family: usize,
) -> String {
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', "⏎").replace('`', "'");
    let mut s = String::from("| family | prompt |");
    for (name, _) in models {
        write!(s, " {name} (u) |").unwrap();
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(models.len()));
    s.push('\n');
    for fam in Family::ALL {
        for (i, p) in prompts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.family == fam)
            .take(per_family)
        {
            write!(s, "| {} | {} |", fam.name(), cell(&p.text)).unwrap();
            for (_, responses) in models {
                let r = &responses[i];
                write!(s, " `{}` ({:.1}) |", cell(r), world.utility(p, r).total).unwrap();
            }
            s.push('\n');
        }
    }
    s
}
