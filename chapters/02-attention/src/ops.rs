//! The pieces of a transformer, each forward with its backward right beside it.
//!
//! Every function works on one sequence: activations are `(T, C)` matrices, T positions
//! of C channels. A backward takes the gradient of the loss with respect to the forward's
//! output (`dy`) and returns the gradients with respect to its inputs and parameters,
//! quoting the forward expression it differentiates.

use ndarray::{Array1, Array2, Array3, Axis, s};

/// A `(rows, cols)` matrix of f64.
pub type Mat = Array2<f64>;
/// A vector of f64.
pub type Vector = Array1<f64>;

// ---------------------------------------------------------------------------------------
// Embedding

/// `x[t] = wte[idx[t]] + wpe[t]`: token embedding plus position embedding. (T, C)
pub fn embedding_forward(wte: &Mat, wpe: &Mat, idx: &[usize]) -> Mat {
    let mut x = Mat::zeros((idx.len(), wte.ncols()));
    for (t, &i) in idx.iter().enumerate() {
        x.row_mut(t).assign(&(&wte.row(i) + &wpe.row(t)));
    }
    x
}

/// In the forward pass this was `x[t] = wte[idx[t]] + wpe[t]`: each row of `dx` flows
/// into the token's row of `dwte` (added up over repeats) and the position's row of `dwpe`.
pub fn embedding_backward(dx: &Mat, idx: &[usize], dwte: &mut Mat, dwpe: &mut Mat) {
    for (t, &i) in idx.iter().enumerate() {
        let mut r = dwte.row_mut(i);
        r += &dx.row(t);
        let mut r = dwpe.row_mut(t);
        r += &dx.row(t);
    }
}

// ---------------------------------------------------------------------------------------
// Linear (GPT-2's Conv1D: the weight is stored (in, out))

/// `y = x W + b`, with W stored `(in, out)` as GPT-2's Conv1D does. (T, in) → (T, out)
pub fn linear_forward(x: &Mat, w: &Mat, b: &Vector) -> Mat {
    x.dot(w) + b
}

/// In the forward pass this was `y = x W + b`:
/// `dx = dy Wᵀ`, `dW = xᵀ dy`, `db = Σ_t dy[t]`.
pub fn linear_backward(dy: &Mat, x: &Mat, w: &Mat) -> (Mat, Mat, Vector) {
    (dy.dot(&w.t()), x.t().dot(dy), dy.sum_axis(Axis(0)))
}

// ---------------------------------------------------------------------------------------
// Layer norm

/// The ε under the square root of layer norm (GPT-2's value).
pub const LN_EPS: f64 = 1e-5;

/// What layer norm's backward needs: the normalised input and 1/σ of each row.
#[derive(Clone, Debug)]
pub struct LnCache {
    pub xhat: Mat,
    pub rstd: Vector,
}

/// Per row: `x̂ = (x − μ) / sqrt(σ² + ε)`, `y = γ ⊙ x̂ + β`, with μ and σ² the row's
/// mean and (biased) variance.
pub fn layernorm_forward(x: &Mat, gamma: &Vector, beta: &Vector) -> (Mat, LnCache) {
    let mean = x.mean_axis(Axis(1)).unwrap();
    let centred = x - &mean.view().insert_axis(Axis(1));
    let var = centred.mapv(|v| v * v).mean_axis(Axis(1)).unwrap();
    let rstd = var.mapv(|v| 1.0 / (v + LN_EPS).sqrt());
    let xhat = &centred * &rstd.view().insert_axis(Axis(1));
    let y = &xhat * gamma + beta;
    (y, LnCache { xhat, rstd })
}

// ANCHOR: layernorm_backward
/// In the forward pass this was `y = γ ⊙ x̂ + β` with `x̂ = (x − μ) · rstd`:
///
/// ```text
/// dγ = Σ_t dy ⊙ x̂        dβ = Σ_t dy        dx̂ = dy ⊙ γ
/// dx = rstd · (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂))      (means over the row)
/// ```
///
/// The two mean terms are the gradient flowing through μ and through σ.
pub fn layernorm_backward(dy: &Mat, gamma: &Vector, cache: &LnCache) -> (Mat, Vector, Vector) {
    let dgamma = (dy * &cache.xhat).sum_axis(Axis(0));
    let dbeta = dy.sum_axis(Axis(0));
    let dxhat = dy * gamma;
    let mean_dxhat = dxhat.mean_axis(Axis(1)).unwrap().insert_axis(Axis(1));
    let mean_dxhat_xhat = (&dxhat * &cache.xhat)
        .mean_axis(Axis(1))
        .unwrap()
        .insert_axis(Axis(1));
    let dx = (&dxhat - &mean_dxhat - &cache.xhat * &mean_dxhat_xhat)
        * cache.rstd.view().insert_axis(Axis(1));
    (dx, dgamma, dbeta)
}
// ANCHOR_END: layernorm_backward

// ---------------------------------------------------------------------------------------
// GELU (GPT-2's tanh approximation)

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// `y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))`, elementwise.
pub fn gelu_forward(x: &Mat) -> Mat {
    x.mapv(|v| 0.5 * v * (1.0 + (SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)).tanh()))
}

/// In the forward pass this was `y = ½ x (1 + tanh u)`, `u = √(2/π)(x + 0.044715 x³)`:
/// `dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3 · 0.044715 x²)`.
pub fn gelu_backward(dy: &Mat, x: &Mat) -> Mat {
    let mut dx = x.mapv(|v| {
        let t = (SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)).tanh();
        0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
    });
    dx *= dy;
    dx
}

