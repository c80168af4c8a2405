//! PPO's equations, one small function each, on plain numbers or tensors. Every function
//! has a test on hand-computed values (`tests/core.rs`); the notebook calls the same ones.
//!
//! Conventions: a response of T tokens has per-token log-probabilities under the policy
//! (`logp`), under the frozen reference (`ref_logp`), value estimates (`values`), and one
//! reward-model score for the whole response.

use anyhow::{Result, ensure};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// How the per-token KL to the reference is estimated from the sampled token's
/// log-probabilities (Schulman, "Approximating KL divergence", 2020).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KlEstimator {
    /// k1 = log π(a) − log π_ref(a): unbiased, can be negative per token.
    K1,
    /// k3 = (ρ − 1) − log ρ with ρ = π_ref(a)/π(a): unbiased, never negative, and of lower
    /// variance than k1 while π is close to π_ref (Schulman 2020); far from π_ref its
    /// (ρ − 1) term can make it the noisier one.
    K3,
}

// ANCHOR: kl
/// The per-token KL estimate of one sampled token.
pub fn kl_estimate(logp: f64, ref_logp: f64, estimator: KlEstimator) -> f64 {
    match estimator {
        KlEstimator::K1 => logp - ref_logp,
        KlEstimator::K3 => {
            let log_ratio = ref_logp - logp; // log ρ
            log_ratio.exp() - 1.0 - log_ratio
        }
    }
}
// ANCHOR_END: kl

// ANCHOR: shaped_rewards
/// The reward PPO maximises, per token of one response: `−β · KL_t` at every token, plus
/// the reward model's (normalised) score at the last token.
///
/// ```text
/// r_t = −β · kl(logp_t, ref_logp_t) + [t = T − 1] · score
/// ```
pub fn shaped_rewards(
    score: f64,
    logp: &[f64],
    ref_logp: &[f64],
    beta: f64,
    estimator: KlEstimator,
) -> Vec<f64> {
    let mut r: Vec<f64> = logp
        .iter()
        .zip(ref_logp)
        .map(|(&l, &rl)| -beta * kl_estimate(l, rl, estimator))
        .collect();
    if let Some(last) = r.last_mut() {
        *last += score;
    }
    r
}
// ANCHOR_END: shaped_rewards

