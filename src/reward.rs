//! Chapter 5's command: `rlhf reward`.

use crate::args::{Preset, count, positive};
use crate::progress;
use anyhow::{Context, Result, ensure};
use ch05_reward::Report;
use ch05_reward::train::RmConfig;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use world::World;

/// `rlhf reward`'s flags; each setting left out is the preset's.
#[derive(Args, Debug, Clone, Default)]
pub struct RewardArgs {
    /// Output directory (the reward model goes to <out>/checkpoint).
    #[arg(long, default_value = "runs/default/reward")]
    pub out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    pub world: PathBuf,
    /// The SFT checkpoint: it samples the responses and initialises the reward model.
    #[arg(long, default_value = "runs/default/sft/checkpoint")]
    pub model: PathBuf,
    /// The size of the run.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// The simulated labeler's temperature (default 0.5; higher is noisier).
    #[arg(long)]
    pub labeler_temperature: Option<f64>,
    /// Peak learning rate (default: the preset's).
    #[arg(long, value_parser = positive)]
    pub lr: Option<f64>,
    /// Passes over the comparisons (default: the preset's).
    #[arg(long, value_parser = count)]
    pub epochs: Option<usize>,
    /// Temperature of the SFT policy's samples that are compared (default: the preset's).
    #[arg(long, value_parser = positive)]
    pub sample_temperature: Option<f64>,
    /// Off-prompt candidates per prompt (default: the preset's).
    #[arg(long)]
    pub off_prompt: Option<usize>,
    /// Show the labeler a refusal and "I don't know" on every training prompt: `true` or
    /// `false` (default: the preset's).
    #[arg(long)]
    pub non_answers: Option<bool>,
    /// Give the reward model the SFT model's mean log-probability of the response as a
    /// second input (chapter 5, "What the reward model does not know"): `true` or `false`
    /// (default: the preset's).
    #[arg(long)]
    pub knowledge: Option<bool>,
    /// Responses sampled per prompt (K; every pair of them is compared).
    #[arg(long)]
    pub k: Option<usize>,
    /// Another draw of the stage's randomness (0: the preset's seed; `rlhf worlds --draws`).
    #[arg(skip)]
    pub draw: u64,
}

#[derive(Args, Debug, Clone)]
pub struct ScoreArgs {
    /// The reward model, as written by `rlhf reward`.
    #[arg(long, default_value = "runs/default/reward/checkpoint")]
    pub reward: PathBuf,
    /// The user's message (the chat template is added).
    #[arg(long)]
    pub prompt: String,
    /// A response to score (repeat for several); `<|end|>` is added when missing.
    #[arg(long, required = true)]
    pub response: Vec<String>,
    /// One JSON line per response: its text, raw score and normalised score.
    #[arg(long)]
    pub json: bool,
}

/// `rlhf reward`: sample comparisons from the SFT checkpoint `model`, label them with the
/// world's simulated human, train a reward model from the SFT model, and write it to
/// `out/checkpoint` (a `GPT2ForSequenceClassification` directory with its normalisation
/// in `reward.json`), with its plots and held-out metrics.
pub fn reward_command(o: &RewardArgs) -> Result<Report> {
    let (out, world_dir, model) = (&o.out, &o.world, &o.model);
    let mut cfg = RmConfig::preset(o.preset);
    cfg.seed += o.draw;
    if let Some(t) = o.labeler_temperature {
        cfg.labeler = world::BradleyTerry::new(t).context("--labeler-temperature")?;
    }
    if let Some(lr) = o.lr {
        cfg.adamw = cfg.adamw.with_lr(lr);
    }
    if let Some(t) = o.sample_temperature {
        cfg.sample_temperature = t;
    }
    if let Some(m) = o.off_prompt {
        cfg.off_prompt = m;
    }
    if let Some(b) = o.non_answers {
        cfg.non_answers = b;
    }
    if let Some(b) = o.knowledge {
        cfg.knowledge = b;
    }
    if let Some(k) = o.k {
        ensure!(
            k >= 2,
            "--k must be at least 2 (responses to compare), got {k}"
        );
        cfg.k = k;
    }
    if let Some(e) = o.epochs {
        cfg.epochs = e;
    }
    let w = World::read_from(world_dir)?;
    let (sft, tok) = crate::compute::load_with_tokenizer(model, "--model")?;
    files::ensure_dir(out, "--out")?;
    let bar = progress::steps(0);
    bar.set_message("sampling and labelling comparisons");
    let (rm, report) = ch05_reward::run(&w, &tok, &sft, &cfg, out, |r| {
        if r.step == 0 {
            bar.set_length(r.total as u64);
            let pairs = r.heldout.map_or(0, |m| m.n);
            bar.set_message(format!("training on comparisons ({pairs} held out)"));
        }
        bar.set_position(r.step as u64);
        if r.loss.is_finite() {
            bar.set_message(format!("pairwise loss {:.3}", r.loss));
        }
    })?;
    bar.finish_and_clear();
    let ckpt = out.join("checkpoint");
    // The old checkpoint is removed only once the new one is in place.
    files::write_dir_atomic(&ckpt, |dir| {
        rm.save(dir)?;
        ch01_tokenizer::library::save_in_model_dir(&tok, dir)
    })
    .context("reward model checkpoint")?;
    let m = &report.heldout;
    println!(
        "reward: {} training pairs; held-out accuracy {:.1}% (labeler's ceiling {:.1}%), gold order {:.1}%, correlation with gold {:.2} → {}",
        report.n_train_pairs,
        100.0 * m.accuracy,
        100.0 * m.ceiling,
        100.0 * m.gold_accuracy,
        report.correlation,
        ckpt.display()
    );
    Ok(report)
}