// ---------------------------------------------------------------------------------------
// Softmax

/// Row-wise softmax: `p_j = exp(z_j − max z) / Σ_k exp(z_k − max z)`. Subtracting the
/// maximum changes nothing mathematically and keeps `exp` from overflowing.
pub fn softmax_forward(z: &Mat) -> Mat {
    let mut p = z.clone();
    for mut row in p.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    p
}

// ANCHOR: softmax_backward
/// In the forward pass this was `p = softmax(z)` (per row). Its Jacobian is
/// `∂p_i/∂z_j = p_i (δ_ij − p_j)`, so `dz_j = Σ_i dp_i p_i (δ_ij − p_j)`, i.e.
///
/// ```text
/// dz = p ⊙ (dp − Σ_i dp_i p_i)        (per row)
/// ```
pub fn softmax_backward(p: &Mat, dp: &Mat) -> Mat {
    let dot = (dp * p).sum_axis(Axis(1)).insert_axis(Axis(1));
    p * &(dp - &dot)
}
// ANCHOR_END: softmax_backward

// ---------------------------------------------------------------------------------------
// Causal multi-head self-attention

// ANCHOR: attention_forward
/// Causal self-attention over `n_head` heads. `qkv` is `(T, 3C)`: queries, keys and values
/// side by side. Per head h, with head size D = C / n_head:
///
/// ```text
/// S_h = Q_h K_hᵀ / √D                 (T, T)  scores
/// S_h[i, j] = −∞ for j > i            a position sees only itself and the past
/// P_h = softmax(S_h)                  (T, T)  attention weights, rows sum to 1
/// O_h = P_h V_h                       (T, D)
/// ```
///
/// and the heads' outputs side by side form the `(T, C)` output. Returns the output and
/// the attention weights `(n_head, T, T)`.
pub fn attention_forward(qkv: &Mat, n_head: usize) -> (Mat, Array3<f64>) {
    let (t, c3) = qkv.dim();
    let c = c3 / 3;
    let d = c / n_head;
    let scale = 1.0 / (d as f64).sqrt();
    let mut out = Mat::zeros((t, c));
    let mut att = Array3::zeros((n_head, t, t));
    for h in 0..n_head {
        let q = qkv.slice(s![.., h * d..(h + 1) * d]);
        let k = qkv.slice(s![.., c + h * d..c + (h + 1) * d]);
        let v = qkv.slice(s![.., 2 * c + h * d..2 * c + (h + 1) * d]);
        let mut scores = q.dot(&k.t()) * scale; // (T, T)
        for i in 0..t {
            for j in i + 1..t {
                scores[[i, j]] = f64::NEG_INFINITY;
            }
        }
        let p = softmax_forward(&scores);
        out.slice_mut(s![.., h * d..(h + 1) * d]).assign(&p.dot(&v));
        att.slice_mut(s![h, .., ..]).assign(&p);
    }
    (out, att)
}
// ANCHOR_END: attention_forward

/// In the forward pass this was, per head, `S = Q Kᵀ/√D`, `P = softmax(S)`, `O = P V`:
///
/// ```text
/// dP = dO Vᵀ      dV = Pᵀ dO      dS = softmax_backward(P, dP)
/// dQ = dS K / √D  dK = dSᵀ Q / √D
/// ```
///
/// Masked entries have P = 0, so no gradient flows through them.
pub fn attention_backward(dout: &Mat, qkv: &Mat, att: &Array3<f64>, n_head: usize) -> Mat {
    let (t, c3) = qkv.dim();
    let c = c3 / 3;
    let d = c / n_head;
    let scale = 1.0 / (d as f64).sqrt();
    let mut dqkv = Mat::zeros((t, c3));
    for h in 0..n_head {
        let cols = |base: usize| base + h * d..base + (h + 1) * d;
        let q = qkv.slice(s![.., cols(0)]);
        let k = qkv.slice(s![.., cols(c)]);
        let v = qkv.slice(s![.., cols(2 * c)]);
        let p = att.slice(s![h, .., ..]).to_owned();
        let dout_h = dout.slice(s![.., cols(0)]);
        let dp = dout_h.dot(&v.t());
        let dv = p.t().dot(&dout_h);
        let ds = softmax_backward(&p, &dp) * scale;
        dqkv.slice_mut(s![.., cols(0)]).assign(&ds.dot(&k));
        dqkv.slice_mut(s![.., cols(c)]).assign(&ds.t().dot(&q));
        dqkv.slice_mut(s![.., cols(2 * c)]).assign(&dv);
    }
    dqkv
}

// ---------------------------------------------------------------------------------------
// Cross-entropy

/// Mean cross-entropy of next-token predictions:
/// `L = −(1/T) Σ_t log softmax(logits[t])[y_t]`. Returns the loss and the probabilities.
pub fn cross_entropy_forward(logits: &Mat, targets: &[usize]) -> (f64, Mat) {
    let p = softmax_forward(logits);
    let loss = -targets
        .iter()
        .enumerate()
        .map(|(t, &y)| p[[t, y]].ln())
        .sum::<f64>()
        / targets.len() as f64;
    (loss, p)
}

/// In the forward pass this was `L = −(1/T) Σ_t log p[t, y_t]` with `p = softmax(logits)`:
/// `dlogits = (p − onehot(y)) / T`.
pub fn cross_entropy_backward(p: &Mat, targets: &[usize]) -> Mat {
    let mut d = p.clone();
    for (t, &y) in targets.iter().enumerate() {
        d[[t, y]] -= 1.0;
    }
    d / targets.len() as f64
}
