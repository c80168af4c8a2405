//! Every backward against finite differences (f64, relative error below 1e-6), and the
//! whole model's gradients against finite differences and candle's autograd.

mod common;

use ch02_attention::model::{self, Params};
use ch02_attention::ops::{self, Mat};
use common::*;

const TOL: f64 = 1e-6;

/// For an op y = f(x), check backward with L = Σ y ⊙ R for a random R (so dy = R).
fn check_op(x: &Mat, forward: impl Fn(&Mat) -> Mat, backward: impl Fn(&Mat) -> Mat, name: &str) {
    let r = randn(forward(x).nrows(), forward(x).ncols(), &mut rng(9));
    let analytic = backward(&r);
    let numeric = numeric_grad(x, |x| (forward(x) * &r).sum());
    let e = rel_err(&analytic, &numeric);
    assert!(e < TOL, "{name}: relative error {e:e}");
}

#[test]
fn linear_backward_matches_finite_differences() {
    let mut g = rng(1);
    let (x, w, b) = (
        randn(5, 4, &mut g),
        randn(4, 3, &mut g),
        randn(1, 3, &mut g).row(0).to_owned(),
    );
    check_op(
        &x,
        |x| ops::linear_forward(x, &w, &b),
        |dy| ops::linear_backward(dy, &x, &w).0,
        "linear dx",
    );
    check_op(
        &w,
        |w| ops::linear_forward(&x, w, &b),
        |dy| ops::linear_backward(dy, &x, &w).1,
        "linear dW",
    );
}

#[test]
fn layernorm_backward_matches_finite_differences() {
    let mut g = rng(2);
    let x = randn(5, 6, &mut g);
    let gamma = randn(1, 6, &mut g).row(0).to_owned();
    let beta = randn(1, 6, &mut g).row(0).to_owned();
    let cache = ops::layernorm_forward(&x, &gamma, &beta).1;
    check_op(
        &x,
        |x| ops::layernorm_forward(x, &gamma, &beta).0,
        |dy| ops::layernorm_backward(dy, &gamma, &cache).0,
        "layernorm dx",
    );
    // dγ as a (1, C) matrix.
    let g2 = gamma.clone().insert_axis(ndarray::Axis(0));
    check_op(
        &g2,
        |g| ops::layernorm_forward(&x, &g.row(0).to_owned(), &beta).0,
        |dy| {
            ops::layernorm_backward(dy, &gamma, &cache)
                .1
                .insert_axis(ndarray::Axis(0))
        },
        "layernorm dγ",
    );
}

#[test]
fn gelu_and_softmax_backward_match_finite_differences() {
    let x = randn(4, 7, &mut rng(3)) * 2.0;
    check_op(
        &x,
        ops::gelu_forward,
        |dy| ops::gelu_backward(dy, &x),
        "gelu",
    );
    let p = ops::softmax_forward(&x);
    check_op(
        &x,
        ops::softmax_forward,
        |dy| ops::softmax_backward(&p, dy),
        "softmax",
    );
}

#[test]
fn attention_backward_matches_finite_differences() {
    let qkv = randn(6, 3 * 8, &mut rng(4));
    let att = ops::attention_forward(&qkv, 2).1;
    check_op(
        &qkv,
        |x| ops::attention_forward(x, 2).0,
        |dy| ops::attention_backward(dy, &qkv, &att, 2),
        "attention",
    );
}

#[test]
fn cross_entropy_backward_matches_finite_differences() {
    let logits = randn(5, 9, &mut rng(5));
    let y = [1, 8, 0, 3, 3];
    let p = ops::cross_entropy_forward(&logits, &y).1;
    let analytic = ops::cross_entropy_backward(&p, &y);
    let numeric = numeric_grad(&logits, |l| ops::cross_entropy_forward(l, &y).0);
    assert!(rel_err(&analytic, &numeric) < TOL);
}

#[test]
fn the_whole_model_matches_finite_differences_on_every_parameter() {
    let p = random_params(6);
    let (x, y) = sequence();
    let (_, g) = model::loss_and_grads(&p, &x, &y);
    let h = 1e-5;
    let mut checked = 0;
    for (name, analytic) in g.named() {
        let numeric: Vec<f64> = (0..analytic.len())
            .map(|i| {
                let shifted = |delta: f64| {
                    let mut q: Params = p.clone();
                    let mut named = q.named_mut();
                    let t = &mut named.iter_mut().find(|(n, _)| *n == name).unwrap().1;
                    let v = t.iter_mut().nth(i).unwrap();
                    *v += delta;
                    drop(named);
                    model::loss(&q, &x, &y)
                };
                (shifted(h) - shifted(-h)) / (2.0 * h)
            })
            .collect();
        let e = rel_err(analytic.iter(), &numeric);
        assert!(e < TOL, "{name}: relative error {e:e}");
        checked += numeric.len();
    }
    assert_eq!(checked, p.count());
}

#[test]
fn every_parameter_receives_a_nonzero_gradient() {
    let p = random_params(7);
    let (x, y) = sequence();
    let (_, g) = model::loss_and_grads(&p, &x, &y);
    for (name, t) in g.named() {
        assert!(
            t.iter().any(|v| *v != 0.0),
            "{name} has an all-zero gradient"
        );
    }
}

#[test]
fn causal_attention_cannot_see_the_future() {
    let p = random_params(8);
    let (x, _) = sequence();
    let (a, _) = model::forward(&p, &x);
    let mut changed = x.clone();
    *changed.last_mut().unwrap() = 10;
    let (b, _) = model::forward(&p, &changed);
    let t = x.len();
    assert_eq!(
        a.slice(ndarray::s![..t - 1, ..]),
        b.slice(ndarray::s![..t - 1, ..]),
        "earlier positions changed"
    );
    assert_ne!(a.row(t - 1), b.row(t - 1));
    for att in model::attention_maps(&p, &x) {
        for row in att.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }
}
