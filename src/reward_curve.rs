//! Chapter 5's study: `rlhf reward-curve`, what each option buys a reward model.

use crate::args::{Preset, fraction};
use crate::progress;
use anyhow::{Context, Result, ensure};
use ch05_reward::curve::{CurveConfig, comparisons_curve, curve_chart, curve_table};
use ch05_reward::train::RmConfig;
use clap::Args;
use plot::Chart;
use std::path::PathBuf;
use world::World;

/// `rlhf reward-curve`'s flags.
#[derive(Args, Debug, Clone)]
pub struct CurveArgs {
    /// Output directory: curve.json, curve.md, curve.svg.
    #[arg(long, default_value = "runs/default/reward-curve")]
    pub out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    pub world: PathBuf,
    /// The SFT checkpoint: it samples the responses and initialises the reward models.
    #[arg(long, default_value = "runs/default/sft/checkpoint")]
    pub model: PathBuf,
    /// A pretrained checkpoint to initialise one more reward model from (all the
    /// comparisons); left out: no such point.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// The size of the run (the reward stage's preset).
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Fractions of the training prompts, comma-separated, each in (0, 1]: one reward model
    /// each (default: the book's, 1/16, 1/8, 1/4, 1/2 and 1).
    #[arg(long, value_delimiter = ',', value_parser = fraction)]
    pub fractions: Option<Vec<f64>>,
    /// Also train every size with the SFT model's knowledge as a second input: `true` or
    /// `false` (default: the book's, true).
    #[arg(long)]
    pub knowledge: Option<bool>,
    /// Reward models averaged in the ensemble point (on all the comparisons); 0 or 1: none
    /// (default: the book's, 3).
    #[arg(long)]
    pub ensemble: Option<usize>,
}

/// `rlhf reward-curve`: one set of comparisons from the SFT model, reward models trained
/// on parts of it and in the other ways of [`CurveConfig`], each measured as a share of the
/// labeler's ceiling on the same held-out pairs; the table, the figure and the JSON in `out`.
pub fn curve_command(a: &CurveArgs) -> Result<()> {
    let cfg = RmConfig::preset(a.preset);
    let book = CurveConfig::book();
    let curve = CurveConfig {
        fractions: a.fractions.clone().unwrap_or(book.fractions),
        knowledge: a.knowledge.unwrap_or(book.knowledge),
        ensemble: a.ensemble.unwrap_or(book.ensemble),
    };
    let w = World::read_from(&a.world)?;
    let (sft, tok) = crate::compute::load_with_tokenizer(&a.model, "--model")?;
    let pretrained = match &a.pretrained {
        Some(p) => {
            let pre = crate::compute::load(p)
                .with_context(|| format!("--pretrained `{}`", p.display()))?;
            ensure!(
                pre.cfg == sft.cfg,
                "--pretrained `{}`: expected the architecture of --model `{}` (the same run's \
                 pretrained model), got {:?} against {:?}",
                p.display(),
                a.model.display(),
                pre.cfg,
                sft.cfg
            );
            Some(pre)
        }
        None => None,
    };
    files::ensure_dir(&a.out, "--out")?;
    let bar = progress::steps(0);
    bar.set_message("sampling and labelling comparisons, then one reward model per point");
    let points = comparisons_curve(&w, &tok, &sft, pretrained.as_ref(), &cfg, &curve, |p| {
        bar.println(format!(
            "{} on {} pairs: {:.1}% of the ceiling [{:.1}, {:.1}]",
            p.option,
            p.pairs,
            100.0 * p.share.value,
            100.0 * p.share.low,
            100.0 * p.share.high
        ));
    })?;
    bar.finish_and_clear();
    let json = serde_json::json!({ "config": curve, "rm": cfg, "points": points });
    files::write_string_atomic(
        &a.out.join("curve.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    files::write_string_atomic(&a.out.join("curve.md"), &curve_table(&points))?;
    let title = format!(
        "Reward models on world {}: what each option buys",
        w.config.seed
    );
    curve_chart(&points, &title).save_svg(&a.out.join("curve.svg"))?;
    println!(
        "reward-curve: {} reward models → {}",
        points.len(),
        a.out.display()
    );
    Ok(())
}
