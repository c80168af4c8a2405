//! # Your turn: four pieces of chapter 3
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch03-gpt --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions ([`crate::model::causal_mask`],
//! [`crate::train::TrainConfig::lr_at`], [`crate::sample::distribution`],
//! [`crate::train::adamw_update`]).
//! Hints: `chapters/03-gpt/HINTS.md`.
#![allow(unused_variables)]

use crate::sample::Sampling;
use crate::train::{AdamWConfig, TrainConfig};
use anyhow::Result;
use candle_core::{Device, Tensor};

/// Exercise 3.1 — the additive causal mask for `t` new positions after `past` cached ones
/// (the KV cache's case): shape `(t, past + t)`, 0 where query i may see key j
/// (j ≤ past + i), −∞ elsewhere.
pub fn causal_mask(t: usize, past: usize, dev: &Device) -> Result<Tensor> {
    // TODO: build a Vec<f32> of t · (past + t) values row by row, then Tensor::from_vec.
    todo!("exercise 3.1: causal_mask")
}

/// Exercise 3.2 — the learning rate at `step` (0-based): linear warmup from `lr/warmup`
/// to `lr` over `cfg.adamw.warmup` steps, then cosine decay from `lr` to `cfg.adamw.min_lr`
/// at the last step (`cfg.steps`).
pub fn lr_at(cfg: &TrainConfig, step: usize) -> f64 {
    // TODO: two cases; progress = (step − warmup) / (steps − warmup), capped at 1.
    todo!("exercise 3.2: lr_at")
}

/// Exercise 3.3 — the distribution a sampler draws from: `(token, probability)` pairs,
/// most likely first. Softmax of `logits / temperature`, kept to the `top_k` most likely
/// tokens (0: all), then to the smallest prefix whose probability reaches `top_p`,
/// renormalised. Temperature 0: only the most likely token, with probability 1.
pub fn distribution(logits: &[f32], s: &Sampling) -> Vec<(u32, f64)> {
    // TODO: sort indices by logit (descending), truncate, softmax, cumulative sum.
    todo!("exercise 3.3: distribution")
}

/// Exercise 3.4 — one AdamW update of one parameter θ with gradient g at step t (from 1),
/// its moments m and v, and weight decay λ; return the new (θ, m, v):
/// `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`,
/// `θ ← θ − lr · ((m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε) + λ θ)`, with β₁, β₂, ε from `cfg`.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    theta: &Tensor,
    m: &Tensor,
    v: &Tensor,
    g: &Tensor,
    lr: f64,
    t: usize,
    decay: f64,
    cfg: &AdamWConfig,
) -> Result<(Tensor, Tensor, Tensor)> {
    // TODO: tensor arithmetic with f64 scalars (`&m * b1`, `g.sqr()?`, `.sqrt()?`), then
    // `.detach()` each result: the optimiser must not keep the gradient's graph alive.
    todo!("exercise 3.4: adamw_update")
}
