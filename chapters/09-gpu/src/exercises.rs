//! # Your turn: how much of the GPU does the model use?
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch09-gpu --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions in [`crate::mfu`].
//! Hints: `chapters/09-gpu/HINTS.md`.
#![allow(unused_variables)]

use ch03_gpt::GptConfig;

/// Exercise 9.1 — training FLOPs per token of `cfg` on sequences of `seq_len` tokens:
/// `6N + 12·L·C·T`, with N the parameters that take part in matrix products (every
/// parameter but the position embeddings), L layers, C channels, T the sequence length.
pub fn flops_per_token(cfg: &GptConfig, seq_len: usize) -> f64 {
    // TODO: `ch03_gpt::model::shapes(cfg)` lists every parameter's name and shape.
    todo!("exercise 9.1: flops_per_token")
}

/// Exercise 9.2 — model FLOPs utilisation: the fraction of the GPU's peak FLOP/s that
/// `tokens_per_s` tokens per second of `flops_per_token` FLOPs each would need.
pub fn mfu(flops_per_token: f64, tokens_per_s: f64, peak: f64) -> f64 {
    todo!("exercise 9.2: mfu")
}
