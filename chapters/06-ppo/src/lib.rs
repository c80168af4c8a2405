//! # Chapter 6 — PPO with a KL leash
//!
//! The policy (a copy of the SFT model, with a value head) writes responses; the reward
//! model scores them; PPO makes high-scoring responses more likely — while a penalty on
//! the KL divergence to the frozen SFT model keeps the policy from wandering where the
//! reward model was never trained and cannot be trusted.
//!
//! - [`core`]: the equations, one small tested function each;
//! - [`config`]: every implementation detail as a named field;
//! - [`policy`]: the policy, its value head, the reference's log-probabilities;
//! - [`rollout`]: sampling and measuring a batch of responses;
//! - [`train`]: one PPO iteration and its diagnostics;
//! - [`plots`]: the diagnostics over training.

pub mod baseline;
pub mod config;
pub mod core;
pub mod exercises;
pub mod plots;
pub mod policy;
pub mod rollout;
pub mod train;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(not(feature = "exercises"))]
    pub use crate::core::{gae, kl_estimate, policy_loss, shaped_rewards, value_loss};
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{gae, kl_estimate, policy_loss, shaped_rewards, value_loss};
}

pub use ch05_reward;
pub use config::{KlControl, PpoConfig};
pub use policy::Policy;
pub use rollout::{Env, ScoreFn};

use anyhow::Result;
use ch01_tokenizer::library::encode;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use ch04_sft::EvalConfig;
use ch05_reward::RewardModel;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use train::Stats;
use world::World;
use world::eval::Capabilities;

/// One column of the capability table, with the proxy's view and the distance travelled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Column {
    pub capabilities: Capabilities,
    /// Mean normalised reward-model score of the greedy responses.
    pub rm_reward: f64,
    /// KL(π ‖ π_SFT) in nats per response, estimated on one sampled response (temperature
    /// 1) per prompt: the mean of Σ_t log π − log π_SFT.
    pub kl: f64,
    /// The greedy response to each prompt, and its normalised reward-model score.
    #[serde(default)]
    pub responses: Vec<String>,
    #[serde(default)]
    pub rm_scores: Vec<f64>,
    /// Next-token loss on the pretraining corpus's held-out tenth, nats per token: what
    /// the model still knows of the text it was pretrained on (the "alignment tax" is how
    /// much SFT and RLHF raise it). Measured by the command, which holds the corpus.
    #[serde(default)]
    pub lm_loss: Option<f64>,
}

// ANCHOR: measure
/// A model measured on `prompts`: capabilities and RM reward of its greedy responses, and
/// its KL to the reference — of the models themselves (temperature 1), not the tempered
/// KL that PPO's penalty charges at its sampling temperature.
pub fn measure(
    world: &World,
    tok: &Tokenizer,
    model: &Gpt,
    reference: &Gpt,
    rm: &RewardModel,
    prompts: &[world::Prompt],
    eval: &EvalConfig,
) -> Result<Column> {
    let (capabilities, responses) = ch04_sft::evaluate(world, model, tok, prompts, eval)?;
    let rm_scores = ch05_reward::train::normalised_scores(rm, tok, prompts, &responses)?;
    let rm_reward = rm_scores.iter().sum::<f64>() / rm_scores.len() as f64;
    let kl = sampled_kl(model, reference, tok, prompts, eval, 61)?;
    Ok(Column {
        capabilities,
        rm_reward,
        kl,
        responses,
        rm_scores,
        lm_loss: None,
    })
}
// ANCHOR_END: measure

// ANCHOR: sampled_kl
/// KL(π ‖ π_ref) in nats per response on `prompts`: one response sampled from `model` per
/// prompt at temperature 1 (on random stream `stream` of `eval.seed`, `eval.batch` prompts
/// at a time), and the mean over prompts of Σ_t log π − log π_ref over its tokens.
pub fn sampled_kl(
    model: &Gpt,
    reference: &Gpt,
    tok: &Tokenizer,
    prompts: &[world::Prompt],
    eval: &EvalConfig,
    stream: u64,
) -> Result<f64> {
    anyhow::ensure!(!prompts.is_empty(), "the KL needs at least one prompt");
    let prompt_ids: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| encode(tok, &p.chat()))
        .collect::<Result<_>>()?;
    let s = Sampling {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
    };
    let stop = ch04_sft::chat::stop_tokens(tok);
    let mut rng = world::rng(eval.seed, stream);
    let mut total = 0.0;
    for p_chunk in prompt_ids.chunks(eval.batch) {
        let resp = ch03_gpt::sample::generate_batch(
            model,
            p_chunk,
            eval.max_new_tokens,
            &s,
            &stop,
            true,
            &mut rng,
        )?;
        let (ids, mask, pw, rmask) = rollout::layout(p_chunk, &resp, &model.device())?;
        let lp = policy::reference_logp(model, &ids, &mask, pw, 1.0)?;
        let lr = policy::reference_logp(reference, &ids, &mask, pw, 1.0)?;
        total += ((lp - lr)? * rmask)?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    Ok(total / prompts.len() as f64)
}
// ANCHOR_END: sampled_kl

/// What a PPO run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub config: PpoConfig,
    pub history: Vec<Stats>,
    pub sft: Column,
    pub rlhf: Column,
    /// Markdown: sampled rollout responses at a few iterations.
    pub samples: String,
}

