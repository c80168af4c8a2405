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
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}

// ANCHOR: paired_bootstrap
/// The statistic `value` with the 95% percentile interval of its bootstrap
/// `resampled` values: their 2.5th and 97.5th percentiles (NaN when there are none).
pub fn percentile_interval(value: f64, mut resampled: Vec<f64>) -> Interval {
    resampled.sort_by(f64::total_cmp);
    let q = |p: f64| match resampled.is_empty() {
        true => f64::NAN,
        false => quantile(&resampled, p),
    };
    Interval {
        value,
        low: q(0.025),
        high: q(0.975),
    }
}

/// The mean of `b` minus the mean of `a` over the items both count (`None`: not counted),
/// with a 95% paired-bootstrap interval: items are resampled together for both.
pub fn paired_difference<R: Rng>(a: &[Option<f64>], b: &[Option<f64>], rng: &mut R) -> Interval {
    assert_eq!(
        a.len(),
        b.len(),
        "paired_difference: both sides need one value per item"
    );
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    let diff = |ps: &mut dyn Iterator<Item = (f64, f64)>| {
        let (n, s) = ps.fold((0usize, 0.0), |(n, s), (x, y)| (n + 1, s + y - x));
        s / n as f64
    };
    if pairs.is_empty() {
        return Interval {
            value: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    let value = diff(&mut pairs.iter().copied());
    let resampled: Vec<f64> = (0..RESAMPLES)
        .map(|_| diff(&mut (0..pairs.len()).map(|_| pairs[rng.random_range(0..pairs.len())])))
        .collect();
    percentile_interval(value, resampled)
}
// ANCHOR_END: paired_bootstrap

// ANCHOR: draws_bootstrap
/// [`paired_difference`] over several *draws* of the same experiment (`a[d]` and `b[d]`:
/// the values of draw d, one per item — the same items in every draw): the mean over
/// draws of each draw's mean difference, with an interval from a two-level bootstrap —
/// resample the draws, then the items (the same items for every chosen draw) — so that it
/// includes how much the result moves from one draw of the training to the next, not only
/// from one sample of items to the next. One draw: exactly [`paired_difference`].
pub fn paired_difference_draws<R: Rng>(
    a: &[Vec<Option<f64>>],
    b: &[Vec<Option<f64>>],
    rng: &mut R,
) -> Interval {
    assert!(
        !a.is_empty() && a.len() == b.len(),
        "paired_difference_draws: one list of values per draw on each side"
    );
    if a.len() == 1 {
        return paired_difference(&a[0], &b[0], rng);
    }
    let n = a[0].len();
    assert!(
        a.iter().chain(b).all(|v| v.len() == n),
        "paired_difference_draws: every draw needs one value per item"
    );
    // Each draw's mean difference over the chosen items (with repeats), then the mean over draws.
    let stat = |draws: &[usize], items: &[usize]| {
        let per_draw: Vec<f64> = draws
            .iter()
            .filter_map(|&d| {
                let (k, s) =
                    items
                        .iter()
                        .fold((0usize, 0.0), |(k, s), &i| match (a[d][i], b[d][i]) {
                            (Some(x), Some(y)) => (k + 1, s + y - x),
                            _ => (k, s),
                        });
                (k > 0).then(|| s / k as f64)
            })
            .collect();
        per_draw.iter().sum::<f64>() / per_draw.len() as f64
    };
    let all_draws: Vec<usize> = (0..a.len()).collect();
    let all_items: Vec<usize> = (0..n).collect();
    let value = stat(&all_draws, &all_items);
    let resampled: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let draws: Vec<usize> = (0..a.len()).map(|_| rng.random_range(0..a.len())).collect();
            let items: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            stat(&draws, &items)
        })
        .filter(|v| v.is_finite())
        .collect();
    percentile_interval(value, resampled)
}
// ANCHOR_END: draws_bootstrap

/// The mean of the counted values over several draws, with the two-level interval of
/// [`paired_difference_draws`].
pub fn mean_interval_draws<R: Rng>(values: &[Vec<Option<f64>>], rng: &mut R) -> Interval {
    let zeros: Vec<Vec<Option<f64>>> = values
        .iter()
        .map(|v| v.iter().map(|x| x.map(|_| 0.0)).collect())
        .collect();
    paired_difference_draws(&zeros, values, rng)
}

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
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}
