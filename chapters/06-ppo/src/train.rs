//! One PPO iteration: rewards, advantages, then epochs of clipped updates on minibatches.

use crate::config::{KlControl, PpoConfig};
use crate::core::{self, AdaptiveKl};
use crate::policy::Policy;
use crate::rollout::Rollout;
use anyhow::Result;
use candle_core::Tensor;
use ch03_gpt::train::{AdamW, AdamWConfig};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// What one iteration measured (means over the rollout batch unless said otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub iteration: usize,
    /// The reward model's normalised score (before the missing-end penalty).
    pub rm_reward: f64,
    /// The hidden labeler's utility of the same responses.
    pub gold_reward: f64,
    /// KL to the reference: Σ over a response's tokens of log π − log π_ref, averaged.
    pub kl: f64,
    /// β used for this batch's rewards.
    pub beta: f64,
    /// Between the policy before and after this iteration's updates, per token.
    pub approx_kl: f64,
    /// Fraction of tokens where the surrogate was clipped.
    pub clipfrac: f64,
    /// Of the policy's next-token distribution, per response token, in nats.
    pub entropy: f64,
    pub policy_loss: f64,
    pub value_loss: f64,
    pub explained_variance: f64,
    /// PPO-ptx: the pretraining language-model loss of the updates (nats per token; 0 when off).
    #[serde(default)]
    pub ptx_loss: f64,
    /// Response length in tokens, and the fraction that ended with `<|end|>`.
    pub length: f64,
    pub ended: f64,
    /// Minibatch updates done (fewer than planned after an approx-KL early stop).
    pub updates: usize,
    /// Seconds of the rollout (sampling and scoring) and of the updates, and the tokens the
    /// updates trained on (padded batches, B × T summed): the stage's throughput.
    #[serde(default)]
    pub rollout_seconds: f64,
    #[serde(default)]
    pub update_seconds: f64,
    #[serde(default)]
    pub update_tokens: usize,
    /// Width of the rollout batch (prompt + response, padded).
    #[serde(default)]
    pub update_seq_len: usize,
}

/// Tokens per pretraining window of PPO-ptx (at most the model's context).
pub const PTX_SEQ: usize = 64;

// ANCHOR: ptx
/// The policy's next-token loss on `cfg.ptx_batch` random windows of the pretraining corpus:
/// the term InstructGPT adds to PPO ("PPO-ptx") so that the policy keeps what pretraining
/// taught it — here, the facts of the world — while it learns from the reward model.
pub fn ptx_loss<R: rand::Rng>(
    policy: &Policy,
    corpus: &[u32],
    cfg: &PpoConfig,
    rng: &mut R,
) -> Result<Tensor> {
    let t = PTX_SEQ.min(policy.gpt.cfg.n_positions);
    anyhow::ensure!(
        corpus.len() > t + 1,
        "PPO-ptx: {} corpus tokens are too few for windows of {t}",
        corpus.len()
    );
    let mut rows = Vec::with_capacity(cfg.ptx_batch * (t + 1));
    for _ in 0..cfg.ptx_batch {
        let start = rng.random_range(0..corpus.len() - t - 1);
        rows.extend_from_slice(&corpus[start..start + t + 1]);
    }
    let all = Tensor::from_vec(rows, (cfg.ptx_batch, t + 1), &policy.gpt.device())?; // (B, T + 1)
    let (x, y) = (all.narrow(1, 0, t)?, all.narrow(1, 1, t)?);
    ch03_gpt::Gpt::loss(&policy.gpt.forward(&x, None)?, &y)
}
// ANCHOR_END: ptx

// ANCHOR: ptx_stream
/// The text PPO-ptx learns from: the pretraining corpus's training tokens, and the SFT
/// demonstrations (each prompt and response in the chat template, then `<|endoftext|>`)
/// repeated until they are `demo_share` of the stream. Random windows of it then show the
/// policy both what pretraining taught (the world's facts) and what SFT taught (an answer
/// ends with `<|end|>`).
pub fn ptx_stream(corpus: &[u32], demos: &[Vec<u32>], demo_share: f64) -> Vec<u32> {
    let demo_tokens: usize = demos.iter().map(|d| d.len() + 1).sum();
    if demo_share <= 0.0 || demo_tokens == 0 {
        return corpus.to_vec();
    }
    // corpus + k · demos with k · demo_tokens / (corpus + k · demo_tokens) = share.
    let k = ((demo_share / (1.0 - demo_share)) * corpus.len() as f64 / demo_tokens as f64)
        .round()
        .max(1.0) as usize;
    let mut out = corpus.to_vec();
    for _ in 0..k {
        for d in demos {
            out.extend_from_slice(d);
            out.push(world::chat::ENDOFTEXT_ID);
        }
    }
    out
}
// ANCHOR_END: ptx_stream

