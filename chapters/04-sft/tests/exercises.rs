//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use candle_core::{Device, Tensor};
use ch04_sft::ex;

#[test]
fn exercise_4_1_loss_mask() {
    // Prompt p0 p1 p2, response r0 r1: targets p1 p2 r0 r1 (pad pad).
    assert_eq!(ex::loss_mask(3, 2, 6), vec![0., 0., 1., 1., 0., 0.]);
    // A one-token prompt: every target but the padding is a response token.
    assert_eq!(ex::loss_mask(1, 3, 4), vec![1., 1., 1., 0.]);
    // Exactly response_len ones, for any padding.
    for (p, r, w) in [(5, 4, 8), (7, 1, 12), (2, 9, 10)] {
        let m = ex::loss_mask(p, r, w);
        assert_eq!(m.len(), w);
        assert_eq!(
            m.iter().sum::<f32>() as usize,
            r,
            "prompt {p}, response {r}, width {w}"
        );
        assert_eq!(m.iter().position(|&x| x == 1.0), Some(p - 1));
    }
}

#[test]
fn exercise_4_2_masked_cross_entropy() {
    let dev = Device::Cpu;
    let logits = candle_core::Var::new(&[[[0f32, 0.], [1., 0.], [0., 2.]]], &dev).unwrap();
    let targets = Tensor::new(&[[0u32, 0, 1]], &dev).unwrap();
    let weights = Tensor::new(&[[0f32, 1., 1.]], &dev).unwrap();
    let l = ex::masked_cross_entropy(logits.as_tensor(), &targets, &weights).unwrap();
    let by_hand =
        (-(1f64.exp() / (1f64.exp() + 1.0)).ln() - (2f64.exp() / (2f64.exp() + 1.0)).ln()) / 2.0;
    assert!((l.to_scalar::<f32>().unwrap() as f64 - by_hand).abs() < 1e-6);
    // Differentiable, and no gradient reaches the masked position.
    let g: Vec<Vec<Vec<f32>>> = l
        .backward()
        .unwrap()
        .get(&logits)
        .unwrap()
        .to_vec3()
        .unwrap();
    assert_eq!(g[0][0], [0.0, 0.0]);
    assert!(
        g[0][1][0] < 0.0 && g[0][2][1] < 0.0,
        "pushes the targets up: {g:?}"
    );
    assert!(
        ex::masked_cross_entropy(logits.as_tensor(), &targets, &weights.zeros_like().unwrap())
            .is_err()
    );
}
