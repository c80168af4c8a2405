//! How sure is a number in the capability table? 95% intervals by the bootstrap.
//!
//! A held-out set of a few hundred prompts is one sample of the prompts the world could
//! ask. Resampling it with replacement — the same size, B times — and recomputing the
//! statistic each time shows how much the number would move with another sample; the
//! 2.5th and 97.5th percentiles of the B values bound a 95% interval (the percentile
//! bootstrap, Efron 1979).
//!
//! Comparing two models on the *same* prompts, resample prompts once for both (the
//! paired bootstrap): a prompt that is hard for one is usually hard for the other, and
//! the interval of the difference is much narrower than the two intervals suggest.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Resamples per interval.
pub const RESAMPLES: usize = 2000;

/// A statistic and its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Above zero beyond noise.
    pub fn above_zero(&self) -> bool {
        self.low > 0.0
    }

    /// Below zero beyond noise.
    pub fn below_zero(&self) -> bool {
        self.high < 0.0
    }
}

/// The q-quantile (0 ≤ q ≤ 1) of sorted values, by linear interpolation.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let x = q * (sorted.len() - 1) as f64;
    let (i, f) = (x.floor() as usize, x.fract());
    if i + 1 < sorted.len() { sorted[i] * (1.0 - f) + sorted[i + 1] * f } else { sorted[i] }
}

// ANCHOR: paired_bootstrap
/// The mean of `b` minus the mean of `a` over the items both count (`None`: not counted),
/// with a 95% paired-bootstrap interval: items are resampled together for both.
pub fn paired_difference<R: Rng>(a: &[Option<f64>], b: &[Option<f64>], rng: &mut R) -> Interval {
    assert_eq!(a.len(), b.len(), "paired_difference: both sides need one value per item");
    let pairs: Vec<(f64, f64)> = a.iter().zip(b).filter_map(|(x, y)| Some(((*x)?, (*y)?))).collect();
    let diff = |ps: &mut dyn Iterator<Item = (f64, f64)>| {
        let (n, s) = ps.fold((0usize, 0.0), |(n, s), (x, y)| (n + 1, s + y - x));
        s / n as f64
    };
    if pairs.is_empty() {
        return Interval { value: f64::NAN, low: f64::NAN, high: f64::NAN };
    }
    let value = diff(&mut pairs.iter().copied());
    let mut resampled: Vec<f64> = (0..RESAMPLES)
        .map(|_| diff(&mut (0..pairs.len()).map(|_| pairs[rng.random_range(0..pairs.len())])))
        .collect();
    resampled.sort_by(f64::total_cmp);
    Interval { value, low: quantile(&resampled, 0.025), high: quantile(&resampled, 0.975) }
}
// ANCHOR_END: paired_bootstrap

/// The mean of the counted values with a 95% bootstrap interval: the paired difference
/// from zero.
pub fn mean_interval<R: Rng>(values: &[Option<f64>], rng: &mut R) -> Interval {
    let zeros: Vec<Option<f64>> = values.iter().map(|v| v.map(|_| 0.0)).collect();
    paired_difference(&zeros, values, rng)
}

/// Mean and sample standard deviation (n − 1) of `xs`; the deviation is 0 for one value.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}
