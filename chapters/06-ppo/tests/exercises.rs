//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use candle_core::{Device, Tensor};
use ch06_ppo::core::KlEstimator;
use ch06_ppo::ex;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn exercise_6_1_gae() {
    let (a, ret) = ex::gae(&[0.0, 0.0, 1.0], &[0.5, 0.6, 0.7], 1.0, 0.95);
    assert!(
        close(a[2], 0.3) && close(a[1], 0.385) && close(a[0], 0.46575),
        "{a:?}"
    );
    assert!(close(ret[0], 0.96575) && close(ret[2], 1.0), "{ret:?}");
    let (a, _) = ex::gae(&[1.0, 1.0], &[0.0, 0.0], 0.5, 1.0); // discounted: A0 = 1 + 0.5
    assert!(close(a[0], 1.5) && close(a[1], 1.0), "{a:?}");
}

#[test]
fn exercise_6_2_policy_loss() {
    let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let (l, clipfrac) = ex::policy_loss(
        &t(&[-0.5, -1.5, -1.0, 5.0]),
        &t(&[-1.0, -1.0, -1.0, 0.0]),
        &t(&[1.0, 1.0, -2.0, 100.0]),
        &t(&[1.0, 1.0, 1.0, 0.0]),
        0.2,
    )
    .unwrap();
    let want = (-1.2 - (-0.5f64).exp() + 2.0) / 3.0;
    assert!(close(l.to_scalar::<f32>().unwrap() as f64, want), "{l}");
    assert!(close(clipfrac, 1.0 / 3.0));
}

#[test]
fn exercise_6_3_kl_and_shaped_rewards() {
    // π = 0.5, π_ref = 0.25: k1 = log 2; k3 = (0.5 − 1) − log 0.5 = log 2 − 0.5.
    let (lp, lr) = (0.5f64.ln(), 0.25f64.ln());
    assert!(close(ex::kl_estimate(lp, lr, KlEstimator::K1), 2f64.ln()));
    assert!(close(
        ex::kl_estimate(lp, lr, KlEstimator::K3),
        2f64.ln() - 0.5
    ));
    // k3 is never negative, k1 can be.
    assert!(
        ex::kl_estimate(lr, lp, KlEstimator::K1) < 0.0
            && ex::kl_estimate(lr, lp, KlEstimator::K3) > 0.0
    );
    assert!(close(ex::kl_estimate(lp, lp, KlEstimator::K3), 0.0));
    let r = ex::shaped_rewards(2.0, &[lp, lp, lr], &[lr, lp, lp], 0.1, KlEstimator::K1);
    let k = 2f64.ln();
    assert!(
        close(r[0], -0.1 * k) && close(r[1], 0.0) && close(r[2], 0.1 * k + 2.0),
        "{r:?}"
    );
    assert!(ex::shaped_rewards(1.0, &[], &[], 0.1, KlEstimator::K1).is_empty());
}

#[test]
fn exercise_6_4_value_loss() {
    let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    // Token 0 moved 1.0 past a clip of 0.2 towards the return: the clipped error counts.
    // Token 1 stayed inside the clip. Token 2 is masked out.
    let l = ex::value_loss(
        &t(&[1.0, 0.1, 9.0]),
        &t(&[0.0, 0.0, 0.0]),
        &t(&[1.0, 0.5, 0.0]),
        &t(&[1.0, 1.0, 0.0]),
        0.2,
    )
    .unwrap();
    let want = 0.5 * ((0.2f64 - 1.0).powi(2) + (0.1f64 - 0.5).powi(2)) / 2.0;
    assert!(
        close(l.to_scalar::<f32>().unwrap() as f64, want),
        "{l} vs {want}"
    );
}
