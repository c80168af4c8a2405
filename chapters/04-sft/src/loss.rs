//! The SFT loss: cross-entropy on the response's tokens only.

use anyhow::{Result, ensure};
use candle_core::Tensor;

// ANCHOR: loss_mask
/// Which next-token targets the loss counts, for a sequence of `prompt_len` prompt tokens
/// then `response_len` response tokens, padded to `width` targets. Target j is token j + 1
/// (the model at position j predicts the next token), so the weight is 1 exactly when
/// `prompt_len ≤ j + 1 < prompt_len + response_len`: every response token, the final
/// `<|end|>` included, and none of the prompt or the padding.
pub fn loss_mask(prompt_len: usize, response_len: usize, width: usize) -> Vec<f32> {
    (0..width)
        .map(|j| {
            if j + 1 >= prompt_len && j + 1 < prompt_len + response_len {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}
// ANCHOR_END: loss_mask

// ANCHOR: masked_cross_entropy
/// Mean cross-entropy over the counted targets:
///
/// ```text
/// L = − Σ_{b,t} w_{b,t} · log softmax(z_{b,t})[y_{b,t}]  /  Σ_{b,t} w_{b,t}
/// ```
///
/// for logits `z` (B, T, V), targets `y` (B, T) and weights `w` (B, T) of 0 and 1. Every
/// response token weighs the same, however long its response.
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let total = weights.sum_all()?.to_scalar::<f32>()?;
    ensure!(total > 0.0, "the loss mask selects no token");
    let log_probs = ch03_gpt::model::token_log_probs(logits, targets)?; // (B, T)
    Ok(((log_probs * weights)?.sum_all()? * (-1.0 / total as f64))?)
}
// ANCHOR_END: masked_cross_entropy
