//! The capability table's intervals: the bootstrap, checked on cases with known answers.

use world::stats::{self, Interval};

#[test]
fn quantile_interpolates_between_sorted_values() {
    let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
    assert_eq!(stats::quantile(&xs, 0.0), 0.0);
    assert_eq!(stats::quantile(&xs, 0.5), 2.0);
    assert_eq!(stats::quantile(&xs, 1.0), 4.0);
    assert!((stats::quantile(&xs, 0.125) - 0.5).abs() < 1e-12);
}

#[test]
fn bootstrap_interval_of_a_proportion_matches_the_normal_approximation() {
    // 200 items, 60% pass: the normal approximation gives ±1.96·√(p(1−p)/n) = ±6.8 points.
    let values: Vec<Option<f64>> = (0..200)
        .map(|i| Some(if i % 5 < 3 { 1.0 } else { 0.0 }))
        .collect();
    let i = stats::mean_interval(&values, &mut world::rng(1, 0));
    assert!((i.value - 0.6).abs() < 1e-12);
    let half = 1.96 * (0.6f64 * 0.4 / 200.0).sqrt();
    assert!(
        (i.high - i.low - 2.0 * half).abs() < 0.02,
        "{i:?}, expected width {}",
        2.0 * half
    );
    assert!(i.low < 0.6 && i.high > 0.6);
}

#[test]
fn items_not_counted_are_left_out() {
    let values = [Some(1.0), None, Some(0.0), None];
    let i = stats::mean_interval(&values, &mut world::rng(1, 0));
    assert_eq!(i.value, 0.5);
}

#[test]
fn paired_bootstrap_sees_a_consistent_change_that_two_intervals_would_miss() {
    // Item difficulty varies a lot; model b is better by exactly 0.1 on every item.
    let a: Vec<Option<f64>> = (0..50).map(|i| Some((i % 10) as f64)).collect();
    let b: Vec<Option<f64>> = a.iter().map(|x| x.map(|x| x + 0.1)).collect();
    let mut rng = world::rng(2, 0);
    let d = stats::paired_difference(&a, &b, &mut rng);
    assert!(
        (d.value - 0.1).abs() < 1e-12 && (d.low - 0.1).abs() < 1e-9 && (d.high - 0.1).abs() < 1e-9,
        "{d:?}"
    );
    assert!(d.above_zero() && !d.below_zero());
    // The two separate intervals overlap: compared unpaired, the change would look like noise.
    let (ia, ib) = (
        stats::mean_interval(&a, &mut rng),
        stats::mean_interval(&b, &mut rng),
    );
    assert!(ib.low < ia.high, "{ia:?} {ib:?}");
}

#[test]
fn no_change_is_within_noise() {
    let a: Vec<Option<f64>> = (0..100)
        .map(|i| Some(if i % 2 == 0 { 1.0 } else { 0.0 }))
        .collect();
    let b: Vec<Option<f64>> = (0..100)
        .map(|i| Some(if i % 4 < 2 { 1.0 } else { 0.0 }))
        .collect();
    let d: Interval = stats::paired_difference(&a, &b, &mut world::rng(3, 0));
    assert!(!d.above_zero() && !d.below_zero(), "{d:?}");
    assert_eq!(d.value, 0.0);
}

#[test]
fn mean_and_sample_deviation() {
    assert_eq!(stats::mean_sd(&[2.0]), (2.0, 0.0));
    let (m, sd) = stats::mean_sd(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(m, 2.5);
    assert!((sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
}

#[test]
fn draws_widen_the_interval_by_the_spread_between_draws() {
    use rand::Rng;
    let mut rng = world::rng(5, 0);
    let n = 200;
    let a: Vec<Option<f64>> = (0..n).map(|_| Some(rng.random_range(0.0..1.0))).collect();
    // Three draws whose effects differ (+0.0, +0.2, +0.4), each with item noise.
    let draws: Vec<Vec<Option<f64>>> = [0.0, 0.2, 0.4]
        .iter()
        .map(|shift| {
            a.iter()
                .map(|x| Some(x.unwrap() + shift + rng.random_range(-0.1..0.1)))
                .collect()
        })
        .collect();
    let base = vec![a.clone(); 3];
    let pooled = stats::paired_difference_draws(&base, &draws, &mut world::rng(6, 0));
    assert!((pooled.value - 0.2).abs() < 0.02, "{pooled:?}");
    // One draw's interval is narrow: it knows nothing of the other draws.
    let one = stats::paired_difference(&a, &draws[1], &mut world::rng(6, 0));
    assert!(one.high - one.low < 0.05, "{one:?}");
    // Pooled, the spread between draws (0 to 0.4) shows in the interval.
    assert!(
        pooled.high - pooled.low > 0.2 && pooled.low < 0.1 && pooled.high > 0.3,
        "{pooled:?}"
    );
    // One draw alone is the plain paired bootstrap.
    let single = stats::paired_difference_draws(&base[..1], &draws[..1], &mut world::rng(7, 0));
    assert_eq!(
        single,
        stats::paired_difference(&a, &draws[0], &mut world::rng(7, 0))
    );
    // Items not counted in a draw are skipped there.
    let mut holes = draws.clone();
    holes[0][0] = None;
    assert!(
        stats::paired_difference_draws(&base, &holes, &mut world::rng(6, 0))
            .value
            .is_finite()
    );
}
