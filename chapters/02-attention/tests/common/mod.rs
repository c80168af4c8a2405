//! Helpers shared by the chapter's tests.
#![allow(dead_code)]

use ch02_attention::model::{Config, Params};
use ch02_attention::ops::Mat;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Normal;
use world::rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    world::rng(seed, 0)
}

pub fn randn(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Mat {
    Mat::random_using((rows, cols), Normal::new(0.0, 1.0).unwrap(), rng)
}

/// Parameters with every entry random and of order one (GPT-2's init has zero biases and
/// unit gains, which would hide mistakes in their gradients).
pub fn random_params(seed: u64) -> Params {
    let mut r = rng(seed);
    let mut p = Params::init(Config::check(), &mut r);
    for (_, mut t) in p.named_mut() {
        let noise =
            ndarray::ArrayD::random_using(t.raw_dim(), Normal::new(0.0, 0.3).unwrap(), &mut r);
        t += &noise;
    }
    p
}

/// Relative error of two gradients: max |a − n| / max(|a| + |n|, 1e-8) over entries.
pub fn rel_err<'a>(
    a: impl IntoIterator<Item = &'a f64>,
    n: impl IntoIterator<Item = &'a f64>,
) -> f64 {
    a.into_iter()
        .zip(n)
        .map(|(a, n)| (a - n).abs() / (a.abs() + n.abs()).max(1e-8))
        .fold(0.0, f64::max)
}

/// Central finite differences of `f` with respect to every entry of `x`: (f(x+h) − f(x−h)) / 2h.
pub fn numeric_grad(x: &Mat, f: impl Fn(&Mat) -> f64) -> Mat {
    let h = 1e-5;
    let mut g = Mat::zeros(x.dim());
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let mut xp = x.clone();
            xp[[i, j]] += h;
            let mut xm = x.clone();
            xm[[i, j]] -= h;
            g[[i, j]] = (f(&xp) - f(&xm)) / (2.0 * h);
        }
    }
    g
}

/// Tokens and next-token targets for the check model.
pub fn sequence() -> (Vec<usize>, Vec<usize>) {
    (vec![3, 1, 4, 1, 5, 9, 2], vec![1, 4, 1, 5, 9, 2, 6])
}