/// The optimiser state of a PPO run, and β: what TRL's `PPOTrainer` keeps besides the models,
/// which [`PpoTrainer::step`] is given.
pub struct PpoTrainer {
    pub opt: AdamW,
    pub opt_cfg: AdamWConfig,
    pub kl: AdaptiveKl,
    pub iteration: usize,
}

impl PpoTrainer {
    pub fn new(policy: &Policy, cfg: &PpoConfig) -> Result<PpoTrainer> {
        cfg.validate()?;
        let (target, horizon) = match cfg.kl_control {
            KlControl::Adaptive { target, horizon } => (target, horizon),
            KlControl::Fixed => (f64::NAN, f64::INFINITY),
        };
        let opt_cfg = cfg.adamw();
        Ok(PpoTrainer {
            opt: AdamW::new(&policy.params())?,
            opt_cfg,
            kl: AdaptiveKl {
                beta: cfg.kl_coef,
                target,
                horizon,
            },
            iteration: 0,
        })
    }

    // ANCHOR: step
    /// Learn from one rollout batch (and, with PPO-ptx, from windows of `corpus`).
    pub fn step(
        &mut self,
        policy: &Policy,
        r: &Rollout,
        cfg: &PpoConfig,
        corpus: &[u32],
    ) -> Result<Stats> {
        let beta = self.kl.beta;
        // 1–2. Per-token rewards, then advantages and returns by GAE.
        let (adv, ret) = advantages(r, beta, cfg);
        // 3. Epochs of minibatch updates.
        let sums = self.update(policy, r, &adv, &ret, cfg, corpus)?;
        // 4. β for the next batch, from this batch's KL.
        let n = r.score.len();
        let kl: f64 = r
            .logp
            .iter()
            .zip(&r.ref_logp)
            .map(|(l, rl)| l.iter().zip(rl).map(|(a, b)| a - b).sum::<f64>())
            .sum::<f64>()
            / n as f64;
        if let KlControl::Adaptive { .. } = cfg.kl_control {
            self.kl.update(kl, n);
        }
        self.iteration += 1;
        // ANCHOR_END: step
        sums.stats(self.iteration, r, &ret, kl, beta, cfg)
    }

    // ANCHOR: update
    /// Step 3: `cfg.ppo_epochs` passes over the batch in shuffled minibatches, each a step on
    /// the clipped policy loss + `vf_coef` · the value loss − `entropy_coef` · the entropy
    /// (+ `ptx_coef` · the pretraining loss with PPO-ptx), stopped early once the approximate
    /// KL to the policy that sampled the batch passes `cfg.target_approx_kl`.
    fn update(
        &mut self,
        policy: &Policy,
        r: &Rollout,
        adv: &[Vec<f64>],
        ret: &[Vec<f64>],
        cfg: &PpoConfig,
        corpus: &[u32],
    ) -> Result<UpdateSums> {
        let dev = policy.gpt.device();
        let width = r.response_mask.dim(1)?;
        let pad = |x: &[Vec<f64>]| -> Result<Tensor> {
            let flat: Vec<f32> = x
                .iter()
                .flat_map(|row| (0..width).map(|j| row.get(j).copied().unwrap_or(0.0) as f32))
                .collect();
            Ok(Tensor::from_vec(flat, (x.len(), width), &dev)?)
        };
        let (adv_t, ret_t, logp_old, v_old) =
            (pad(adv)?, pad(ret)?, pad(&r.logp)?, pad(&r.values)?);
        let params = policy.params();
        let mut rng = world::rng(cfg.seed, 1000 + self.iteration as u64);
        let mut s = UpdateSums::default();
        let ptx_on = cfg.ptx_coef > 0.0 && cfg.ptx_batch > 0 && !corpus.is_empty();
        let n = r.score.len();
        let t0 = std::time::Instant::now();
        'epochs: for _ in 0..cfg.ppo_epochs {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.shuffle(&mut rng);
            for mb in order.chunks(cfg.minibatch) {
                let idx = Tensor::new(mb, &dev)?;
                let pick = |t: &Tensor| t.index_select(&idx, 0);
                let mask = pick(&r.response_mask)?;
                let out = policy.outputs(
                    &pick(&r.ids)?,
                    &pick(&r.attention_mask)?,
                    r.prompt_width,
                    cfg.temperature,
                )?;
                let old = pick(&logp_old)?;
                let (pl, clipfrac) =
                    core::policy_loss(&out.logp, &old, &pick(&adv_t)?, &mask, cfg.clip_range)?;
                let vl = core::value_loss(
                    &out.values,
                    &pick(&v_old)?,
                    &pick(&ret_t)?,
                    &mask,
                    cfg.value_clip_range,
                )?;
                let ent = core::masked_mean(&out.entropy, &mask)?;
                let mut loss = ((&pl + (&vl * cfg.vf_coef)?)? - (&ent * cfg.entropy_coef)?)?;
                if ptx_on {
                    // PPO-ptx: L = L_PPO + γ · (−log π on pretraining text).
                    let lm = ptx_loss(policy, corpus, cfg, &mut rng)?;
                    s.ptx_loss += lm.to_scalar::<f32>()? as f64;
                    loss = (loss + (lm * cfg.ptx_coef)?)?;
                }
                let lr = self.opt_cfg.lr; // constant
                self.opt.minimise(&params, &loss, lr, &self.opt_cfg)?;
                let akl = core::approx_kl(&out.logp.detach(), &old, &mask)?;
                s.policy_loss += pl.to_scalar::<f32>()? as f64;
                s.value_loss += vl.to_scalar::<f32>()? as f64;
                s.entropy += ent.to_scalar::<f32>()? as f64;
                s.clipfrac += clipfrac;
                s.approx_kl += akl;
                s.updates += 1;
                if cfg.target_approx_kl.is_some_and(|t| akl > t) {
                    break 'epochs;
                }
            }
        }
        s.seconds = t0.elapsed().as_secs_f64(); // the to_scalar calls above waited for the GPU
        Ok(s)
    }
    // ANCHOR_END: update
}

