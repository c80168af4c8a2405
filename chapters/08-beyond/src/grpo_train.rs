//! GRPO's training loop: G samples per arithmetic prompt, the checker's reward, advantages
//! relative to the group, chapter 6's clipped ratio, and a KL penalty in the loss.

use crate::config::GrpoConfig;
use crate::grpo;
use anyhow::{Result, ensure};
use candle_core::Tensor;
use ch01_tokenizer::library::{decode, encode};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::{Sampling, generate_batch};
use ch03_gpt::train::AdamW;
use ch06_ppo::policy::response_logp;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::{Deserialize, Serialize};
use world::Prompt;

/// What one iteration measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GrpoRecord {
    pub iteration: usize,
    /// Mean verifiable reward of the iteration's samples: the fraction answered right.
    pub reward: f64,
    /// Fraction of groups whose responses did not all get the same reward — the only
    /// groups that teach anything.
    pub informative_groups: f64,
    /// KL to the reference, Σ over a response's tokens of log π − log π_ref, averaged.
    pub kl: f64,
    pub clipfrac: f64,
    pub length: f64,
}

// ANCHOR: train
/// GRPO from `sft` on `prompts` (their answers checked by [`grpo::verifiable_reward`]):
/// a copy of `sft` is the policy, `sft` the reference. Returns the policy and one record
/// per iteration.
pub fn train(
    sft: &Gpt,
    tok: &Tokenizer,
    prompts: &[Prompt],
    cfg: &GrpoConfig,
    mut on_iteration: impl FnMut(&GrpoRecord),
) -> Result<(Gpt, Vec<GrpoRecord>)> {
    cfg.validate()?;
    ensure!(
        prompts
            .iter()
            .all(|p| grpo::verifiable_reward(p, "").is_some()),
        "GRPO here needs prompts whose answers a program can check (arithmetic)"
    );
    let policy = sft.deep_copy()?;
    let mut opt = AdamW::new(&policy.params)?;
    let mut rng = world::rng(cfg.seed, 81);
    let mut history = Vec::with_capacity(cfg.iterations);
    for iteration in 1..=cfg.iterations {
        // 1. G responses to each of the iteration's prompts, and the checker's rewards.
        let g = sample_groups(&policy, tok, prompts, cfg, &mut rng)?;
        // 2. Advantages within each group: one number per response, for all its tokens.
        let advantages = group_advantages(&g.rewards, cfg);
        // 3. Everything the updates compare against, measured once: log π_old and log π_ref.
        let batch = Batch::new(&policy, sft, &g.prompt_ids, &g.responses, &advantages)?;
        // 4. Clipped policy-gradient updates with the KL penalty in the loss.
        let clipfrac = update(&policy, &mut opt, &batch, cfg, &mut rng)?;
        // ANCHOR_END: train
        let record = batch.record(iteration, &g, clipfrac)?;
        on_iteration(&record);
        history.push(record);
    }
    Ok((policy, history))
}

// ANCHOR: groups
/// One iteration's samples: `cfg.group` responses to each of `cfg.prompts` prompts drawn
/// at random, and the checker's reward of each.
struct Groups<'a> {
    chosen: Vec<&'a Prompt>,
    /// (prompts × G) token ids: each prompt repeated G times, and the responses.
    prompt_ids: Vec<Vec<u32>>,
    responses: Vec<Vec<u32>>,
    rewards: Vec<f64>,
}

fn sample_groups<'a, R: rand::Rng>(
    policy: &Gpt,
    tok: &Tokenizer,
    prompts: &'a [Prompt],
    cfg: &GrpoConfig,
    rng: &mut R,
) -> Result<Groups<'a>> {
    let sampling = Sampling {
        temperature: cfg.temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let stop = ch04_sft::chat::stop_tokens(tok);
    let chosen: Vec<&Prompt> = prompts.choose_multiple(rng, cfg.prompts).collect();
    let prompt_ids: Vec<Vec<u32>> = chosen
        .iter()
        .flat_map(|p| std::iter::repeat_n(p, cfg.group))
        .map(|p| encode(tok, &p.chat()))
        .collect::<Result<_>>()?;
    let max_new = cfg.max_new_tokens;
    let responses = generate_batch(policy, &prompt_ids, max_new, &sampling, &stop, true, rng)?;
    let mut rewards = Vec::with_capacity(responses.len());
    for (i, r) in responses.iter().enumerate() {
        let text = decode(tok, r)?;
        rewards.push(grpo::verifiable_reward(chosen[i / cfg.group], &text).unwrap_or(0.0));
    }
    Ok(Groups {
        chosen,
        prompt_ids,
        responses,
        rewards,
    })
}
// ANCHOR_END: groups

