//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

mod common;

use ch02_attention::{ex, ops};
use common::*;

#[test]
fn exercise_2_1_softmax_backward() {
    // By hand: p = (0.5, 0.5), dp = (1, 0): Σ dp p = 0.5, dz = p ⊙ (dp − 0.5) = (0.25, −0.25).
    let p = ndarray::arr2(&[[0.5, 0.5]]);
    let dz = ex::softmax_backward(&p, &ndarray::arr2(&[[1.0, 0.0]]));
    assert!(
        (dz[[0, 0]] - 0.25).abs() < 1e-12 && (dz[[0, 1]] + 0.25).abs() < 1e-12,
        "{dz}"
    );
    // Against finite differences.
    let z = randn(4, 6, &mut rng(21));
    let r = randn(4, 6, &mut rng(22));
    let analytic = ex::softmax_backward(&ops::softmax_forward(&z), &r);
    let numeric = numeric_grad(&z, |z| (ops::softmax_forward(z) * &r).sum());
    assert!(rel_err(&analytic, &numeric) < 1e-6);
}

#[test]
fn exercise_2_2_layernorm_backward() {
    let mut g = rng(23);
    let x = randn(5, 6, &mut g);
    let gamma = randn(1, 6, &mut g).row(0).to_owned();
    let beta = randn(1, 6, &mut g).row(0).to_owned();
    let r = randn(5, 6, &mut g);
    let cache = ops::layernorm_forward(&x, &gamma, &beta).1;
    let (dx, dgamma, dbeta) = ex::layernorm_backward(&r, &gamma, &cache);
    let numeric = numeric_grad(&x, |x| {
        (ops::layernorm_forward(x, &gamma, &beta).0 * &r).sum()
    });
    assert!(rel_err(&dx, &numeric) < 1e-6, "dx");
    let (_, rg, rb) = ops::layernorm_backward(&r, &gamma, &cache);
    assert!(rel_err(&dgamma, &rg) < 1e-12, "dγ");
    assert!(rel_err(&dbeta, &rb) < 1e-12, "dβ");
}

#[test]
fn exercise_2_3_attention_forward() {
    let qkv = randn(6, 3 * 8, &mut rng(24));
    let (out, att) = ex::attention_forward(&qkv, 2);
    let (ref_out, ref_att) = ops::attention_forward(&qkv, 2);
    assert_eq!(att.dim(), (2, 6, 6));
    for h in 0..2 {
        for i in 0..6 {
            let row = att.slice(ndarray::s![h, i, ..]);
            assert!(
                (row.sum() - 1.0).abs() < 1e-12,
                "weights of head {h}, row {i} must sum to 1"
            );
            assert!(
                row.iter().skip(i + 1).all(|w| *w == 0.0),
                "head {h}, row {i} looks into the future"
            );
        }
    }
    assert!(rel_err(&out, &ref_out) < 1e-12 && rel_err(&att, &ref_att) < 1e-12);
    // The first position can only look at itself: its output is its own value vector.
    assert!(rel_err(out.row(0), qkv.row(0).slice(ndarray::s![16..24])) < 1e-12);
}

#[test]
fn exercise_2_4_attention_backward() {
    let qkv = randn(5, 3 * 8, &mut rng(25));
    let r = randn(5, 8, &mut rng(26));
    let (_, att) = ops::attention_forward(&qkv, 2);
    let analytic = ex::attention_backward(&r, &qkv, &att, 2);
    assert_eq!(analytic.dim(), (5, 24));
    // Against finite differences of L = Σ r ⊙ attention(qkv).
    let numeric = numeric_grad(&qkv, |x| (ops::attention_forward(x, 2).0 * &r).sum());
    assert!(
        rel_err(&analytic, &numeric) < 1e-6,
        "∂L/∂qkv disagrees with finite differences"
    );
    // The last query is seen by no earlier position: its key and value get gradient only
    // from itself, so with ∂L/∂out zero at the last row, its ∂k and ∂v rows are zero.
    let mut r0 = r.clone();
    r0.row_mut(4).fill(0.0);
    let g = ex::attention_backward(&r0, &qkv, &att, 2);
    assert!(
        g.row(4).iter().skip(8).all(|v| v.abs() < 1e-15),
        "a future key and value received gradient"
    );
}
