//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use candle_core::{Device, Tensor};
use ch06_ppo::ex;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn exercise_6_1_gae() {
    let (a, ret) = ex::gae(&[0.0, 0.0, 1.0], &[0.5, 0.6, 0.7], 1.0, 0.95);
    assert!(close(a[2], 0.3) && close(a[1], 0.385) && close(a[0], 0.46575), "{a:?}");
    assert!(close(ret[0], 0.96575) && close(ret[2], 1.0), "{ret:?}");
    let (a, _) = ex::gae(&[1.0, 1.0], &[0.0, 0.0], 0.5, 1.0); // discounted: A0 = 1 + 0.5
    assert!(close(a[0], 1.5) && close(a[1], 1.0), "{a:?}");
}

#[test]
fn exercise_6_2_policy_loss() {
    let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let (l, clipfrac) = ex::policy_loss(&t(&[-0.5, -1.5, -1.0, 5.0]), &t(&[-1.0, -1.0, -1.0, 0.0]), &t(&[1.0, 1.0, -2.0, 100.0]), &t(&[1.0, 1.0, 1.0, 0.0]), 0.2).unwrap();
    let want = (-1.2 - (-0.5f64).exp() + 2.0) / 3.0;
    assert!(close(l.to_scalar::<f32>().unwrap() as f64, want), "{l}");
    assert!(close(clipfrac, 1.0 / 3.0));
}
