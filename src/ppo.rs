//! Chapter 6's command: `rlhf ppo`.

use crate::args::{Preset, count, non_negative, positive};
use crate::progress;
use anyhow::{Context, Result};
use ch04_sft::EvalConfig;
use ch06_ppo::{Column, PpoConfig, Report};
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use world::World;

/// The base model's column of the capability table, beside `ppo_report.json`.
pub const BASE_COLUMN: &str = "base_column.json";
/// The best-of-n column (chapter 7's selection from the SFT model), beside it.
pub const BEST_OF_N_COLUMN: &str = "best_of_n_column.json";

/// `rlhf ppo`'s flags; each setting left out is the preset's.
#[derive(Args, Debug, Clone, Default)]
pub struct PpoArgs {
    /// Output directory (the policy goes to <out>/checkpoint).
    #[arg(long, default_value = "runs/default/ppo")]
    pub out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    pub world: PathBuf,
    /// The SFT checkpoint: the initial policy and the frozen reference.
    #[arg(long, default_value = "runs/default/sft/checkpoint")]
    pub sft: PathBuf,
    /// The reward model, as written by `rlhf reward`.
    #[arg(long, default_value = "runs/default/reward/checkpoint")]
    pub reward: PathBuf,
    /// A base checkpoint to measure in the same table (optional).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// The size of the run.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// PPO iterations (default: the preset's).
    #[arg(long, value_parser = count)]
    pub iterations: Option<usize>,
    /// β, the KL coefficient (default: the preset's).
    #[arg(long, value_parser = non_negative)]
    pub kl_coef: Option<f64>,
    /// Sampling temperature of the rollouts (default: the preset's).
    #[arg(long, value_parser = positive)]
    pub temperature: Option<f64>,
    /// Learning rate (default: the preset's).
    #[arg(long, value_parser = positive)]
    pub lr: Option<f64>,
    /// Prompts per rollout batch (default: the preset's).
    #[arg(long, value_parser = count)]
    pub rollout_batch: Option<usize>,
    /// Subtract the reward of the SFT model's greedy answer to the same prompt from each
    /// score: `true` or `false` (default: the preset's).
    #[arg(long)]
    pub prompt_baseline: Option<bool>,
    /// γ of PPO-ptx: weight of the pretraining loss in every update (default: the preset's).
    #[arg(long, value_parser = non_negative)]
    pub ptx_coef: Option<f64>,
    /// Share of PPO-ptx's text taken from the SFT demonstrations rather than the corpus
    /// (default: the preset's).
    #[arg(long)]
    pub ptx_demo_share: Option<f64>,
    /// Another draw of the stage's randomness (0: the preset's seed; `rlhf worlds --draws`).
    #[arg(skip)]
    pub draw: u64,
}

