//! Gao's forms: the least-squares fit recovers known coefficients, and refuses what it
//! cannot determine.

use ch07_overopt::fit::{Form, fit};

#[test]
fn fit_recovers_known_coefficients_with_noise() {
    let mut rng = world::rng(11, 0);
    use rand::Rng;
    for (form, alpha, beta) in [(Form::BestOfN, 0.8, 0.3), (Form::Rl, 0.5, 0.2)] {
        let points: Vec<(f64, f64)> = (1..=30)
            .map(|i| i as f64 * 0.1)
            .map(|d| {
                (
                    d,
                    form.eval(alpha, beta, d) + 0.01 * (rng.random::<f64>() - 0.5),
                )
            })
            .collect();
        let f = fit(form, &points).unwrap();
        assert!(
            (f.alpha - alpha).abs() < 0.02 && (f.beta - beta).abs() < 0.02,
            "{form:?}: {f:?}"
        );
        assert!(f.r2 > 0.99, "{f:?}");
        let want_peak = match form {
            Form::BestOfN => alpha / (2.0 * beta),
            Form::Rl => (alpha / beta - 1.0f64).exp(),
        };
        assert!(
            (f.peak_d.unwrap() - want_peak).abs() / want_peak < 0.1,
            "{f:?}"
        );
        // The derivative is zero at the peak.
        let (d, h) = (f.peak_d.unwrap(), 1e-5);
        assert!((f.eval(d + h) - f.eval(d - h)).abs() < 1e-8, "{f:?}");
    }
}

#[test]
fn exact_points_fit_exactly_and_a_rising_line_has_no_peak() {
    let f = fit(Form::BestOfN, &[(1.0, 0.5), (2.0, 0.0)]).unwrap(); // α − β = 0.5, 2α − 4β = 0
    assert!(
        (f.alpha - 1.0).abs() < 1e-12 && (f.beta - 0.5).abs() < 1e-12 && (f.r2 - 1.0).abs() < 1e-12,
        "{f:?}"
    );
    assert_eq!(f.peak_d, Some(1.0));
    let rising = fit(Form::BestOfN, &[(1.0, 1.0), (2.0, 2.5), (3.0, 4.5)]).unwrap();
    assert!(rising.beta < 0.0 && rising.peak_d.is_none(), "{rising:?}");
}

#[test]
fn degenerate_points_are_refused_with_a_reason() {
    let e = fit(Form::Rl, &[(0.5, 1.0)]).unwrap_err().to_string();
    assert!(e.contains("at least 2 points"), "{e}");
    let e = fit(Form::BestOfN, &[(1.0, 1.0), (1.0, 2.0)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not determine"), "{e}");
    let e = fit(Form::BestOfN, &[(-1.0, 1.0), (1.0, 2.0)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("d ≥ 0"), "{e}");
}
