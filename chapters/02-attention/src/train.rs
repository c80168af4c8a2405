//! Training the hand-written model: minibatches of random windows of the corpus, the
//! gradients from [`crate::model::loss_and_grads`], and Adam.

use crate::model::{self, Params};
use world::rand::Rng;
use world::rand_chacha::ChaCha8Rng;

/// How to train.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub steps: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Evaluate the held-out loss every this many steps.
    pub eval_every: usize,
}

impl TrainConfig {
    /// The chapter's run: a minute or less on a laptop.
    pub fn small() -> Self {
        TrainConfig {
            steps: 600,
            batch: 8,
            lr: 3e-3,
            eval_every: 50,
        }
    }
}

/// Adam (Kingma & Ba 2015) with bias correction:
///
/// ```text
/// m ← β₁ m + (1 − β₁) g        v ← β₂ v + (1 − β₂) g²
/// θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
/// ```
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    m: Params,
    v: Params,
    t: i32,
}

impl Adam {
    pub fn new(p: &Params, lr: f64) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            m: p.zeros_like(),
            v: p.zeros_like(),
            t: 0,
        }
    }

    /// One update of every parameter of `p` with its gradient in `g`.
    pub fn step(&mut self, p: &mut Params, g: &Params) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        let grads = g.named();
        for ((((_, mut theta), (_, mut m)), (_, mut v)), (_, g)) in p
            .named_mut()
            .into_iter()
            .zip(self.m.named_mut())
            .zip(self.v.named_mut())
            .zip(grads)
        {
            ndarray::Zip::from(&mut theta)
                .and(&mut m)
                .and(&mut v)
                .and(&g)
                .for_each(|theta, m, v, &g| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *theta -= self.lr * (*m / c1) / ((*v / c2).sqrt() + self.eps);
                });
        }
    }
}

/// A random window of `len + 1` tokens: inputs and the targets shifted by one.
pub fn window(tokens: &[usize], len: usize, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<usize>) {
    let start = rng.random_range(0..tokens.len() - len - 1);
    (
        tokens[start..start + len].to_vec(),
        tokens[start + 1..start + len + 1].to_vec(),
    )
}

/// Mean loss over `n` fixed windows of `tokens` (the same windows every call).
pub fn eval_loss(p: &Params, tokens: &[usize], n: usize) -> f64 {
    let mut rng = world::rng(0, 99);
    (0..n)
        .map(|_| {
            let (x, y) = window(tokens, p.config.n_positions, &mut rng);
            model::loss(p, &x, &y)
        })
        .sum::<f64>()
        / n as f64
}

/// One point of the loss curves.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossPoint {
    pub step: usize,
    pub train: f64,
    pub heldout: f64,
}

/// Train `p` on `train` tokens; every `eval_every` steps (and at the end) record the mean
/// training loss since the last record and the held-out loss. `on_step(step)` is called
/// after each step.
pub fn train(
    p: &mut Params,
    train: &[usize],
    heldout: &[usize],
    cfg: &TrainConfig,
    rng: &mut ChaCha8Rng,
    mut on_step: impl FnMut(usize),
) -> Vec<LossPoint> {
    let mut adam = Adam::new(p, cfg.lr);
    let mut curve = vec![LossPoint {
        step: 0,
        train: eval_loss(p, train, 16),
        heldout: eval_loss(p, heldout, 16),
    }];
    let (mut sum, mut n) = (0.0, 0);
    for step in 1..=cfg.steps {
        let mut total = p.zeros_like();
        for _ in 0..cfg.batch {
            let (x, y) = window(train, p.config.n_positions, rng);
            let (loss, g) = model::loss_and_grads(p, &x, &y);
            for ((_, mut acc), (_, g)) in total.named_mut().into_iter().zip(g.named()) {
                acc.scaled_add(1.0 / cfg.batch as f64, &g);
            }
            sum += loss;
            n += 1;
        }
        adam.step(p, &total);
        on_step(step);
        if step % cfg.eval_every == 0 || step == cfg.steps {
            curve.push(LossPoint {
                step,
                train: sum / n as f64,
                heldout: eval_loss(p, heldout, 16),
            });
            (sum, n) = (0.0, 0);
        }
    }
    curve
}
