//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use ch07_overopt::ex;
use ch07_overopt::fit::Form;

#[test]
fn exercise_7_1_kl_best_of_n() {
    assert_eq!(ex::kl_best_of_n(1), 0.0);
    assert!((ex::kl_best_of_n(2) - (2f64.ln() - 0.5)).abs() < 1e-12);
    assert!((ex::kl_best_of_n(1000) - (1000f64.ln() - 0.999)).abs() < 1e-12);
}

#[test]
fn exercise_7_2_best_of_n() {
    let proxy = [0.2, 0.9, -0.4, 0.5];
    let gold = [1.0, -1.0, 2.0, 3.0];
    let (p, g) = ex::best_of_n(&proxy, &gold, 2);
    // Pairs: the higher proxy's gold. Of the 6 pairs, 0.9 wins 3, 0.5 wins 2, 0.2 wins 1.
    assert!(
        (p - (3.0 * 0.9 + 2.0 * 0.5 + 0.2) / 6.0).abs() < 1e-12,
        "{p}"
    );
    assert!(
        (g - (3.0 * -1.0 + 2.0 * 3.0 + 1.0) / 6.0).abs() < 1e-12,
        "{g}"
    );
    assert_eq!(ex::best_of_n(&proxy, &gold, 4), (0.9, -1.0));
}

#[test]
fn exercise_7_3_fit() {
    let points: Vec<(f64, f64)> = [0.5, 1.0, 1.5, 2.0, 3.0]
        .iter()
        .map(|&d| (d, d * (0.6 - 0.2 * d)))
        .collect();
    let f = ex::fit(Form::BestOfN, &points).unwrap();
    assert!(
        (f.alpha - 0.6).abs() < 1e-9 && (f.beta - 0.2).abs() < 1e-9 && (f.r2 - 1.0).abs() < 1e-9,
        "{f:?}"
    );
    assert!((f.peak_d.unwrap() - 1.5).abs() < 1e-9);
    let rl: Vec<(f64, f64)> = [0.5, 1.0, 2.0, 4.0]
        .iter()
        .map(|&d: &f64| (d, d * (0.4 - 0.1 * d.ln())))
        .collect();
    let f = ex::fit(Form::Rl, &rl).unwrap();
    assert!(
        (f.alpha - 0.4).abs() < 1e-9 && (f.beta - 0.1).abs() < 1e-9,
        "{f:?}"
    );
    assert!((f.peak_d.unwrap() - 3f64.exp()).abs() < 1e-6);
}

#[test]
fn exercise_7_4_kl_best_of_n_monte_carlo() {
    let mut rng = world::rng(1, 2);
    let mc = ex::kl_best_of_n_monte_carlo(8, 100_000, &mut rng);
    assert!((mc - (8f64.ln() - 7.0 / 8.0)).abs() < 0.015, "{mc}");
    assert_eq!(ex::kl_best_of_n_monte_carlo(1, 10, &mut rng), 0.0);
}
