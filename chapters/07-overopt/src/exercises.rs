//! # Your turn: best-of-n, its KL, and Gao's fit
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch07-overopt --features exercises --test exercises
//! ```
//!
//! The tests are the ones that check the reference solutions in [`crate::bon`] and
//! [`crate::fit`]. Hints: `chapters/07-overopt/HINTS.md`.
#![allow(unused_variables)]

use crate::fit::{Fit, Form};
use anyhow::Result;
use rand::Rng;

/// Exercise 7.1 — the KL of best-of-n to the policy it samples from, in nats:
/// `ln n − (n − 1)/n`.
pub fn kl_best_of_n(n: usize) -> f64 {
    // TODO: one line.
    todo!("exercise 7.1: kl_best_of_n")
}

/// Exercise 7.2 — the expected (proxy, value) of the best of n of one prompt's N ≥ n
/// samples, over every subset of n: sort the samples by proxy; the i-th lowest
/// (i = 0 … N−1) is the best of a random n-subset with probability C(i, n−1) / C(N, n).
pub fn best_of_n(proxy: &[f64], value: &[f64], n: usize) -> (f64, f64) {
    // TODO: sort indices by proxy, weight each sample, sum. Work with ln C in f64.
    todo!("exercise 7.2: best_of_n")
}

/// Exercise 7.3 — least squares of Gao's form `R(d) = α d − β g(d)` (no intercept;
/// `form.g(d)` is d² or d ln d) through `points` (d, gain): α, β, R², and the peak
/// (d* = α/2β for best-of-n, e^(α/β − 1) for RL; `None` when β ≤ 0).
pub fn fit(form: Form, points: &[(f64, f64)]) -> Result<Fit> {
    // TODO: the 2×2 normal equations, solved by Cramer's rule.
    todo!("exercise 7.3: fit")
}

/// Exercise 7.4 — check 7.1 by Monte Carlo: draw n uniforms, keep the largest u, and
/// average ln(n uⁿ⁻¹) — the log density ratio of the best of n — over `draws` draws.
pub fn kl_best_of_n_monte_carlo<R: Rng>(n: usize, draws: usize, rng: &mut R) -> f64 {
    // TODO: `rng.random::<f64>()` is uniform on [0, 1).
    todo!("exercise 7.4: kl_best_of_n_monte_carlo")
}
