//! # Chapter 9 — GPT-2 on a GPU
//!
//! Chapter 3's model, unchanged, at GPT-2 small's size (124M parameters) on an NVIDIA GPU.
//! What is new is around the model:
//!
//! - [`weights`]: Hugging Face GPT-2 directories in both weight layouts (with and without
//!   the `transformer.` prefix), written and read back bit for bit;
//! - [`precision`]: the device and the arithmetic — f32, TF32 matrix products, and bf16
//!   with f32 master weights ([`ch03_gpt::Gpt::dtype`]);
//! - [`mfu`]: [`flops_per_token`], [`peak_flops`] and [`mfu()`]: how much of the GPU the model uses;
//! - [`bench`]: training and generation throughput, and where a step's time goes (`rlhf bench`);
//! - [`plots`]: throughput and MFU from `rlhf bench` lines.
//!
//! The same code runs on a CPU (tests and the notebook use a tiny configuration);
//! `--features cuda` builds it for a GPU (`scripts/cuda-build.sh`).

pub mod bench;
pub mod exercises;
pub mod mfu;
pub mod plots;
pub mod precision;
pub mod weights;

pub use ch03_gpt;
pub use mfu::{Throughput, flops_per_token, mfu, peak_flops};
pub use precision::{Compute, Precision, gpu_name};

/// The exercise functions the tests check: the reference solutions, or — built with
/// `--features exercises` — your versions in [`exercises`].
pub mod ex {
    #[cfg(feature = "exercises")]
    pub use crate::exercises::{flops_per_token, mfu};
    #[cfg(not(feature = "exercises"))]
    pub use crate::mfu::{flops_per_token, mfu};
}
