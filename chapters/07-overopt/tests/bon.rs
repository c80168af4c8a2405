//! Best-of-n: the KL formula against Monte Carlo and against the exact KL of a discrete
//! case, and the unbiased estimator against brute force over every subset.

use ch07_overopt::bon::{best_of_n, best_of_n_weights, kl_best_of_n, kl_best_of_n_monte_carlo};

#[test]
fn kl_formula_matches_monte_carlo() {
    let mut rng = world::rng(3, 0);
    for n in [1, 2, 4, 16, 64] {
        let mc = kl_best_of_n_monte_carlo(n, 200_000, &mut rng);
        let exact = kl_best_of_n(n);
        // The estimator's standard deviation is (n − 1)/n/√draws ≤ 0.0023.
        assert!(
            (mc - exact).abs() < 0.01,
            "n = {n}: Monte Carlo {mc:.4}, formula {exact:.4}"
        );
    }
    assert_eq!(kl_best_of_n(1), 0.0);
    assert!((kl_best_of_n(64) - (64f64.ln() - 63.0 / 64.0)).abs() < 1e-12);
}

/// Best-of-n over a uniform policy on m outcomes with distinct rewards: the i-th best of m
/// has probability ((i+1)/m)ⁿ − (i/m)ⁿ, so the KL is exact — and below the formula, which
/// is the limit of many outcomes (a bound with ties or few outcomes).
#[test]
fn kl_formula_bounds_the_exact_discrete_kl_and_is_its_limit() {
    let exact = |m: usize, n: i32| -> f64 {
        (0..m)
            .map(|i| {
                let p = ((i + 1) as f64 / m as f64).powi(n) - (i as f64 / m as f64).powi(n);
                if p > 0.0 {
                    p * (p * m as f64).ln()
                } else {
                    0.0
                }
            })
            .sum()
    };
    for n in [2, 8, 32] {
        let f = kl_best_of_n(n as usize);
        assert!(exact(4, n) < f, "few outcomes: below the formula");
        assert!(
            (exact(100_000, n) - f).abs() < 1e-3,
            "many outcomes: the formula, n = {n}"
        );
    }
}

#[test]
fn weights_are_a_distribution_on_the_top() {
    for (big_n, n) in [(8, 1), (8, 3), (64, 64), (64, 7)] {
        let w = best_of_n_weights(big_n, n);
        assert!(
            (w.iter().sum::<f64>() - 1.0).abs() < 1e-9,
            "N = {big_n}, n = {n}"
        );
        assert!(
            w[..n - 1].iter().all(|&x| x == 0.0),
            "the best of n is never among the n − 1 lowest"
        );
    }
    assert_eq!(best_of_n_weights(5, 5)[4], 1.0);
}

#[test]
fn best_of_n_is_the_average_over_every_subset() {
    let proxy: [f64; 6] = [0.3, -1.0, 2.0, 0.7, 1.1, -0.2];
    let gold = [1.0, 0.0, -2.0, 3.0, 1.5, 0.5];
    for n in 1..=6 {
        // Brute force: every subset of size n, the gold of its highest proxy.
        let (mut sum_p, mut sum_g, mut count) = (0.0, 0.0, 0);
        for mask in 0u32..64 {
            if mask.count_ones() as usize != n {
                continue;
            }
            let best = (0..6)
                .filter(|i| mask & (1 << i) != 0)
                .max_by(|&a, &b| proxy[a].total_cmp(&proxy[b]))
                .unwrap();
            sum_p += proxy[best];
            sum_g += gold[best];
            count += 1;
        }
        let (p, g) = best_of_n(&proxy, &gold, n);
        assert!(
            (p - sum_p / count as f64).abs() < 1e-12 && (g - sum_g / count as f64).abs() < 1e-12,
            "n = {n}: {p}, {g}"
        );
    }
    let (p1, g1) = best_of_n(&proxy, &gold, 1);
    assert!(
        (p1 - proxy.iter().sum::<f64>() / 6.0).abs() < 1e-12
            && (g1 - gold.iter().sum::<f64>() / 6.0).abs() < 1e-12,
        "n = 1 is the mean"
    );
    assert_eq!(
        best_of_n(&proxy, &gold, 6),
        (2.0, -2.0),
        "n = N is the top sample"
    );
}

#[test]
fn proxy_of_the_best_never_falls_with_n() {
    let mut rng = world::rng(5, 1);
    use rand::Rng;
    for _ in 0..20 {
        let proxy: Vec<f64> = (0..32).map(|_| rng.random::<f64>()).collect();
        let gold: Vec<f64> = (0..32).map(|_| rng.random::<f64>()).collect();
        let curve: Vec<f64> = (1..=32).map(|n| best_of_n(&proxy, &gold, n).0).collect();
        assert!(curve.windows(2).all(|w| w[1] >= w[0] - 1e-12), "{curve:?}");
    }
}

/// Best-of-n as a policy keeps, for every prompt, the sample the proxy ranks first (the
/// first of equals), so its mean proxy is the mean of each prompt's maximum.
#[test]
fn the_best_of_n_column_picks_the_proxys_first_choice() {
    use ch07_overopt::column::pick_best;
    use ch07_overopt::study::Samples;
    use world::{Family, Prompt, Target};
    let prompt = |i: usize| Prompt {
        family: Family::Harmful,
        text: format!("prompt {i}"),
        target: Target::Harmful { act: 0 },
    };
    let samples = Samples {
        prompts: vec![prompt(0), prompt(1), prompt(2)],
        responses: vec![
            vec!["a".into(), "b".into(), "c".into()],
            vec!["d".into(), "e".into(), "f".into()],
            vec!["g".into(), "h".into(), "i".into()],
        ],
        gold: vec![vec![0.0; 3]; 3],
    };
    let proxy = vec![
        vec![0.1, 0.9, -3.0],
        vec![-3.0, -3.0, -3.0],
        vec![0.5, -1.0, 2.0],
    ];
    let picks = pick_best(&samples, &proxy);
    assert_eq!(
        picks,
        vec![
            (1, "b".to_string()),
            (0, "d".to_string()),
            (2, "i".to_string())
        ]
    );
    let mean_pick: f64 = picks
        .iter()
        .zip(&proxy)
        .map(|((j, _), p)| p[*j])
        .sum::<f64>()
        / 3.0;
    let mean_first: f64 = proxy.iter().map(|p| p[0]).sum::<f64>() / 3.0;
    assert!(mean_pick >= mean_first);
}
