//! `rlhf world`: the synthetic world of DESIGN.md, written to disk.

use crate::args::Preset;
use crate::progress;
use anyhow::{Context, Result, ensure};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use world::{World, WorldConfig};

#[derive(Args, Debug, Clone)]
pub struct WorldArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/world")]
    pub out: PathBuf,
    /// The size of the world: `tiny` (tests) or `small` (the default pipeline; `gpu` has the
    /// same world with a larger corpus).
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Seed of the world (default: the preset's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Corpus size in megabytes (default: the preset's).
    #[arg(long)]
    pub corpus_mb: Option<f64>,
    /// The labeler's penalty for an off-topic reply to a question (default 0: the world's
    /// labeler as first written; 2 closes the gap PPO games).
    #[arg(long)]
    pub off_topic_penalty: Option<f64>,
}

/// The world stage's summary.
pub struct WorldSummary {
    pub facts: usize,
    pub train_prompts: usize,
    pub heldout_prompts: usize,
    pub demonstrations: usize,
    pub documents: usize,
    pub corpus_bytes: usize,
}

/// `rlhf world`: generate the world and write it into `out`.
pub fn world_command(a: &WorldArgs) -> Result<WorldSummary> {
    let out = &a.out;
    let mut cfg = WorldConfig::preset(a.preset);
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(p) = a.off_topic_penalty {
        cfg.labeler.off_topic_penalty = p;
        cfg.validate().context("--off-topic-penalty")?;
    }
    if let Some(mb) = a.corpus_mb {
        ensure!(
            mb.is_finite() && mb > 0.0 && mb <= 1000.0,
            "--corpus-mb {mb}: expected a size in (0, 1000] megabytes"
        );
        cfg.corpus.bytes = (mb * 1e6) as usize;
    }
    files::ensure_dir(out, "--out")?;
    let world = World::generate(&cfg)?;
    let bar = progress::bytes(cfg.corpus.bytes as u64, "writing the corpus");
    let docs = world.corpus(|b| bar.set_position(b as u64));
    bar.finish_and_clear();
    world.write_to(out, &docs)?;
    let s = WorldSummary {
        facts: world.facts().len(),
        train_prompts: world.prompts.train.len(),
        heldout_prompts: world.prompts.heldout.len(),
        demonstrations: world.demonstrations.len(),
        documents: docs.len(),
        corpus_bytes: docs.iter().map(|d| d.text.len()).sum(),
    };
    println!(
        "world: {} facts, {} documents ({:.2} MB), {} train / {} held-out prompts, {} demonstrations → {}",
        s.facts,
        s.documents,
        s.corpus_bytes as f64 / 1e6,
        s.train_prompts,
        s.heldout_prompts,
        s.demonstrations,
        out.display()
    );
    Ok(s)
}

/// The report's world section.
pub fn report_section(w: &WorldSummary) -> String {
    // The ANCHOR comments let the book include a section of a run's report.
    let mut s = String::from("## The world\n\n<!-- ANCHOR: world -->\n");
    writeln!(s, "| | |\n|---|---|").unwrap();
    writeln!(s, "| facts | {} |", w.facts).unwrap();
    writeln!(
        s,
        "| corpus | {} documents, {:.2} MB |",
        w.documents,
        w.corpus_bytes as f64 / 1e6
    )
    .unwrap();
    writeln!(
        s,
        "| prompts | {} train, {} held out |",
        w.train_prompts, w.heldout_prompts
    )
    .unwrap();
    writeln!(s, "| demonstrations | {} |", w.demonstrations).unwrap();
    writeln!(s, "<!-- ANCHOR_END: world -->\n").unwrap();
    s
}
