//! # Your turn: the two pieces that make SFT supervised *on responses*
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch04-sft --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions in [`crate::loss`].
//! Hints: `chapters/04-sft/HINTS.md`.
#![allow(unused_variables)]

use anyhow::Result;
use candle_core::Tensor;

/// Exercise 4.1 — the loss mask over `width` next-token targets for a sequence of
/// `prompt_len` prompt tokens then `response_len` response tokens (then padding). Target
/// j is token j + 1. Return 1.0 for the targets that are response tokens (the final
/// `<|end|>` included), 0.0 elsewhere.
pub fn loss_mask(prompt_len: usize, response_len: usize, width: usize) -> Vec<f32> {
    // TODO: one comparison per target index j.
    todo!("exercise 4.1: loss_mask")
}

/// Exercise 4.2 — the masked cross-entropy: for logits (B, T, V), targets (B, T) and
/// weights (B, T), `− Σ w · log softmax(z)[y] / Σ w`. Must stay differentiable (use
/// tensor operations) and refuse an all-zero mask with an error.
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    // TODO: chapter 3's `ch03_gpt::model::token_log_probs` gives log softmax(z)[y] as (B, T).
    todo!("exercise 4.2: masked_cross_entropy")
}
