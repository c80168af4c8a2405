//! # Your turn: the equations at PPO's core
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch06-ppo --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions in [`crate::core`].
//! Hints: `chapters/06-ppo/HINTS.md`.
#![allow(unused_variables)]

use crate::core::KlEstimator;
use anyhow::Result;
use candle_core::Tensor;

/// Exercise 6.1 — generalised advantage estimation over one response:
/// `δ_t = r_t + γ V_{t+1} − V_t` (V after the last token is 0), `A_t = δ_t + γ λ A_{t+1}`,
/// returns `R_t = A_t + V_t`. Return (advantages, returns).
pub fn gae(rewards: &[f64], values: &[f64], gamma: f64, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    // TODO: one backward loop over t.
    todo!("exercise 6.1: gae")
}

/// Exercise 6.2 — the clipped surrogate loss (to minimise) and the fraction of masked
/// tokens where the clipped term was the one taken:
/// `ρ = exp(logp_new − logp_old)`, `L = mean_mask max(−A ρ, −A clip(ρ, 1 − ε, 1 + ε))`.
pub fn policy_loss(
    logp_new: &Tensor,
    logp_old: &Tensor,
    advantages: &Tensor,
    mask: &Tensor,
    clip: f64,
) -> Result<(Tensor, f64)> {
    // TODO: `clamp`, `maximum`, and `crate::core::masked_mean` are yours to use.
    todo!("exercise 6.2: policy_loss")
}

/// Exercise 6.3 — the KL penalty, token by token: the estimate of one sampled token,
/// `k1 = log π − log π_ref` or `k3 = (ρ − 1) − log ρ` with `ρ = π_ref / π`.
pub fn kl_estimate(logp: f64, ref_logp: f64, estimator: KlEstimator) -> f64 {
    // TODO: a `match` on the estimator; work with log ρ = ref_logp − logp.
    todo!("exercise 6.3: kl_estimate")
}

/// Exercise 6.3, continued — the shaped reward of one response:
/// `r_t = −β · kl_t` at every token, plus the score at the last one.
pub fn shaped_rewards(
    score: f64,
    logp: &[f64],
    ref_logp: &[f64],
    beta: f64,
    estimator: KlEstimator,
) -> Vec<f64> {
    // TODO: one value per token; add `score` to the last (an empty response gets none).
    todo!("exercise 6.3: shaped_rewards")
}

/// Exercise 6.4 — the clipped value loss (to minimise):
/// `L_V = ½ mean_mask max((V_new − R)², (clip(V_new, V_old − ε, V_old + ε) − R)²)`.
pub fn value_loss(
    v_new: &Tensor,
    v_old: &Tensor,
    returns: &Tensor,
    mask: &Tensor,
    clip: f64,
) -> Result<Tensor> {
    // TODO: `maximum`, `minimum`, `sqr` and `crate::core::masked_mean`.
    todo!("exercise 6.4: value_loss")
}
