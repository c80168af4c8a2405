//! Fused CPU kernels, each with its backward: softmax and GELU. (Layer norm, the linear
//! layer, attention, the loss and the whole block have files of their own.)
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
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
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
    out.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .for_each(|(o, x)| f(x, o));
    out
}

fn rows_2(
    x: &[f32],
    y: &[f32],
    n: usize,
    f: impl Fn(&[f32], &[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(y.par_chunks(n)))
        .for_each(|(o, (x, y))| f(x, y, o));
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
        Ok(Some(
            y.apply_op2_no_bwd(&dy.contiguous()?, &SoftmaxBackward)?,
        ))
    }
}

struct SoftmaxBackward;

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "fused-softmax-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (y, dy) = (
            slice(s1, l1, "softmax backward")?,
            slice(s2, l2, "softmax backward")?,
        );
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

// ANCHOR: gelu
/// GPT-2's GELU: `½ x (1 + tanh(u))` with `u = √(2/π) (x + 0.044715 x³)`.
pub struct Gelu;

const S2PI: f32 = 0.797_884_6; // √(2/π)

/// `tanh u = 1 − 2/(e^{2u} + 1)`: one branch-free `exp` ([`crate::simd::exp`]), so a loop
/// of it vectorises; exact to a few f32 ulps of 1 (the GELU adds 1 to it anyway); large
/// |u| give ±1.
#[inline(always)]
fn tanh(u: f32) -> f32 {
    1.0 - 2.0 / (crate::simd::exp(2.0 * u) + 1.0)
}

/// Elements per parallel task of the GELU.
const CHUNK: usize = 4096;

/// `y = GELU(x)`, in parallel chunks.
pub fn gelu_forward_par(y: &mut [f32], x: &[f32]) {
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| gelu_forward(y, x));
}

/// `∂L/∂x = ∂L/∂y · GELU′(x)`, in parallel chunks.
pub fn gelu_backward_par(dx: &mut [f32], x: &[f32], dy: &[f32]) {
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
        .for_each(|(dx, (x, dy))| gelu_backward(dx, x, dy));
}

/// `g ← g ⊙ GELU′(x)` in place (the MLP's backward turns ∂L/∂h into ∂L/∂u).
pub fn gelu_backward_in_place(g: &mut [f32], x: &[f32]) {
    g.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(g, x)| gelu_backward_self(g, x));
}

crate::simd_kernel! {
    fn gelu_backward_self(g: &mut [f32], x: &[f32]) {
        for (g, &x) in g.iter_mut().zip(x) {
            *g *= gelu_derivative(x);
        }
    }
}

/// `GELU′(x) = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3 · 0.044715 x²)`.
#[inline(always)]
fn gelu_derivative(x: f32) -> f32 {
    let t = tanh(S2PI * (x + 0.044715 * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * S2PI * (1.0 + 3.0 * 0.044715 * x * x)
}

crate::simd_kernel! {
    /// `y = GELU(x)` for a chunk.
    pub(crate) fn gelu_forward(y: &mut [f32], x: &[f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = 0.5 * x * (1.0 + tanh(S2PI * (x + 0.044715 * x * x * x)));
        }
    }
}

crate::simd_kernel! {
    /// `∂L/∂x = ∂L/∂y · GELU′(x)` for a chunk.
    fn gelu_backward(dx: &mut [f32], x: &[f32], dy: &[f32]) {
        for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
            *dx = dy * gelu_derivative(x);
        }
    }
}

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l, "gelu")?;
        let mut y = vec![0f32; x.len()];
        gelu_forward_par(&mut y, x);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    /// `∂y/∂x = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3 · 0.044715 x²)`.
    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            x.contiguous()?
                .apply_op2_no_bwd(&dy.contiguous()?, &GeluBackward)?,
        ))
    }
}

struct GeluBackward;

impl CustomOp2 for GeluBackward {
    fn name(&self) -> &'static str {
        "fused-gelu-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, dy) = (
            slice(s1, l1, "gelu backward")?,
            slice(s2, l2, "gelu backward")?,
        );
        let mut dx = vec![0f32; x.len()];
        gelu_backward_par(&mut dx, x, dy);
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
// ANCHOR_END: gelu
