//! Chapter 7's command: `rlhf overopt`, the over-optimisation studies from a finished run.

use crate::args::{FromRun, Preset};
use crate::progress;
use crate::run_dir::RunDir;
use anyhow::{Context, Result};
use ch05_reward::train::RmConfig;
use ch06_ppo::PpoConfig;
use ch07_overopt::OveroptConfig;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct OveroptArgs {
    /// The run whose world, SFT model and reward model are the studies' start, and the
    /// output directory (default: <run>/overopt).
    #[command(flatten)]
    pub from: FromRun,
    /// The size of the studies, and of the run's reward model and PPO: `tiny` or `small`.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
}

/// `rlhf overopt`: best-of-n against reward models trained on more or fewer comparisons,
/// and PPO at several β, from the models of the pipeline run in `run` (its world, SFT
/// model and reward model); everything goes to `out`.
pub fn overopt_command(a: &OveroptArgs) -> Result<ch07_overopt::Report> {
    let (run, out, preset) = (&a.from.run, &a.from.out_or("overopt"), a.preset);
    let cfg = OveroptConfig::preset(preset)?;
    let (rm_config, ppo_config) = (RmConfig::preset(preset), PpoConfig::preset(preset));
    let r = RunDir::new(run);
    let (world_dir, reward_dir) = (r.world(), r.stage("reward"));
    // The run's world, SFT model (with its tokenizer) and reward model, checked to fit.
    let crate::beyond::RunModels {
        world,
        sft,
        tok,
        rm,
    } = crate::beyond::load_run(run)?;
    let report_file = reward_dir.join("reward_report.json");
    let rm_summary: ch07_overopt::RmSummary =
        serde_json::from_str(&files::read_string(&report_file, "reward report")?).with_context(
            || {
                format!(
                    "`{}`: expected the reward report `rlhf reward` writes",
                    report_file.display()
                )
            },
        )?;
    let corpus = if cfg.ppo_ptx_coef > 0.0 {
        crate::ppo::ptx_text(
            &tok,
            &world_dir,
            &world,
            sft.cfg.n_positions,
            ppo_config.ptx_demo_share,
        )?
    } else {
        Vec::new()
    };
    let inputs = ch07_overopt::Inputs {
        world: &world,
        tok: &tok,
        sft: &sft,
        rm: &rm,
        rm_summary: &rm_summary,
        rm_config: &rm_config,
        ppo_config: &ppo_config,
        corpus: &corpus,
    };
    let bar = progress::steps(1);
    let report = ch07_overopt::run(inputs, &cfg, out, |m| bar.set_message(m.to_string()))?;
    bar.finish_and_clear();
    let full = report.bon.last().unwrap();
    println!(
        "overopt: best-of-{}: proxy {:+.2}, gold {:+.2} over SFT (gold peaked at n = {}, {:+.2}); PPO β = {}: gold {:+.2} at KL {:.1} → {}",
        full.points.last().unwrap().step,
        full.points.last().unwrap().proxy_gain,
        full.points.last().unwrap().gold_gain,
        full.peak.step,
        full.peak.gold_gain,
        cfg.betas[0],
        report.ppo[0].points.last().unwrap().gold_gain,
        report.ppo[0].points.last().unwrap().kl,
        out.display()
    );
    Ok(report)
}