// ANCHOR: run
/// Chapter 6 end to end: PPO from the SFT model against the reward model, then the
/// policy measured on held-out prompts next to the SFT model. Plots go to `out`.
/// `env.reference` is the SFT model: the initial policy and the KL's reference.
pub fn run(
    env: Env,
    cfg: &PpoConfig,
    eval: &EvalConfig,
    out: &Path,
    mut on_iteration: impl FnMut(&Stats),
) -> Result<(Policy, Report)> {
    let Env {
        world,
        tok,
        reference: sft,
        rm,
        corpus,
        ..
    } = env;
    files::ensure_dir(out, "PPO output")?;
    let policy = Policy::from_sft(sft)?;
    let mut trainer = train::PpoTrainer::new(&policy, cfg)?;
    let settings = rollout::RolloutSettings {
        temperature: cfg.temperature,
        max_new_tokens: cfg.max_new_tokens,
        missing_end_score: cfg.missing_end_score,
    };
    let mut rng = world::rng(cfg.seed, 60);
    let (mut history, mut samples) = (Vec::new(), String::new());
    let show = [1, cfg.iterations.div_ceil(2), cfg.iterations];
    let baselines = match cfg.prompt_baseline {
        true => Some(baseline::prompt_baselines(
            sft,
            tok,
            rm,
            &world.prompts.train,
            cfg.max_new_tokens,
        )?),
        false => None,
    };
    for it in 1..=cfg.iterations {
        let prompts: Vec<world::Prompt> = world
            .prompts
            .train
            .choose_multiple(&mut rng, cfg.rollout_batch)
            .cloned()
            .collect();
        let t0 = std::time::Instant::now();
        let mut r = rollout::rollout(env, &policy, &prompts, &settings, &mut rng)?;
        if let Some(b) = &baselines {
            for (score, p) in r.score.iter_mut().zip(&r.prompts) {
                *score -= b[&p.text];
            }
        }
        let rollout_seconds = t0.elapsed().as_secs_f64();
        let stats = Stats {
            rollout_seconds,
            ..trainer.step(&policy, &r, cfg, corpus)?
        };
        if show.contains(&it) {
            samples_rows(&mut samples, it, &r, 4);
        }
        on_iteration(&stats);
        history.push(stats);
    }
    let sft_col = measure(world, tok, sft, sft, rm, &world.prompts.heldout, eval)?;
    let rlhf_col = measure(
        world,
        tok,
        &policy.gpt,
        sft,
        rm,
        &world.prompts.heldout,
        eval,
    )?;
    // ANCHOR_END: run
    plots::diagnostics(&history, cfg.clip_range, out)?;
    let report = Report {
        config: cfg.clone(),
        history,
        sft: sft_col,
        rlhf: rlhf_col,
        samples,
    };
    files::write_string_atomic(
        &out.join("ppo_report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    Ok((policy, report))
}

fn samples_rows(s: &mut String, iteration: usize, r: &rollout::Rollout, n: usize) {
    if s.is_empty() {
        s.push_str("| iteration | prompt | response | RM reward | gold |\n|---|---|---|---|---|\n");
    }
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', "⏎").replace('`', "'");
    for i in 0..n.min(r.responses.len()) {
        writeln!(
            s,
            "| {iteration} | {} | `{}` | {:.2} | {:.1} |",
            cell(&r.prompts[i].text),
            cell(&r.responses[i]),
            r.rm_score[i],
            r.gold[i]
        )
        .unwrap();
    }
}

/// The capability table of several models, with the RM reward and KL rows.
pub fn table(columns: &[(&str, &Column)]) -> String {
    let caps: Vec<(&str, &Capabilities)> =
        columns.iter().map(|(n, c)| (*n, &c.capabilities)).collect();
    let mut s = world::eval::capability_table(&caps);
    s.push_str("| RM reward (normalised) |");
    for (_, c) in columns {
        write!(s, " {:.2} |", c.rm_reward).unwrap();
    }
    s.push_str("\n| KL to SFT (nats per response) |");
    for (_, c) in columns {
        write!(s, " {:.2} |", c.kl).unwrap();
    }
    // A column without weights of its own (best-of-n) has no corpus loss: "—".
    if columns.iter().any(|(_, c)| c.lm_loss.is_some()) {
        s.push_str("\n| held-out corpus loss (nats per token) |");
        for (_, c) in columns {
            match c.lm_loss {
                Some(l) => write!(s, " {l:.3} |").unwrap(),
                None => s.push_str(" — |"),
            }
        }
    }
    s.push('\n');
    s
}

/// The mean next-token loss of `model` on `windows` fixed windows of `len + 1` tokens
/// spread evenly over `tokens` (the same windows for every model).
pub fn corpus_loss(model: &Gpt, tokens: &[u32], windows: usize, len: usize) -> Result<f64> {
    anyhow::ensure!(
        tokens.len() > len + 1 && windows > 0,
        "{} tokens are too few for {windows} windows of {len}",
        tokens.len()
    );
    let stride = (tokens.len() - len - 1) / windows;
    let rows: Vec<u32> = (0..windows)
        .flat_map(|w| tokens[w * stride..w * stride + len + 1].iter().copied())
        .collect();
    let all = candle_core::Tensor::from_vec(rows, (windows, len + 1), &model.device())?;
    let mut total = 0.0;
    for chunk in 0..windows.div_ceil(32) {
        let n = 32.min(windows - chunk * 32);
        let b = all.narrow(0, chunk * 32, n)?;
        let (x, y) = (b.narrow(1, 0, len)?, b.narrow(1, 1, len)?);
        total += Gpt::loss(&model.forward(&x, None)?, &y)?.to_scalar::<f32>()? as f64 * n as f64;
    }
    Ok(total / windows as f64)
}