// ANCHOR: gae
/// Generalised advantage estimation over one response (the episode ends after its last
/// token, so the value after it is 0):
///
/// ```text
/// δ_t = r_t + γ V_{t+1} − V_t
/// A_t = δ_t + γ λ A_{t+1}          (A_T = 0)
/// R_t = A_t + V_t                   (the value function's target)
/// ```
///
/// Returns (advantages, returns).
pub fn gae(rewards: &[f64], values: &[f64], gamma: f64, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    let n = rewards.len();
    let mut adv = vec![0.0; n];
    let mut next_adv = 0.0;
    for t in (0..n).rev() {
        let next_value = if t + 1 < n { values[t + 1] } else { 0.0 };
        let delta = rewards[t] + gamma * next_value - values[t];
        next_adv = delta + gamma * lambda * next_adv;
        adv[t] = next_adv;
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}
// ANCHOR_END: gae

// ANCHOR: whiten
/// Whitening over every token of a batch (of responses of different lengths, flattened):
/// `(x − mean) / (std + 1e-8)`; with `shift_mean = false` the mean is added back,
/// `(x − mean) / (std + 1e-8) + mean`: the spread around the mean becomes 1 and the mean
/// itself is kept (not a pure rescaling `x / std`: the mean is not divided). TRL whitens
/// rewards this way, so the batch's average reward keeps its sign and size.
pub fn whiten(x: &[f64], shift_mean: bool) -> Vec<f64> {
    let n = x.len() as f64;
    if x.is_empty() {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    x.iter()
        .map(|v| (v - mean) / (std + 1e-8) + if shift_mean { 0.0 } else { mean })
        .collect()
}
// ANCHOR_END: whiten

/// Whitening of per-response sequences together (their tokens are the batch), keeping the
/// shape.
pub fn whiten_nested(x: &[Vec<f64>], shift_mean: bool) -> Vec<Vec<f64>> {
    let flat: Vec<f64> = x.iter().flatten().copied().collect();
    let w = whiten(&flat, shift_mean);
    let mut it = w.into_iter();
    x.iter()
        .map(|row| it.by_ref().take(row.len()).collect())
        .collect()
}

/// Mean of `x` over the positions where `mask` is 1: `Σ m·x / Σ m`.
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let n = mask.sum_all()?.to_scalar::<f32>()?;
    ensure!(n > 0.0, "the mask selects no token");
    Ok(((x * mask)?.sum_all()? / n as f64)?)
}

// ANCHOR: policy_loss
/// PPO's clipped surrogate, to minimise, with the fraction of tokens where clipping was
/// active:
///
/// ```text
/// ρ_t = exp(logp_new − logp_old)
/// L   = mean_t  max( −A_t ρ_t,  −A_t clip(ρ_t, 1 − ε, 1 + ε) )
/// ```
///
/// All tensors (B, T); `mask` is 1 on response tokens.
pub fn policy_loss(
    logp_new: &Tensor,
    logp_old: &Tensor,
    advantages: &Tensor,
    mask: &Tensor,
    clip: f64,
) -> Result<(Tensor, f64)> {
    let ratio = (logp_new - logp_old)?.exp()?;
    let unclipped = (advantages.neg()? * &ratio)?;
    let clipped = (advantages.neg()? * ratio.clamp(1.0 - clip, 1.0 + clip)?)?;
    let loss = masked_mean(&unclipped.maximum(&clipped)?, mask)?;
    let active = clipped.gt(&unclipped)?.to_dtype(candle_core::DType::F32)?;
    let clipfrac = masked_mean(&active, mask)?.to_scalar::<f32>()? as f64;
    Ok((loss, clipfrac))
}
// ANCHOR_END: policy_loss

// ANCHOR: value_loss
/// The clipped value loss, to minimise: the new value may not move further than ε from
/// the value at rollout time without the loss ignoring the gain.
///
/// ```text
/// L_V = ½ mean_t max( (V_new − R)²,  (clip(V_new, V_old − ε, V_old + ε) − R)² )
/// ```
pub fn value_loss(
    v_new: &Tensor,
    v_old: &Tensor,
    returns: &Tensor,
    mask: &Tensor,
    clip: f64,
) -> Result<Tensor> {
    let unclipped = (v_new - returns)?.sqr()?;
    let v_clipped = v_new.maximum(&(v_old - clip)?)?.minimum(&(v_old + clip)?)?;
    let clipped = (v_clipped - returns)?.sqr()?;
    Ok((masked_mean(&unclipped.maximum(&clipped)?, mask)? * 0.5)?)
}
// ANCHOR_END: value_loss

// ANCHOR: adaptive_kl
/// The adaptive KL controller of Ziegler et al. (2019): β moves so that the measured KL
/// tracks a target, by at most ±20% per `horizon` responses. `n` counts responses
/// (TRL's `AdaptiveKLController` is called with the batch size), not tokens, so
/// `horizon = 10,000` means β can change by at most ±20% over 10,000 sampled responses.
///
/// ```text
/// e = clip(KL / target − 1, −0.2, 0.2)
/// β ← β · (1 + e · n / horizon)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveKl {
    pub beta: f64,
    pub target: f64,
    pub horizon: f64,
}

impl AdaptiveKl {
    /// Update after a batch of `n` samples whose mean KL (summed over each response's
    /// tokens) was `kl`.
    pub fn update(&mut self, kl: f64, n: usize) {
        let error = (kl / self.target - 1.0).clamp(-0.2, 0.2);
        self.beta *= 1.0 + error * n as f64 / self.horizon;
    }
}
// ANCHOR_END: adaptive_kl

/// The approximate KL between the policy before and after an update, from the sampled
/// tokens' log-probabilities: `mean ½ (logp_new − logp_old)²`, the test of
/// `target_approx_kl`. TRL v0.11 logs the same statistic (`approxkl`) but stops early on
/// another one (`policykl`, once per epoch).
pub fn approx_kl(logp_new: &Tensor, logp_old: &Tensor, mask: &Tensor) -> Result<f64> {
    Ok(masked_mean(&((logp_new - logp_old)?.sqr()? * 0.5)?, mask)?.to_scalar::<f32>()? as f64)
}

/// The fraction of the returns' variance that the values explain: `1 − Var(R − V)/Var(R)`
/// (1: perfect, 0: no better than a constant, negative: worse).
pub fn explained_variance(values: &[f64], returns: &[f64]) -> f64 {
    let var = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64
    };
    let diff: Vec<f64> = returns.iter().zip(values).map(|(r, v)| r - v).collect();
    let vr = var(returns);
    if vr == 0.0 {
        f64::NAN
    } else {
        1.0 - var(&diff) / vr
    }
}
