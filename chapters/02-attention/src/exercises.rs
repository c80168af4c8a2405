//! # Your turn: four pieces of the transformer
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch02-attention --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions in [`crate::ops`]: against
//! finite differences and against the reference. Hints: `chapters/02-attention/HINTS.md`.
#![allow(unused_variables)]

use crate::ops::{LnCache, Mat, Vector};
use ndarray::Array3;

/// Exercise 2.1 — the backward of a row-wise softmax. Given `p = softmax(z)` and
/// `dp = ∂L/∂p`, return `dz = ∂L/∂z = p ⊙ (dp − Σ_j dp_j p_j)`, row by row.
pub fn softmax_backward(p: &Mat, dp: &Mat) -> Mat {
    // TODO: one dot product per row, then an elementwise product.
    todo!("exercise 2.1: softmax_backward")
}

/// Exercise 2.2 — the backward of layer norm. The forward was, per row,
/// `x̂ = (x − μ) · rstd`, `y = γ ⊙ x̂ + β`; `cache` holds `x̂` and `rstd`.
/// Return `(dx, dγ, dβ)`.
pub fn layernorm_backward(dy: &Mat, gamma: &Vector, cache: &LnCache) -> (Mat, Vector, Vector) {
    // TODO: dγ and dβ sum over rows; dx needs the two row means of the hint.
    todo!("exercise 2.2: layernorm_backward")
}

/// Exercise 2.3 — causal multi-head self-attention, forward. `qkv` is `(T, 3C)` (queries,
/// keys, values side by side); per head h, with D = C / n_head:
/// `P_h = softmax(Q_h K_hᵀ / √D, with −∞ above the diagonal)`, `O_h = P_h V_h`.
/// Return the heads' outputs side by side `(T, C)` and the weights `(n_head, T, T)`.
pub fn attention_forward(qkv: &Mat, n_head: usize) -> (Mat, Array3<f64>) {
    // TODO: slice each head's columns with `s![.., range]`; `crate::ops::softmax_forward` is yours to use.
    todo!("exercise 2.3: attention_forward")
}

/// Exercise 2.4 — causal multi-head self-attention, backward. Given `dout = ∂L/∂out`
/// `(T, C)`, the forward's input `qkv` `(T, 3C)` and its weights `att` `(n_head, T, T)`,
/// return `∂L/∂qkv` `(T, 3C)`. Per head: `dP = dO Vᵀ`, `dV = Pᵀ dO`,
/// `dS = softmax_backward(P, dP)`, `dQ = dS K / √D`, `dK = dSᵀ Q / √D`.
pub fn attention_backward(dout: &Mat, qkv: &Mat, att: &Array3<f64>, n_head: usize) -> Mat {
    // TODO: the forward's slicing in reverse; `crate::ops::softmax_backward` is yours to use.
    todo!("exercise 2.4: attention_backward")
}
