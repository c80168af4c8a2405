//! Fused CPU kernels, each with its backward: softmax, layer normalisation and GELU.
//!
//! Written from candle's elementary operations, softmax is 5 passes over the attention
//! scores and GELU 8 over the MLP's activations, and autograd keeps every intermediate
//! and runs a backward pass for each. Here each is one pass forward and one backward —
//! the backward formulas of chapter 2, now on tensors. They are candle custom operations:
//! candle records them in the graph and calls our `bwd` during `loss.backward()`.
//!
//! CPU only. On other devices [`crate::model`] uses the composed operations, which give the
//! same values (a test checks forward and gradients against them).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// The f32 data of a contiguous CPU tensor.
fn slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        _ => bail!("{op}: expected f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: expected a contiguous tensor"),
    }
}

/// Rows of the last dimension, processed in parallel: `f(input rows…, output row)`.
fn rows_1(x: &[f32], n: usize, f: impl Fn(&[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(n).zip(x.par_chunks(n)).for_each(|(o, x)| f(x, o));
    out
}

fn rows_2(x: &[f32], y: &[f32], n: usize, f: impl Fn(&[f32], &[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(n).zip(x.par_chunks(n).zip(y.par_chunks(n))).for_each(|(o, (x, y))| f(x, y, o));
    out
}

// ANCHOR: softmax
/// Softmax over the last dimension: `yᵢ = exp(xᵢ − max x) / Σⱼ exp(xⱼ − max x)`.
pub struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "fused-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l, "softmax")?;
        let n = l.dims()[l.dims().len() - 1];
        let y = rows_1(x, n, |x, y| {
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0.0;
            for (y, &x) in y.iter_mut().zip(x) {
                *y = (x - max).exp();
                total += *y;
            }
            y.iter_mut().for_each(|y| *y /= total);
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    /// `∂L/∂xᵢ = yᵢ (∂L/∂yᵢ − Σⱼ yⱼ ∂L/∂yⱼ)`.
    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(y.apply_op2_no_bwd(&dy.contiguous()?, &SoftmaxBackward)?))
    }
}

struct SoftmaxBackward;

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "fused-softmax-backward"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (y, dy) = (slice(s1, l1, "softmax backward")?, slice(s2, l2, "softmax backward")?);
        let n = l1.dims()[l1.dims().len() - 1];
        let dx = rows_2(y, dy, n, |y, dy, dx| {
            let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
            for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                *dx = y * (dy - dot);
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
// ANCHOR_END: softmax

// ANCHOR: normalize
/// Layer normalisation without gain and bias, over the last dimension:
/// `x̂ = (x − μ) / √(σ² + ε)` (the model then applies `γ ⊙ x̂ + β` with ordinary,
/// differentiable operations, so γ and β get their gradients from candle).
pub struct Normalize {
    pub eps: f32,
}

fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp1 for Normalize {
    fn name(&self) -> &'static str {
        "fused-normalize"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l, "normalize")?;
        let n = l.dims()[l.dims().len() - 1];
        let y = rows_1(x, n, |x, y| {
            let (mean, inv_std) = moments(x, self.eps);
            for (y, &x) in y.iter_mut().zip(x) {
                *y = (x - mean) * inv_std;
            }
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    /// `∂L/∂x = (1/σ) (g − mean(g) − x̂ · mean(g ⊙ x̂))` with `g = ∂L/∂x̂`.
    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.contiguous()?.apply_op2_no_bwd(&dy.contiguous()?, &NormalizeBackward { eps: self.eps })?))
    }
}

struct NormalizeBackward {
    eps: f32,
}

impl CustomOp2 for NormalizeBackward {
    fn name(&self) -> &'static str {
        "fused-normalize-backward"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, g) = (slice(s1, l1, "normalize backward")?, slice(s2, l2, "normalize backward")?);
        let n = l1.dims()[l1.dims().len() - 1];
        let dx = rows_2(x, g, n, |x, g, dx| {
            let (mean, inv_std) = moments(x, self.eps);
            let nf = n as f32;
            let g_mean = g.iter().sum::<f32>() / nf;
            let gx_mean = g.iter().zip(x).map(|(g, x)| g * (x - mean) * inv_std).sum::<f32>() / nf;
            for ((dx, &x), &g) in dx.iter_mut().zip(x).zip(g) {
                *dx = inv_std * (g - g_mean - (x - mean) * inv_std * gx_mean);
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
// ANCHOR_END: normalize

// ANCHOR: gelu
/// GPT-2's GELU: `½ x (1 + tanh(u))` with `u = √(2/π) (x + 0.044715 x³)`.
pub struct Gelu;

const S2PI: f32 = 0.797_884_6; // √(2/π)

/// `tanh u = 1 − 2/(e^{2u} + 1)`: one `exp`, about twice as fast as `f32::tanh`, exact to
/// a few f32 ulps of 1 (the GELU adds 1 to it anyway); ±∞ give ±1.
#[inline]
fn tanh(u: f32) -> f32 {
    1.0 - 2.0 / ((2.0 * u).exp() + 1.0)
}

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l, "gelu")?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(4096).zip(x.par_chunks(4096)).for_each(|(y, x)| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = 0.5 * x * (1.0 + tanh(S2PI * (x + 0.044715 * x * x * x)));
            }
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    /// `∂y/∂x = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3 · 0.044715 x²)`.
    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.contiguous()?.apply_op2_no_bwd(&dy.contiguous()?, &GeluBackward)?))
    }
}

struct GeluBackward;

impl CustomOp2 for GeluBackward {
    fn name(&self) -> &'static str {
        "fused-gelu-backward"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, dy) = (slice(s1, l1, "gelu backward")?, slice(s2, l2, "gelu backward")?);
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(4096).zip(x.par_chunks(4096).zip(dy.par_chunks(4096))).for_each(|(dx, (x, dy))| {
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                let t = tanh(S2PI * (x + 0.044715 * x * x * x));
                let grad = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * S2PI * (1.0 + 3.0 * 0.044715 * x * x);
                *dx = dy * grad;
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
// ANCHOR_END: gelu
