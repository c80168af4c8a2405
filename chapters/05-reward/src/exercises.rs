//! # Your turn: the reward model's two essential pieces
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch05-reward --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions ([`crate::loss::pairwise_loss`],
//! [`crate::model::last_token_index`]). Hints: `chapters/05-reward/HINTS.md`.
#![allow(unused_variables)]

use anyhow::Result;
use candle_core::Tensor;

/// Exercise 5.1 — the pairwise loss `mean(−log σ(r_chosen − r_rejected))` over (B,)
/// tensors. It must stay finite when the scores are far apart (±100) and be differentiable.
pub fn pairwise_loss(r_chosen: &Tensor, r_rejected: &Tensor) -> Result<Tensor> {
    // TODO: −log σ(x) = max(−x, 0) + log(1 + e^{−|x|}); mind the gradient at x = 0 (HINTS.md).
    todo!("exercise 5.1: pairwise_loss")
}

/// Exercise 5.2 — for each row of an attention mask (1 real, 0 padding, on the left or
/// the right), the index of the last real token. A row without a real token is an error.
pub fn last_token_index(attention_mask: &[Vec<u32>]) -> Result<Vec<usize>> {
    // TODO: search each row from the end.
    todo!("exercise 5.2: last_token_index")
}
