//! GRPO's equations: a policy gradient whose baseline is the other samples of the same
//! prompt (Shao et al. 2024, DeepSeekMath), with a reward a program checks.
//!
//! Chapter 6's PPO learned a value function V(s_t) to tell a good response from a lucky
//! one. Sample G responses to the same prompt instead, and the group itself is the
//! baseline: a response is good if it beats its siblings. No value head, no GAE — and,
//! with a reward that can be verified, no reward model either.

use anyhow::Result;
use candle_core::Tensor;
use world::phrases::Op;
use world::{Family, Prompt, Target};

// ANCHOR: group_advantages
/// GRPO's advantage of each of a group's G responses to one prompt: its reward
/// standardised within the group,
///
/// ```text
/// A_i = (r_i − mean(r)) / (std(r) + ε)          std: the population standard deviation
/// ```
///
/// They sum to zero within the group, and are all zero when every response got the same
/// reward: a group that is all right or all wrong teaches nothing.
pub fn group_advantages(rewards: &[f64], eps: f64) -> Vec<f64> {
    let n = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    rewards.iter().map(|r| (r - mean) / (std + eps)).collect()
}
// ANCHOR_END: group_advantages

// ANCHOR: rloo_advantages
/// RLOO's advantage (Ahmadian et al. 2024): each response's reward minus the mean of the
/// *other* G − 1 responses' rewards,
///
/// ```text
/// A_i = r_i − (Σ_{j≠i} r_j) / (G − 1)  =  G/(G − 1) · (r_i − mean(r))
/// ```
///
/// The baseline does not include r_i itself, so the gradient estimate stays unbiased; GRPO's
/// division by the group's std rescales each prompt's gradient (prompts where the group
/// disagrees little get a larger step), which is no longer the plain policy gradient.
pub fn rloo_advantages(rewards: &[f64]) -> Vec<f64> {
    let g = rewards.len() as f64;
    let total: f64 = rewards.iter().sum();
    rewards
        .iter()
        .map(|r| {
            if g > 1.0 {
                r - (total - r) / (g - 1.0)
            } else {
                0.0
            }
        })
        .collect()
}
// ANCHOR_END: rloo_advantages

// ANCHOR: verifiable_reward
/// A reward a program checks, for prompts whose answer is known exactly: 1 when the
/// response ended (`<|end|>`) and the last number it states is `a op b`, else 0. `None` for
/// prompts whose answer cannot be checked this way (everything but arithmetic).
///
/// It reads only the answer, as a maths grader does; the hidden labeler also frowns on
/// other wrong numbers in the text (a sum copied wrongly), so the two can disagree.
pub fn verifiable_reward(prompt: &Prompt, response: &str) -> Option<f64> {
    let Target::Arithmetic { answer, .. } = prompt.target else {
        return None;
    };
    let ended = response.trim_end().ends_with(world::chat::END);
    let last = response
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .next_back()
        .and_then(|w| w.parse::<u32>().ok());
    Some(if ended && last == Some(answer) {
        1.0
    } else {
        0.0
    })
}
// ANCHOR_END: verifiable_reward

// ANCHOR: k3
/// The KL penalty GRPO adds to its loss (not to the reward, as chapter 6 did), per token:
/// Schulman's k3 estimator `ρ − 1 − log ρ` with `ρ = π_ref/π`, never negative, averaged
/// over response tokens. All (B, R); `mask` 1 on response tokens.
pub fn kl_k3(logp: &Tensor, ref_logp: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let log_rho = (ref_logp - logp)?;
    let k3 = ((log_rho.exp()? - 1.0)? - &log_rho)?;
    ch06_ppo::core::masked_mean(&k3, mask)
}
// ANCHOR_END: k3

// ANCHOR: easy_arithmetic
/// Easier arithmetic than the world's (sums and differences of numbers up to `max`, in the
/// world's three phrasings), split by problem: every fourth (a, op, b) is held out, with
/// all its phrasings. Returns (train, held-out) prompts.
pub fn easy_arithmetic(max: u32) -> (Vec<Prompt>, Vec<Prompt>) {
    let (mut train, mut heldout) = (Vec::new(), Vec::new());
    let mut item = 0;
    for op in [Op::Plus, Op::Minus] {
        for a in 0..=max {
            for b in 0..=max {
                if op == Op::Minus && b > a {
                    continue;
                }
                let target = Target::Arithmetic {
                    a,
                    op,
                    b,
                    answer: op.apply(a, b),
                };
                let split = if item % 4 == 3 {
                    &mut heldout
                } else {
                    &mut train
                };
                split.extend(
                    world::phrases::arithmetic_questions(a, op, b)
                        .into_iter()
                        .map(|text| Prompt {
                            family: Family::Arithmetic,
                            text,
                            target: target.clone(),
                        }),
                );
                item += 1;
            }
        }
    }
    (train, heldout)
}
// ANCHOR_END: easy_arithmetic
