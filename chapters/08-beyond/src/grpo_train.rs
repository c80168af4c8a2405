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
    let dev = policy.device();
    let stop = ch04_sft::chat::stop_tokens(tok);
    let sampling = Sampling {
        temperature: cfg.temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let opt_cfg = cfg.adamw();
    let mut opt = AdamW::new(&policy.params)?;
    let mut rng = world::rng(cfg.seed, 81);
    let mut history = Vec::with_capacity(cfg.iterations);
    for iteration in 1..=cfg.iterations {
        // 1. G responses to each of the iteration's prompts, and the checker's rewards.
        let chosen: Vec<&Prompt> = prompts.choose_multiple(&mut rng, cfg.prompts).collect();
        let prompt_ids: Vec<Vec<u32>> = chosen
            .iter()
            .flat_map(|p| std::iter::repeat_n(p, cfg.group))
            .map(|p| encode(tok, &p.chat()))
            .collect::<Result<_>>()?;
        let responses = generate_batch(
            &policy,
            &prompt_ids,
            cfg.max_new_tokens,
            &sampling,
            &stop,
            true,
            &mut rng,
        )?;
        let mut rewards = Vec::with_capacity(responses.len());
        for (i, r) in responses.iter().enumerate() {
            let text = decode(tok, r)?;
            rewards.push(grpo::verifiable_reward(chosen[i / cfg.group], &text).unwrap_or(0.0));
        }
        // 2. Advantages within each group: one number per response, for all its tokens.
        let mut advantages = Vec::with_capacity(rewards.len());
        let mut informative = 0usize;
        for g in rewards.chunks(cfg.group) {
            informative += g.iter().any(|&r| r != g[0]) as usize;
            advantages.extend(match cfg.rloo {
                true => grpo::rloo_advantages(g),
                false => grpo::group_advantages(g, 1e-4),
            });
        }
        // 3. Everything the updates compare against, measured once: log π_old and log π_ref.
        let (ids, mask, width, rmask) = ch06_ppo::rollout::layout(&prompt_ids, &responses, &dev)?;
        let old = ch06_ppo::policy::reference_logp(&policy, &ids, &mask, width, 1.0)?;
        let reference = ch06_ppo::policy::reference_logp(sft, &ids, &mask, width, 1.0)?;
        let n = responses.len();
        let width_r = rmask.dim(1)?;
        let adv: Vec<f32> = advantages
            .iter()
            .flat_map(|&a| std::iter::repeat_n(a as f32, width_r))
            .collect();
        let adv = Tensor::from_vec(adv, (n, width_r), &dev)?; // (B, R)
        // 4. Clipped policy-gradient updates with the KL penalty in the loss.
        let (mut clip_sum, mut updates) = (0.0, 0usize);
        for _ in 0..cfg.epochs {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.shuffle(&mut rng);
            for mb in order.chunks(cfg.minibatch) {
                let idx = Tensor::new(mb, &dev)?;
                let pick = |t: &Tensor| t.index_select(&idx, 0);
                let m = pick(&rmask)?;
                let logp = response_logp(&policy, &pick(&ids)?, &pick(&mask)?, width, 1.0)?;
                let (pg, clipfrac) = ch06_ppo::core::policy_loss(
                    &logp,
                    &pick(&old)?,
                    &pick(&adv)?,
                    &m,
                    cfg.clip_range,
                )?;
                let kl = grpo::kl_k3(&logp, &pick(&reference)?, &m)?;
                let loss = (pg + (kl * cfg.kl_coef)?)?;
                opt.minimise(&policy.params, &loss, opt_cfg.lr, &opt_cfg)?;
                clip_sum += clipfrac;
                updates += 1;
            }
        }
        // ANCHOR_END: train
        let kl_per_response: f32 = ((&old - &reference)? * &rmask)?.sum_all()?.to_scalar()?;
        let tokens: f32 = rmask.sum_all()?.to_scalar()?;
        let record = GrpoRecord {
            iteration,
            reward: rewards.iter().sum::<f64>() / n as f64,
            informative_groups: informative as f64 / chosen.len() as f64,
            kl: kl_per_response as f64 / n as f64,
            clipfrac: clip_sum / updates.max(1) as f64,
            length: tokens as f64 / n as f64,
        };
        on_iteration(&record);
        history.push(record);
    }
    Ok((policy, history))
}