/// The report's reward-model section.
pub fn report_section(r: &Report) -> String {
    let (first, m) = (r.history[0].heldout.unwrap_or_default(), r.heldout);
    let mut s = String::from("## Reward model\n\n<!-- ANCHOR: reward -->\n");
    writeln!(s, "Trained on {} comparisons of the SFT policy's samples (K = 4 per training prompt, plus off-prompt candidates), measured on {} pairs from held-out prompts:\n", r.n_train_pairs, m.n).unwrap();
    writeln!(
        s,
        "| held-out pairs | untrained head | trained |\n|---|---|---|"
    )
    .unwrap();
    writeln!(
        s,
        "| agrees with the labeler | {:.1}% | **{:.1}%** |",
        100.0 * first.accuracy,
        100.0 * m.accuracy
    )
    .unwrap();
    writeln!(
        s,
        "| ceiling: the labeler's own agreement with the gold utility | {:.1}% | {:.1}% |",
        100.0 * first.ceiling,
        100.0 * m.ceiling
    )
    .unwrap();
    writeln!(
        s,
        "| orders the pair as the gold utility does | {:.1}% | **{:.1}%** |",
        100.0 * first.gold_accuracy,
        100.0 * m.gold_accuracy
    )
    .unwrap();
    writeln!(s, "| pairwise loss | {:.3} | {:.3} |", first.loss, m.loss).unwrap();
    writeln!(
        s,
        "\nCorrelation of the reward with the gold utility over held-out responses: {:.2}. Normalisation: \
         r = {:.3} · raw {} {:.3} (mean 0, std 1 on the SFT policy's samples).",
        r.correlation,
        r.norm.gain,
        if r.norm.bias < 0.0 { "−" } else { "+" },
        r.norm.bias.abs()
    )
    .unwrap();
    s += "<!-- ANCHOR_END: reward -->\n\n";
    s += &family_table(r);
    s += "What the reward model thinks of each kind of answer to the held-out prompts: its mean normalised score, and in brackets the labeler's mean utility. PPO climbs the reward model, so a kind it ranks above the labeler's order is a kind PPO will learn to give.\n\n<!-- ANCHOR: probe -->\n";
    s += &r.probe.table();
    s += "<!-- ANCHOR_END: probe -->\n\n![accuracy](reward/accuracy.svg)\n\n![scores](reward/scores.svg)\n\n![calibration](reward/calibration.svg)\n\n";
    s
}

/// The held-out metrics family by family: a tied pair (two responses of equal gold
/// utility) scores 50% for every model and for the ceiling alike.
fn family_table(r: &Report) -> String {
    let mut s = String::from(
        "Family by family (ties: pairs whose two responses have the same gold utility, labelled by a coin):\n\n<!-- ANCHOR: reward_families -->\n",
    );
    s += "| family | held-out pairs | ties | agrees with the labeler | ceiling | share of the ceiling | orders the other pairs as the gold utility does |\n|---|---|---|---|---|---|---|\n";
    for f in &r.by_family {
        let m = &f.metrics;
        let gold = if f.ties < m.n {
            format!("{:.0}% of {}", 100.0 * m.gold_accuracy, m.n - f.ties)
        } else {
            "–".to_string()
        };
        writeln!(
            s,
            "| {} | {} | {} | {:.1}% | {:.1}% | {:.0}% | {gold} |",
            f.family,
            m.n,
            f.ties,
            100.0 * m.accuracy,
            100.0 * m.ceiling,
            100.0 * m.accuracy / m.ceiling
        )
        .unwrap();
    }
    s += "<!-- ANCHOR_END: reward_families -->\n\n";
    s
}

/// `rlhf score`: the reward model's normalised score of each response to `prompt`.
pub fn score_command(a: &ScoreArgs) -> Result<()> {
    let (reward, prompt, responses, json) = (&a.reward, &a.prompt, &a.response, a.json);
    let rm = ch05_reward::RewardModel::load(reward, crate::compute::device())
        .with_context(|| format!("--reward `{}`", reward.display()))?;
    let tok = crate::compute::tokenizer_for(reward, rm.gpt.cfg.vocab_size)?;
    let texts: Vec<String> = responses
        .iter()
        .map(|r| {
            let r = if r.ends_with(world::chat::END) {
                r.clone()
            } else {
                format!("{r}{}", world::chat::END)
            };
            format!("{}{r}", world::chat::prompt_text(prompt))
        })
        .collect();
    let raw = ch05_reward::train::score_texts(&rm, &tok, &texts, 64)?;
    for ((r, text), x) in responses.iter().zip(&texts).zip(raw) {
        if json {
            let v = serde_json::json!({ "text": text, "raw": x, "score": rm.norm.apply(x) });
            println!("{v}");
        } else {
            println!("{:+.3}  {r}", rm.norm.apply(x));
        }
    }
    Ok(())
}
