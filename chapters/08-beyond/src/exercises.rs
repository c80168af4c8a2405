//! # Your turn: DPO's loss and GRPO's advantages
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch08-beyond --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions in [`crate::dpo`] and
//! [`crate::grpo`]. Hints: `chapters/08-beyond/HINTS.md`.
#![allow(unused_variables)]

use anyhow::Result;
use candle_core::Tensor;

/// Exercise 8.1 — the DPO loss over a batch of pairs, all (B,): with the implicit reward
/// `r̂ = β (log π − log π_ref)`, `L = mean −log σ(r̂_chosen − r̂_rejected)`, finite for any
/// margin.
pub fn dpo_loss(
    policy_chosen: &Tensor,
    policy_rejected: &Tensor,
    ref_chosen: &Tensor,
    ref_rejected: &Tensor,
    beta: f64,
) -> Result<Tensor> {
    // TODO: two implicit rewards, then chapter 5's loss on them.
    todo!("exercise 8.1: dpo_loss")
}

/// Exercise 8.2 — GRPO's advantages for one group of rewards (the G responses to one
/// prompt): `A_i = (r_i − mean) / (std + eps)`, std the population standard deviation.
pub fn group_advantages(rewards: &[f64], eps: f64) -> Vec<f64> {
    // TODO: mean, std, then one advantage per reward.
    todo!("exercise 8.2: group_advantages")
}
