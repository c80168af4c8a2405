//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use candle_core::{Device, Tensor, Var};
use ch05_reward::ex;

#[test]
fn exercise_5_1_pairwise_loss() {
    let dev = Device::Cpu;
    let c = Var::new(&[1f32, 0.0, 3.0], &dev).unwrap();
    let r = Tensor::new(&[0f32, 0.0, 5.0], &dev).unwrap();
    let l = ex::pairwise_loss(c.as_tensor(), &r).unwrap();
    let nls = |x: f64| -(1.0 / (1.0 + (-x).exp())).ln();
    let want = (nls(1.0) + nls(0.0) + nls(-2.0)) / 3.0;
    assert!((l.to_scalar::<f32>().unwrap() as f64 - want).abs() < 1e-6);
    // dL/dr_c = −σ(−x)/B: pushes every chosen score up, the misordered pair hardest.
    let g = l
        .backward()
        .unwrap()
        .get(&c)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    for (gi, x) in g.iter().zip([1.0, 0.0, -2.0]) {
        assert!((*gi as f64 + sig(-x) / 3.0).abs() < 1e-6, "{g:?}");
    }
    for (a, b) in [(100f32, -100f32), (-100., 100.)] {
        let l = ex::pairwise_loss(
            &Tensor::new(&[a], &dev).unwrap(),
            &Tensor::new(&[b], &dev).unwrap(),
        )
        .unwrap();
        assert!(
            l.to_scalar::<f32>().unwrap().is_finite(),
            "not finite at {a} vs {b}"
        );
    }
}

#[test]
fn exercise_5_2_last_token_index() {
    let m = vec![vec![1, 1, 0, 0], vec![0, 0, 1, 1], vec![1, 1, 1, 1]];
    assert_eq!(ex::last_token_index(&m).unwrap(), [1, 3, 3]);
    assert!(ex::last_token_index(&[vec![0, 0, 0]]).is_err());
}
