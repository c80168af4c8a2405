//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use candle_core::{Device, Tensor, Var};
use ch08_beyond::ex;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-5
}

#[test]
fn exercise_8_1_dpo_loss() {
    let dev = Device::Cpu;
    let t = |v: &[f32]| Tensor::new(v, &dev).unwrap();
    // Log-ratios: chosen +1, −2; rejected −1, 0. β = 0.5: margins 0.5·(1 − (−1)) = 1 and
    // 0.5·(−2 − 0) = −1.
    let pc = Var::new(&[-3f32, -6.0], &dev).unwrap();
    let pr = Var::new(&[-5f32, -4.0], &dev).unwrap();
    let (rc, rr) = (t(&[-4.0, -4.0]), t(&[-4.0, -4.0]));
    let l = ex::dpo_loss(pc.as_tensor(), pr.as_tensor(), &rc, &rr, 0.5).unwrap();
    let nls = |x: f64| (1.0 + (-x).exp()).ln(); // −log σ(x)
    let want = (nls(1.0) + nls(-1.0)) / 2.0;
    assert!(close(l.to_scalar::<f32>().unwrap() as f64, want), "{l}");
    // The gradient raises the chosen response's log-probability and lowers the rejected
    // one's: dL/dlog π(chosen) = −β σ(−m)/B < 0, dL/dlog π(rejected) = +β σ(−m)/B > 0.
    let g = l.backward().unwrap();
    let (gc, gr) = (
        g.get(&pc).unwrap().to_vec1::<f32>().unwrap(),
        g.get(&pr).unwrap().to_vec1::<f32>().unwrap(),
    );
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    for (i, m) in [1.0, -1.0].into_iter().enumerate() {
        assert!(close(gc[i] as f64, -0.5 * sig(-m) / 2.0), "{gc:?}");
        assert!(close(gr[i] as f64, 0.5 * sig(-m) / 2.0), "{gr:?}");
    }
    // The policy equal to the reference: every margin 0, the loss log 2.
    let l = ex::dpo_loss(&rc, &rr, &rc, &rr, 0.1).unwrap();
    assert!(close(l.to_scalar::<f32>().unwrap() as f64, 2f64.ln()));
    // Finite however large the margin.
    let l = ex::dpo_loss(&t(&[500.0]), &t(&[-500.0]), &t(&[0.0]), &t(&[0.0]), 1.0).unwrap();
    assert!(l.to_scalar::<f32>().unwrap().is_finite());
    let l = ex::dpo_loss(&t(&[-500.0]), &t(&[500.0]), &t(&[0.0]), &t(&[0.0]), 1.0).unwrap();
    assert!(close(l.to_scalar::<f32>().unwrap() as f64, 1000.0));
}

#[test]
fn exercise_8_2_group_advantages() {
    // Rewards 1, 0, 0, 1: mean ½, std ½ → ±1.
    let a = ex::group_advantages(&[1.0, 0.0, 0.0, 1.0], 0.0);
    assert!(
        a.iter()
            .zip([1.0, -1.0, -1.0, 1.0])
            .all(|(x, y)| close(*x, y)),
        "{a:?}"
    );
    // They sum to zero within a group, and have unit (population) variance.
    let a = ex::group_advantages(&[0.3, 2.0, -1.0, 0.5, 0.0], 1e-8);
    assert!(close(a.iter().sum::<f64>(), 0.0), "{a:?}");
    assert!(
        close(a.iter().map(|x| x * x).sum::<f64>() / 5.0, 1.0),
        "{a:?}"
    );
    // A group that all got the same reward teaches nothing (and does not divide by zero).
    let a = ex::group_advantages(&[1.0; 4], 1e-4);
    assert!(a.iter().all(|&x| x == 0.0), "{a:?}");
    // One right answer among eight: it gets a large advantage, the others a small penalty.
    let a = ex::group_advantages(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0], 1e-4);
    assert!(a[3] > 2.5 && a[0] < 0.0 && a[0] > -0.4, "{a:?}");
}
