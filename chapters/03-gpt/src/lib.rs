//! # Chapter 3 — a tiny GPT in candle
//!
//! Chapter 2's model again, now on candle tensors with autograd, batched, with GPT-2's
//! Hugging Face names and layouts:
//!
//! - [`config`]: the model's shape, with presets from `tiny` to GPT-2 small;
//! - [`model`]: parameters (seeded initialisation or a Hugging Face checkpoint), forward,
//!   and the loss;
//! - [`block`]: a transformer block's parameters, typed and named as in the checkpoint;
//! - [`cache`]: a preallocated key/value cache for generation;
//! - [`sample`]: greedy, temperature, top-k and top-p sampling;
//! - [`train`]: AdamW, warmup and cosine decay, clipping, checkpoints and exact resume;
//! - the speed section: CPU kernels, each a candle custom op with its own backward, tested
//!   against the composed operations ([`fused`], [`fused_linear`], [`fused_norm`],
//!   [`fused_attention`], [`fused_block`], [`fused_loss`], [`fused_adamw`],
//!   [`fused_decode`], on [`matmul`] and [`simd`]).
//!
//! Where the model runs (CUDA, TF32, bf16), FLOPs per token, MFU and the benchmark are
//! chapter 9's.
//!
//! Tests check it against the Hugging Face reference (`fixtures/gpt2-tiny`) and against
//! chapter 2's hand-written model on the same weights, and that every parameter gets a
//! gradient.

pub mod block;
pub mod cache;
pub mod config;
pub mod exercises;
pub mod fused;
pub mod fused_adamw;
pub mod fused_attention;
pub mod fused_block;
pub mod fused_decode;
pub mod fused_linear;
pub mod fused_loss;
pub mod fused_norm;
pub mod matmul;
pub mod model;
pub mod plots;
pub mod sample;
pub mod simd;
pub mod train;

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(not(feature = "exercises"))]
    pub use crate::model::causal_mask;
    #[cfg(not(feature = "exercises"))]
    pub use crate::sample::distribution;
    #[cfg(not(feature = "exercises"))]
    pub fn lr_at(cfg: &crate::train::TrainConfig, step: usize) -> f64 {
        cfg.lr_at(step)
    }
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{adamw_update, causal_mask, distribution, lr_at};
    #[cfg(not(feature = "exercises"))]
    pub use crate::train::adamw_update;
}

pub use candle_core;
pub use config::GptConfig;
pub use model::{Gpt, Params};
pub use plot;
pub use serde_json;
pub use world;

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use std::path::Path;

// ANCHOR: load_hf
/// Load a Hugging Face GPT-2 directory (`config.json`, `model.safetensors`), in either
/// weight layout, through candle-nn's `VarBuilder` as candle's own examples load GPT-2.
pub fn load_hf(dir: &Path, dev: &Device) -> Result<Gpt> {
    let cfg = GptConfig::from_hf_file(&dir.join("config.json"))?;
    let path = dir.join("model.safetensors");
    let bytes = files::read_bytes(&path, "weights")?;
    let invalid = || format!("weights `{}`: not a valid safetensors file", path.display());
    let vb = candle_nn::VarBuilder::from_buffered_safetensors(bytes, DType::F32, dev)
        .with_context(invalid)?;
    let params = model::from_var_builder(&cfg, &vb)
        .with_context(|| format!("weights `{}`", path.display()))?;
    Ok(Gpt::new(cfg, params))
}
// ANCHOR_END: load_hf