// ANCHOR: advantages
/// Steps 1–2 of an iteration: per-token rewards (−β·KL at every token, the score at the
/// last), then advantages and returns by GAE, per response; the advantages whitened over
/// the batch. Returns (advantages, returns), one row per response.
pub fn advantages(r: &Rollout, beta: f64, cfg: &PpoConfig) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut rewards: Vec<Vec<f64>> = (0..r.score.len())
        .map(|i| {
            core::shaped_rewards(
                r.score[i],
                &r.logp[i],
                &r.ref_logp[i],
                beta,
                cfg.kl_estimator,
            )
        })
        .collect();
    if cfg.whiten_rewards {
        rewards = core::whiten_nested(&rewards, false);
    }
    let (mut adv, mut ret) = (Vec::new(), Vec::new());
    for (rw, v) in rewards.iter().zip(&r.values) {
        let (a, g) = core::gae(rw, v, cfg.gamma, cfg.lambda);
        adv.push(a);
        ret.push(g);
    }
    if cfg.whiten_advantages {
        adv = core::whiten_nested(&adv, true);
    }
    (adv, ret)
}
// ANCHOR_END: advantages

/// Sums over one iteration's minibatch updates, and their seconds.
#[derive(Default)]
struct UpdateSums {
    policy_loss: f64,
    value_loss: f64,
    clipfrac: f64,
    entropy: f64,
    approx_kl: f64,
    ptx_loss: f64,
    updates: usize,
    seconds: f64,
}

impl UpdateSums {
    /// The iteration's [`Stats`]: the rollout's means and the updates' averages.
    fn stats(
        &self,
        iteration: usize,
        r: &Rollout,
        ret: &[Vec<f64>],
        kl: f64,
        beta: f64,
        cfg: &PpoConfig,
    ) -> Result<Stats> {
        let n = r.score.len();
        let flat = |x: &[Vec<f64>]| x.iter().flatten().copied().collect::<Vec<f64>>();
        let u = self.updates.max(1) as f64;
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        Ok(Stats {
            iteration,
            rm_reward: mean(&r.rm_score),
            gold_reward: mean(&r.gold),
            kl,
            beta,
            approx_kl: self.approx_kl / u,
            clipfrac: self.clipfrac / u,
            entropy: self.entropy / u,
            policy_loss: self.policy_loss / u,
            value_loss: self.value_loss / u,
            explained_variance: core::explained_variance(&flat(&r.values), &flat(ret)),
            ptx_loss: self.ptx_loss / u,
            length: r.logp.iter().map(Vec::len).sum::<usize>() as f64 / n as f64,
            ended: r.ended.iter().filter(|&&e| e).count() as f64 / n as f64,
            updates: self.updates,
            rollout_seconds: 0.0,
            update_seconds: self.seconds,
            update_tokens: self.updates * cfg.minibatch.min(n) * r.ids.dim(1)?,
            update_seq_len: r.ids.dim(1)?,
        })
    }
}
