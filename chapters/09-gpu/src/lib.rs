//! # Chapter 9 — GPT-2 on a GPU
//!
//! Chapter 3's model, unchanged, at GPT-2 small's size (124M parameters) on an NVIDIA GPU.
//! What is new is around the model:
//!
//! - [`weights`]: Hugging Face GPT-2 directories in both weight layouts (with and without
//!   the `transformer.` prefix), written and read back bit for bit;
//! - precision ([`ch03_gpt::device`]): f32, TF32 matrix products, and bf16 with f32 master
//!   weights ([`ch03_gpt::Gpt::dtype`]);
//! - [`flops_per_token`], [`peak_flops`] and [`mfu`]: how much of the GPU the model uses;
//! - [`plots`]: throughput and MFU from `rlhf bench` lines.
//!
//! The same code runs on a CPU (tests and the notebook use a tiny configuration);
//! `--features cuda` builds it for a GPU (`scripts/cuda-build.sh`).

pub mod exercises;
pub mod plots;
pub mod weights;

pub use ch03_gpt;
pub use ch03_gpt::device::{
    Compute, Precision, Throughput, flops_per_token, gpu_name, mfu, peak_flops,
};

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{flops_per_token, mfu};
    #[cfg(not(feature = "exercises"))]
    pub use ch03_gpt::device::{flops_per_token, mfu};
}
