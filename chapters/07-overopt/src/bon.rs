//! Best-of-n: sample n responses from the SFT policy, keep the one the reward model scores
//! highest. No training at all — and yet it moves the policy away from the SFT model by a
//! KL that is known in closed form, which makes it the cleanest ruler for over-optimisation.

use rand::Rng;

// ANCHOR: kl
/// KL(π_best-of-n ‖ π) in nats = ln n − (n − 1)/n.
///
/// For a reward with a continuous distribution under π, the best of n has the density
/// n F(r)^(n−1) relative to π (F: the reward's distribution function). With u = F(r)
/// uniform on [0, 1], the KL is E[ln(n uⁿ⁻¹)] under u ~ Beta(n, 1), where E[ln u] = −1/n.
/// With ties (a discrete reward) it is an upper bound.
pub fn kl_best_of_n(n: usize) -> f64 {
    assert!(n >= 1, "best-of-n needs n ≥ 1");
    let n = n as f64;
    n.ln() - (n - 1.0) / n
}
// ANCHOR_END: kl

// ANCHOR: monte_carlo
/// A Monte-Carlo estimate of the same KL, to check the formula: draw n uniforms (the
/// reward's quantiles under π), keep the largest u, and average the log density ratio of
/// the best of n, ln(n uⁿ⁻¹), over `draws` draws.
pub fn kl_best_of_n_monte_carlo<R: Rng>(n: usize, draws: usize, rng: &mut R) -> f64 {
    assert!(n >= 1 && draws >= 1, "need n ≥ 1 and at least one draw");
    let total: f64 = (0..draws)
        .map(|_| {
            let best = (0..n).map(|_| rng.random::<f64>()).fold(0.0, f64::max);
            (n as f64).ln() + (n as f64 - 1.0) * best.ln()
        })
        .sum();
    total / draws as f64
}
// ANCHOR_END: monte_carlo

/// ln C(a, b), by a product (exact enough for the a ≤ a few thousand used here).
fn ln_choose(a: usize, b: usize) -> f64 {
    if b > a {
        return f64::NEG_INFINITY;
    }
    (1..=b).map(|j| ((a - b + j) as f64 / j as f64).ln()).sum()
}

// ANCHOR: weights
/// The probability that the i-th lowest of N scored samples (i = 0 … N−1) is the best of
/// a random subset of n of them: it must be in the subset, and the other n − 1 must all
/// come from the i below it, so `C(i, n − 1) / C(N, n)`.
pub fn best_of_n_weights(big_n: usize, n: usize) -> Vec<f64> {
    assert!(
        n >= 1 && n <= big_n,
        "best-of-{n} needs 1 ≤ n ≤ N = {big_n} samples"
    );
    let denominator = ln_choose(big_n, n);
    (0..big_n)
        .map(|i| (ln_choose(i, n - 1) - denominator).exp())
        .collect()
}
// ANCHOR_END: weights

// ANCHOR: best_of_n
/// The expected proxy score and expected value (the gold utility, say) of the best of n
/// responses, estimated from N ≥ n samples of one prompt without bias: every subset of n
/// of the N counts once (Gao et al. 2022, appendix). Sort by proxy; the i-th lowest is the
/// best of the subset with probability [`best_of_n_weights`]. Ties keep the samples' order.
pub fn best_of_n(proxy: &[f64], value: &[f64], n: usize) -> (f64, f64) {
    assert_eq!(proxy.len(), value.len(), "one proxy score per value");
    let mut order: Vec<usize> = (0..proxy.len()).collect();
    order.sort_by(|&a, &b| proxy[a].total_cmp(&proxy[b]));
    let w = best_of_n_weights(proxy.len(), n);
    order.iter().zip(&w).fold((0.0, 0.0), |(p, v), (&i, &wi)| {
        (p + wi * proxy[i], v + wi * value[i])
    })
}
// ANCHOR_END: best_of_n
