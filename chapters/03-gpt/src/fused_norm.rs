//! Layer normalisation with its gain and bias as one operation with its own backward.
//!
//! Composed, layer norm is a mean, a subtraction, a variance, a square root, a division, a
//! broadcast multiply by γ and a broadcast add of β — and the backward of each, with the
//! sums over all rows for ∂L/∂γ and ∂L/∂β. Here the forward is one pass per row and the
//! backward one pass that writes ∂L/∂x and accumulates ∂L/∂γ, ∂L/∂β:
//!
//! ```text
//! y = γ ⊙ x̂ + β,   x̂ = (x − μ) / σ,   σ = √(var x + ε)
//! g = γ ⊙ ∂L/∂y:   ∂L/∂x = (g − mean(g) − x̂ · mean(g ⊙ x̂)) / σ
//! ∂L/∂γ = Σ_rows ∂L/∂y ⊙ x̂       ∂L/∂β = Σ_rows ∂L/∂y
//! ```
//!
//! The sums over rows run in fixed blocks of rows, in parallel, and the blocks' partial sums
//! are added in block order: the result does not depend on the number of threads.

use crate::fused::slice;
use crate::simd;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Rows per block of the parallel loops (and of the partial sums of ∂L/∂γ, ∂L/∂β).
const BLOCK_ROWS: usize = 64;

/// The mean and `1/σ` of one row.
#[inline(always)]
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = simd::sum(x) / n;
    let mut sq = [0f32; simd::LANES];
    let chunks = x.chunks_exact(simd::LANES);
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for i in 0..simd::LANES {
            sq[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let var = (sq.iter().sum::<f32>() + rest) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

crate::simd_kernel! {
    fn forward_rows(y: &mut [f32], x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let n = gamma.len();
        for (y, x) in y.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
            let (mean, inv_std) = moments(x, eps);
            for j in 0..n {
                y[j] = (x[j] - mean) * inv_std * gamma[j] + beta[j];
            }
        }
    }
}

crate::simd_kernel! {
    /// ∂L/∂x added into `dx`; this block's ∂L/∂γ, ∂L/∂β into `part` (2n).
    fn backward_rows(dx: &mut [f32], part: &mut [f32], x: &[f32], gamma: &[f32], dy: &[f32], eps: f32) {
        let n = gamma.len();
        let (dgamma, dbeta) = part.split_at_mut(n);
        let mut g = vec![0f32; n];
        for ((dx, x), dy) in dx.chunks_exact_mut(n).zip(x.chunks_exact(n)).zip(dy.chunks_exact(n)) {
            let (mean, inv_std) = moments(x, eps);
            let (mut g_sum, mut gx_sum) = ([0f32; simd::LANES], [0f32; simd::LANES]);
            for j in 0..n {
                let xhat = (x[j] - mean) * inv_std;
                g[j] = gamma[j] * dy[j];
                g_sum[j % simd::LANES] += g[j];
                gx_sum[j % simd::LANES] += g[j] * xhat;
                dgamma[j] += dy[j] * xhat;
                dbeta[j] += dy[j];
            }
            let g_mean = g_sum.iter().sum::<f32>() / n as f32;
            let gx_mean = gx_sum.iter().sum::<f32>() / n as f32;
            for j in 0..n {
                dx[j] += inv_std * (g[j] - g_mean - (x[j] - mean) * inv_std * gx_mean);
            }
        }
    }
}

/// `y = LN(x)` over rows of `gamma.len()` values.
pub fn layer_norm_forward(y: &mut [f32], x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let block = BLOCK_ROWS * gamma.len();
    y.par_chunks_mut(block)
        .zip(x.par_chunks(block))
        .for_each(|(y, x)| forward_rows(y, x, gamma, beta, eps));
}

/// Add ∂L/∂x into `dx`, and write ∂L/∂γ and ∂L/∂β (each `gamma.len()` values).
pub fn layer_norm_backward(
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    x: &[f32],
    gamma: &[f32],
    dy: &[f32],
    eps: f32,
) {
    let n = gamma.len();
    let block = BLOCK_ROWS * n;
    let partial: Vec<Vec<f32>> = dx
        .par_chunks_mut(block)
        .zip(x.par_chunks(block).zip(dy.par_chunks(block)))
        .map(|(dx, (x, dy))| {
            let mut part = vec![0f32; 2 * n];
            backward_rows(dx, &mut part, x, gamma, dy, eps);
            part
        })
        .collect();
    dgamma.fill(0.0);
    dbeta.fill(0.0);
    for p in &partial {
        dgamma.iter_mut().zip(&p[..n]).for_each(|(s, v)| *s += v);
        dbeta.iter_mut().zip(&p[n..]).for_each(|(s, v)| *s += v);
    }
}

// ANCHOR: layer_norm
/// Layer norm over the last dimension as a candle operation: x (…, n), γ (n), β (n).
pub struct LayerNorm {
    pub eps: f32,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, gamma, beta) = (
            slice(sx, lx, "layer norm")?,
            slice(sg, lg, "layer norm")?,
            slice(sb, lb, "layer norm")?,
        );
        let n = lx.dims()[lx.dims().len() - 1];
        if gamma.len() != n || beta.len() != n {
            bail!(
                "layer norm: γ of {} and β of {} values for rows of {n}",
                gamma.len(),
                beta.len()
            );
        }
        let mut y = vec![0f32; x.len()];
        layer_norm_forward(&mut y, x, gamma, beta, self.eps);
        Ok((CpuStorage::F32(y), lx.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let n = x.dim(candle_core::D::Minus1)?;
        let rows = x.elem_count() / n;
        // One (rows + 2, n) result: ∂L/∂x, then ∂L/∂γ and ∂L/∂β as its last two rows.
        let packed = x.apply_op3_no_bwd(
            gamma,
            &dy.contiguous()?,
            &LayerNormBackward { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        Ok((
            Some(dx),
            Some(packed.get(rows)?),
            Some(packed.get(rows + 1)?),
        ))
    }
}
// ANCHOR_END: layer_norm

struct LayerNormBackward {
    eps: f32,
}

impl CustomOp3 for LayerNormBackward {
    fn name(&self) -> &'static str {
        "fused-layer-norm-backward"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
        sd: &CpuStorage,
        ld: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, gamma, dy) = (
            slice(sx, lx, "layer norm backward")?,
            slice(sg, lg, "layer norm backward")?,
            slice(sd, ld, "layer norm backward")?,
        );
        let n = gamma.len();
        let rows = x.len() / n;
        let mut out = vec![0f32; (rows + 2) * n];
        let (dx, sums) = out.split_at_mut(rows * n);
        let (dgamma, dbeta) = sums.split_at_mut(n);
        layer_norm_backward(dx, dgamma, dbeta, x, gamma, dy, self.eps);
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, n))))
    }
}
