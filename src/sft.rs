//! Chapter 4's command: `rlhf sft`.

use crate::args::{Preset, count};
use crate::progress;
use anyhow::{Context, Result};
use ch04_sft::train::SftConfig;
use ch04_sft::{EvalConfig, Report};
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use world::World;

#[derive(Args, Debug, Clone)]
pub struct SftArgs {
    /// Output directory (the fine-tuned model goes to <out>/checkpoint).
    #[arg(long, default_value = "runs/default/sft")]
    pub out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    pub world: PathBuf,
    /// The pretrained checkpoint (with its tokenizer.json).
    #[arg(long, default_value = "runs/default/pretrain/checkpoint")]
    pub model: PathBuf,
    /// The size of the run.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Training steps (default: the preset's).
    #[arg(long, value_parser = count)]
    pub steps: Option<usize>,
    /// Another draw of the stage's randomness (0: the preset's seed; `rlhf worlds --draws`).
    #[arg(skip)]
    pub draw: u64,
}

/// `rlhf sft`: fine-tune the checkpoint `model` on the world's demonstrations; write the
/// fine-tuned checkpoint into `out/checkpoint`, with plots, samples and the base and SFT
/// capabilities on held-out prompts.
pub fn sft_command(a: &SftArgs) -> Result<Report> {
    let (out, world_dir, model) = (&a.out, &a.world, &a.model);
    let mut cfg = SftConfig::preset(a.preset);
    cfg.seed += a.draw; // another draw of the stage's randomness (0: the preset's)
    if let Some(s) = a.steps {
        cfg.steps = s;
        cfg.adamw.warmup = cfg.adamw.warmup.min(s / 5);
    }
    let w = World::read_from(world_dir)?;
    let (gpt, tok) = crate::compute::load_with_tokenizer(model, "--model")?;
    files::ensure_dir(out, "--out")?;
    let bar = progress::steps(cfg.steps as u64);
    bar.set_message("evaluating the base model");
    let report = ch04_sft::run(&w, &tok, &gpt, &cfg, &EvalConfig::default(), out, |r| {
        bar.set_position(r.step as u64);
        if r.loss.is_finite() {
            bar.set_message(format!("response loss {:.3}", r.loss));
        }
    })?;
    bar.finish_and_clear();
    let ckpt = out.join("checkpoint");
    save_checkpoint(&gpt, &tok, &ckpt)?;
    println!(
        "sft: {} demonstrations ({} held out), response loss {:.2} → {:.2}; format {:.0}% → {:.0}%, helpfulness {:.0}% → {:.0}% → {}",
        report.n_train,
        report.n_heldout,
        report.history[0].heldout.unwrap_or(f64::NAN),
        report
            .history
            .last()
            .and_then(|r| r.heldout)
            .unwrap_or(f64::NAN),
        100.0 * report.base.instruction_format,
        100.0 * report.sft.instruction_format,
        100.0 * report.base.helpfulness,
        100.0 * report.sft.helpfulness,
        ckpt.display()
    );
    Ok(report)
}

/// Write `gpt` and its tokenizer as a Hugging Face GPT-2 directory, replacing `dir` only
/// once the new one is complete.
pub fn save_checkpoint(
    gpt: &ch03_gpt::Gpt,
    tok: &ch01_tokenizer::tokenizers::Tokenizer,
    dir: &Path,
) -> Result<()> {
    files::write_dir_atomic(dir, |tmp| {
        ch03_gpt::train::save_model(gpt, tmp)?;
        ch01_tokenizer::library::save_in_model_dir(tok, tmp)
    })
    .context("checkpoint")
}

/// The report's SFT section.
pub fn report_section(r: &Report) -> String {
    let mut s = String::from("## Supervised fine-tuning\n\n<!-- ANCHOR: sft -->\n");
    writeln!(
        s,
        "Fine-tuned on {} demonstrations ({} kept aside, {} too long for the context) for {} steps: \
         held-out response loss {:.2} → {:.2} nats per token. On the {} held-out prompts (greedy):\n",
        r.n_train,
        r.n_heldout,
        r.too_long,
        r.history.len() - 1,
        r.history[0].heldout.unwrap_or(f64::NAN),
        r.history.last().and_then(|h| h.heldout).unwrap_or(f64::NAN),
        r.base.n
    )
    .unwrap();
    s += &world::eval::capability_table(&[("base", &r.base), ("SFT", &r.sft)]);
    s += "<!-- ANCHOR_END: sft -->\n\n![loss](sft/loss.svg)\n\n![format](sft/format_by_family.svg)\n\n![right](sft/right_by_family.svg)\n\n";
    s += "<!-- ANCHOR: sft_samples -->\n";
    s += &r.samples;
    s += "<!-- ANCHOR_END: sft_samples -->\n\n";
    s
}