impl PpoArgs {
    /// The preset's configuration with the flags' settings in place of its own.
    fn config(&self) -> Result<PpoConfig> {
        let mut cfg = PpoConfig::preset(self.preset);
        cfg.seed += self.draw;
        if let Some(s) = self.ptx_demo_share {
            cfg.ptx_demo_share = s;
        }
        if let Some(g) = self.ptx_coef {
            cfg.ptx_coef = g;
        }
        if let Some(b) = self.prompt_baseline {
            cfg.prompt_baseline = b;
        }
        if let Some(lr) = self.lr {
            cfg.lr = lr;
        }
        if let Some(n) = self.rollout_batch {
            cfg.rollout_batch = n;
        }
        if let Some(n) = self.iterations {
            cfg.iterations = n;
        }
        if let Some(b) = self.kl_coef {
            cfg.kl_coef = b;
        }
        if let Some(t) = self.temperature {
            cfg.temperature = t;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// What `rlhf ppo` reports: the PPO run, and the base model measured the same way when given.
pub struct PpoSummary {
    pub report: Report,
    pub base: Option<Column>,
    /// Best-of-n from the SFT model against the same reward model (`best_of_n` of the
    /// config; none when 0).
    pub best_of_n: Option<Column>,
    /// The world the prompts came from (to judge responses again for intervals).
    pub world: World,
}

/// `rlhf ppo`: PPO from the SFT checkpoint against the reward model; the policy goes to
/// `out/checkpoint`, the diagnostics' plots and `ppo_report.json` beside it.
pub fn ppo_command(a: &PpoArgs) -> Result<PpoSummary> {
    let cfg = a.config()?;
    let (out, world_dir, sft_dir) = (&a.out, &a.world, &a.sft);
    let w = World::read_from(world_dir)?;
    let (sft, tok) = crate::compute::load_with_tokenizer(sft_dir, "--sft")?;
    let rm = crate::compute::load_reward_for(&a.reward, &sft, "--reward")?;
    files::ensure_dir(out, "--out")?;
    let bar = progress::steps(cfg.iterations as u64);
    bar.set_message("PPO");
    let eval = EvalConfig::default();
    let corpus = if cfg.ptx_coef > 0.0 {
        ptx_text(&tok, world_dir, &w, sft.cfg.n_positions, cfg.ptx_demo_share)?
    } else {
        Vec::new()
    };
    let env = ch06_ppo::Env {
        world: &w,
        tok: &tok,
        reference: &sft,
        rm: &rm,
        corpus: &corpus,
        score: None,
    };
    let (policy, report) = ch06_ppo::run(env, &cfg, &eval, out, |s| {
        bar.set_position(s.iteration as u64);
        bar.set_message(format!(
            "RM {:+.2}, gold {:+.2}, KL {:.2}",
            s.rm_reward, s.gold_reward, s.kl
        ));
    })?;
    bar.finish_and_clear();
    crate::sft::save_checkpoint(&policy.gpt, &tok, &out.join("checkpoint"))?;
    // The alignment tax: every model's loss on the corpus's held-out tenth.
    let ids = crate::gpt::corpus_ids(&tok, &world_dir.join(world::CORPUS_FILE))?;
    let heldout_text = &ids[crate::gpt::pretraining_split(ids.len())..];
    let lm_loss = |m: &ch03_gpt::Gpt| {
        ch06_ppo::corpus_loss(m, heldout_text, LM_LOSS_WINDOWS, m.cfg.n_positions.min(128))
    };
    let mut report = report;
    report.sft.lm_loss = Some(lm_loss(&sft)?);
    report.rlhf.lm_loss = Some(lm_loss(&policy.gpt)?);
    files::write_string_atomic(
        &out.join("ppo_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    let models = Models {
        world: &w,
        tok: &tok,
        sft: &sft,
        rm: &rm,
    };
    let base = base_column(&models, a.base.as_deref(), out, &eval, &lm_loss)?;
    let best_of_n = best_of_n_column(&models, &cfg, out)?;
    let (s, r) = (&report.sft, &report.rlhf);
    println!(
        "ppo: {} iterations; held-out gold reward {:.2} (SFT) → {:.2} (RLHF), RM reward {:.2} → {:.2}, KL to SFT {:.2} → {}",
        cfg.iterations,
        s.capabilities.gold_reward,
        r.capabilities.gold_reward,
        s.rm_reward,
        r.rm_reward,
        r.kl,
        out.join("checkpoint").display()
    );
    Ok(PpoSummary {
        report,
        base,
        best_of_n,
        world: w,
    })
}

/// What the extra columns of the capability table are measured with.
struct Models<'a> {
    world: &'a World,
    tok: &'a ch01_tokenizer::tokenizers::Tokenizer,
    sft: &'a ch03_gpt::Gpt,
    rm: &'a ch05_reward::RewardModel,
}

/// The base model's column (`--base`), measured as the SFT and RLHF columns are, with its
/// corpus loss; written to `out/base_column.json`.
fn base_column(
    m: &Models,
    base_dir: Option<&Path>,
    out: &Path,
    eval: &EvalConfig,
    lm_loss: &dyn Fn(&ch03_gpt::Gpt) -> Result<f64>,
) -> Result<Option<Column>> {
    let Some(b) = base_dir else { return Ok(None) };
    let base = crate::compute::load(b).with_context(|| format!("--base `{}`", b.display()))?;
    let (w, heldout) = (m.world, &m.world.prompts.heldout);
    let mut col = ch06_ppo::measure(w, m.tok, &base, m.sft, m.rm, heldout, eval)?;
    col.lm_loss = Some(lm_loss(&base)?);
    files::write_string_atomic(&out.join(BASE_COLUMN), &serde_json::to_string_pretty(&col)?)?;
    Ok(Some(col))
}

/// Best-of-n from the SFT model against the same reward model (`best_of_n` of the config;
/// none when 0); written to `out/best_of_n_column.json`.
fn best_of_n_column(m: &Models, cfg: &PpoConfig, out: &Path) -> Result<Option<Column>> {
    if cfg.best_of_n == 0 {
        return Ok(None);
    }
    let heldout = &m.world.prompts.heldout;
    let col = ch07_overopt::column::best_of_n_column(
        m.world,
        m.tok,
        m.sft,
        m.rm,
        heldout,
        cfg.best_of_n,
        cfg,
    )?;
    files::write_string_atomic(
        &out.join(BEST_OF_N_COLUMN),
        &serde_json::to_string_pretty(&col)?,
    )?;
    Ok(Some(col))
}

/// Windows of the corpus's held-out tenth for the corpus-loss row (128 tokens each).
const LM_LOSS_WINDOWS: usize = 128;

/// The report's PPO section and the capability table.
pub fn report_section(p: &PpoSummary) -> String {
    let r = &p.report;
    let mut s = String::from("## PPO\n\n<!-- ANCHOR: ppo -->\n");
    let last = r.history.last().copied().unwrap_or_default();
    writeln!(
        s,
        "{} iterations of {} rollouts (up to {} tokens, temperature {}), β = {} ({:?}), {} epochs of minibatches of {}. \
         Last iteration: RM reward {:.2}, gold reward {:.2}, KL {:.2} nats, clip fraction {:.2}, entropy {:.2}.",
        r.config.iterations,
        r.config.rollout_batch,
        r.config.max_new_tokens,
        r.config.temperature,
        r.config.kl_coef,
        r.config.kl_control,
        r.config.ppo_epochs,
        r.config.minibatch,
        last.rm_reward,
        last.gold_reward,
        last.kl,
        last.clipfrac,
        last.entropy
    )
    .unwrap();
    s += "<!-- ANCHOR_END: ppo -->\n\n![rewards](ppo/rewards.svg)\n\n![kl](ppo/kl.svg)\n\n";
    s += "<!-- ANCHOR: ppo_samples -->\n";
    s += &r.samples;
    s += "<!-- ANCHOR_END: ppo_samples -->\n\n## The capability table\n\n<!-- ANCHOR: capabilities -->\n";
    writeln!(
        s,
        "Measured on the {} held-out prompts (greedy answers; KL on sampled ones):\n",
        r.sft.capabilities.n
    )
    .unwrap();
    let mut cols: Vec<(&str, &Column)> = Vec::new();
    if let Some(b) = &p.base {
        cols.push(("base", b));
    }
    cols.push(("SFT", &r.sft));
    let bon_name = format!("best-of-{}", r.config.best_of_n);
    if let Some(b) = &p.best_of_n {
        cols.push((&bon_name, b));
    }
    cols.push(("RLHF", &r.rlhf));
    s += &ch06_ppo::table(&cols);
    if p.best_of_n.is_some() {
        let n = r.config.best_of_n;
        writeln!(
            s,
            "\n{bon_name}: {n} samples of the SFT model per prompt at temperature {}, the one the reward model ranks first; no training. Its KL is ln {n} − {}/{n} = {:.2} nats, to the SFT model at that temperature — the KL PPO's penalty charges, which measured {:.2} at PPO's last iteration; the other columns' KL is at temperature 1.",
            r.config.temperature,
            n - 1,
            ch07_overopt::bon::kl_best_of_n(n),
            last.kl
        )
        .unwrap();
    }
    s += "<!-- ANCHOR_END: capabilities -->\n\n";
    s += "How sure are these numbers? Each with its 95% interval (bootstrap over the held-out prompts), and the change from SFT to RLHF with its paired interval:\n\n<!-- ANCHOR: intervals -->\n";
    s += &crate::worlds::interval_table(
        &p.world,
        p.base.as_ref(),
        &r.sft,
        &r.rlhf,
        p.best_of_n.as_ref().map(|b| (bon_name.as_str(), b)),
        0,
    );
    s += "<!-- ANCHOR_END: intervals -->\n\n";
    s
}

/// PPO-ptx's text as token ids: the pretraining corpus's training part (the split
/// pretraining used: its last tenth stays held out) and the SFT demonstrations, mixed so
/// that the demonstrations are `demo_share` of it ([`ch06_ppo::train::ptx_stream`]).
pub fn ptx_text(
    tok: &ch01_tokenizer::tokenizers::Tokenizer,
    world_dir: &Path,
    w: &World,
    context: usize,
    demo_share: f64,
) -> Result<Vec<u32>> {
    let ids = crate::gpt::corpus_ids(tok, &world_dir.join(world::CORPUS_FILE))?;
    let train = &ids[..crate::gpt::pretraining_split(ids.len())];
    let (demos, _) = ch04_sft::data::examples(tok, &w.demonstrations, context)?;
    let demos: Vec<Vec<u32>> = demos
        .into_iter()
        .map(|e| [e.prompt, e.response].concat())
        .collect();
    Ok(ch06_ppo::train::ptx_stream(train, &demos, demo_share))
}
