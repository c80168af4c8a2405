//! Best-of-n as a column of chapter 6's capability table: a policy made by selection, not
//! training, measured on the same held-out prompts as the base, SFT and RLHF models.

use crate::bon::kl_best_of_n;
use crate::study::{self, OveroptConfig, Samples};
use anyhow::{Result, ensure};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch05_reward::RewardModel;
use ch06_ppo::{Column, PpoConfig};
use world::{Prompt, World};

// ANCHOR: pick
/// For every prompt, the response the proxy ranks first among its samples (the first of
/// equals) and its index: `argmax_j proxy[i][j]`.
pub fn pick_best(samples: &Samples, proxy: &[Vec<f64>]) -> Vec<(usize, String)> {
    samples
        .responses
        .iter()
        .zip(proxy)
        .map(|(rs, p)| {
            let j = (0..p.len()).fold(0, |best, j| if p[j] > p[best] { j } else { best });
            (j, rs[j].clone())
        })
        .collect()
}
// ANCHOR_END: pick

// ANCHOR: column
/// Best-of-n measured like chapter 6's models: for every prompt, `n` responses sampled
/// from the SFT model as PPO samples them (its temperature and length; a response that
/// never ends scores `missing_end_score`), and the one the proxy ranks first. Nothing is
/// trained; the column's KL is the analytic ln n − (n − 1)/n of [`kl_best_of_n`] — to the
/// SFT model *at the sampling temperature*, the distribution the n samples come from, which
/// is also the KL PPO's penalty charges (the other columns' KL row is at temperature 1).
pub fn best_of_n_column(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    rm: &RewardModel,
    prompts: &[Prompt],
    n: usize,
    ppo: &PpoConfig,
) -> Result<Column> {
    ensure!(n >= 2, "best-of-n needs n ≥ 2 samples per prompt, got {n}");
    let cfg = OveroptConfig {
        samples: n,
        temperature: ppo.temperature,
        max_new_tokens: ppo.max_new_tokens,
        missing_end_score: ppo.missing_end_score,
        seed: ppo.seed,
        ..OveroptConfig::tiny()
    };
    let samples = study::sample(world, tok, sft, prompts, &cfg, 76)?;
    let proxy = study::proxy_scores(rm, tok, &samples, cfg.missing_end_score)?;
    let responses: Vec<String> = pick_best(&samples, &proxy)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let rm_scores = ch05_reward::train::normalised_scores(rm, tok, prompts, &responses)?;
    Ok(Column {
        capabilities: world.evaluate(prompts, &responses)?,
        rm_reward: rm_scores.iter().sum::<f64>() / rm_scores.len() as f64,
        kl: kl_best_of_n(n),
        responses,
        rm_scores,
        lm_loss: None,
    })
}
// ANCHOR_END: column