/// Each response's advantage, relative to its group: GRPO's standardised one, or RLOO's
/// leave-one-out.
fn group_advantages(rewards: &[f64], cfg: &GrpoConfig) -> Vec<f64> {
    rewards
        .chunks(cfg.group)
        .flat_map(|g| match cfg.rloo {
            true => grpo::rloo_advantages(g),
            false => grpo::group_advantages(g, 1e-4),
        })
        .collect()
}

/// An iteration's batch for the updates: the sequences, and what the updates compare
/// against, computed once.
struct Batch {
    /// (B, P + R) token ids and their attention mask; `width` = P + R.
    ids: Tensor,
    mask: Tensor,
    width: usize,
    /// (B, R): 1 on the response's real tokens.
    rmask: Tensor,
    /// (B, R): log π_old and log π_ref of each response token.
    old: Tensor,
    reference: Tensor,
    /// (B, R): each response's advantage, on every one of its tokens.
    adv: Tensor,
}

impl Batch {
    fn new(
        policy: &Gpt,
        sft: &Gpt,
        prompt_ids: &[Vec<u32>],
        responses: &[Vec<u32>],
        advantages: &[f64],
    ) -> Result<Batch> {
        let dev = policy.device();
        let (ids, mask, width, rmask) = ch06_ppo::rollout::layout(prompt_ids, responses, &dev)?;
        let old = ch06_ppo::policy::reference_logp(policy, &ids, &mask, width, 1.0)?;
        let reference = ch06_ppo::policy::reference_logp(sft, &ids, &mask, width, 1.0)?;
        let (n, width_r) = (responses.len(), rmask.dim(1)?);
        let adv: Vec<f32> = advantages
            .iter()
            .flat_map(|&a| std::iter::repeat_n(a as f32, width_r))
            .collect();
        let adv = Tensor::from_vec(adv, (n, width_r), &dev)?; // (B, R)
        Ok(Batch {
            ids,
            mask,
            width,
            rmask,
            old,
            reference,
            adv,
        })
    }

    /// What the iteration measured: reward, informative groups, KL, clip fraction, length.
    fn record(&self, iteration: usize, g: &Groups, clipfrac: f64) -> Result<GrpoRecord> {
        let (n, group) = (g.responses.len(), g.responses.len() / g.chosen.len());
        // Only a group whose responses did not all get the same reward teaches anything.
        let informative = (g.rewards.chunks(group))
            .filter(|rs| rs.iter().any(|&r| r != rs[0]))
            .count();
        let kl_per_response: f32 = ((&self.old - &self.reference)? * &self.rmask)?
            .sum_all()?
            .to_scalar()?;
        let tokens: f32 = self.rmask.sum_all()?.to_scalar()?;
        Ok(GrpoRecord {
            iteration,
            reward: g.rewards.iter().sum::<f64>() / n as f64,
            informative_groups: informative as f64 / g.chosen.len() as f64,
            kl: kl_per_response as f64 / n as f64,
            clipfrac,
            length: tokens as f64 / n as f64,
        })
    }
}

// ANCHOR: update
/// `cfg.epochs` passes over the batch in shuffled minibatches: chapter 6's clipped
/// surrogate with the group advantages, plus β times the k3 estimate of KL(π ‖ π_ref).
/// Returns the mean fraction of clipped tokens.
fn update<R: rand::Rng>(
    policy: &Gpt,
    opt: &mut AdamW,
    b: &Batch,
    cfg: &GrpoConfig,
    rng: &mut R,
) -> Result<f64> {
    let opt_cfg = cfg.adamw();
    let (dev, n) = (policy.device(), b.ids.dim(0)?);
    let (mut clip_sum, mut updates) = (0.0, 0usize);
    for _ in 0..cfg.epochs {
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(rng);
        for mb in order.chunks(cfg.minibatch) {
            let idx = Tensor::new(mb, &dev)?;
            let pick = |t: &Tensor| t.index_select(&idx, 0);
            let m = pick(&b.rmask)?;
            let logp = response_logp(policy, &pick(&b.ids)?, &pick(&b.mask)?, b.width, 1.0)?;
            let (pg, clipfrac) = ch06_ppo::core::policy_loss(
                &logp,
                &pick(&b.old)?,
                &pick(&b.adv)?,
                &m,
                cfg.clip_range,
            )?;
            let kl = grpo::kl_k3(&logp, &pick(&b.reference)?, &m)?;
            let loss = (pg + (kl * cfg.kl_coef)?)?;
            opt.minimise(&policy.params, &loss, opt_cfg.lr, &opt_cfg)?;
            clip_sum += clipfrac;
            updates += 1;
        }
    }
    Ok(clip_sum / updates.max(1) as f64)
}
// ANCHOR_END: update
