//! The log-probability of each target token, `log softmax(z)[y]`, as one operation whose
//! backward writes the logits' gradient directly.
//!
//! Composed, this is five passes over the (N, V) logits (max, subtract, exp, sum, log,
//! subtract) plus a gather, and the backward runs each in reverse with its own (N, V)
//! temporaries. The fused version reads each row twice forward and writes it once
//! backward:
//!
//! ```text
//! log pₙ = zₙ,yₙ − mₙ − log Σᵥ e^(zₙ,ᵥ − mₙ)        mₙ = maxᵥ zₙ,ᵥ
//! ∂L/∂zₙ,ᵥ = gₙ (1[v = yₙ] − softmax(zₙ)ᵥ)         gₙ = ∂L/∂log pₙ
//! ```

use crate::fused::slice;
use crate::simd;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Rows per parallel task.
const ROWS: usize = 16;

/// `log softmax(logits)[target]`: logits (…, V) f32 and targets (…) u32 → (…).
pub struct TokenLogProbs;

fn targets<'a>(s: &'a CpuStorage, l: &Layout, v: usize) -> Result<&'a [u32]> {
    let t = match s {
        CpuStorage::U32(t) => t.as_slice(),
        _ => bail!("token log-probs: targets must be u32 token ids"),
    };
    let t = match l.contiguous_offsets() {
        Some((a, b)) => &t[a..b],
        None => bail!("token log-probs: targets must be contiguous"),
    };
    if let Some(bad) = t.iter().find(|&&y| y as usize >= v) {
        bail!("token log-probs: target {bad} is outside the vocabulary of {v}");
    }
    Ok(t)
}

/// Rows and vocabulary of logits (…, V) whose targets are (…).
fn rows(lz: &Layout, ly: &Layout) -> Result<(usize, usize)> {
    let (zd, yd) = (lz.dims(), ly.dims());
    if zd.len() != yd.len() + 1 || zd[..yd.len()] != *yd {
        bail!("token log-probs: logits {zd:?} and targets {yd:?}: expected (…, V) and (…)");
    }
    Ok((ly.shape().elem_count(), zd[zd.len() - 1]))
}

/// `(max, log Σ e^(z − max))` of one row; `scratch` holds the exponentials afterwards.
#[inline(always)]
fn log_sum_exp(z: &[f32], scratch: &mut [f32]) -> (f32, f32) {
    scratch.copy_from_slice(z);
    let m = simd::max(z);
    (m, simd::exp_shifted_sum(scratch, m).ln())
}

crate::simd_kernel! {
    /// `log pₙ` for a few rows of logits.
    fn forward_rows(out: &mut [f32], z: &[f32], y: &[u32], v: usize) {
        let mut scratch = vec![0f32; v];
        for ((o, z), &y) in out.iter_mut().zip(z.chunks_exact(v)).zip(y) {
            let (m, lse) = log_sum_exp(z, &mut scratch);
            *o = z[y as usize] - m - lse;
        }
    }
}

crate::simd_kernel! {
    /// `∂L/∂zₙ = gₙ (onehot(yₙ) − softmax(zₙ))` for a few rows.
    fn backward_rows(dz: &mut [f32], z: &[f32], y: &[u32], g: &[f32], v: usize) {
        for (((dz, z), &y), &g) in dz.chunks_exact_mut(v).zip(z.chunks_exact(v)).zip(y).zip(g) {
            if g == 0.0 {
                continue; // a position outside the loss: its row stays 0
            }
            dz.copy_from_slice(z);
            let m = simd::max(z);
            let scale = -g / simd::exp_shifted_sum(dz, m);
            dz.iter_mut().for_each(|d| *d *= scale);
            dz[y as usize] += g;
        }
    }
}

impl CustomOp2 for TokenLogProbs {
    fn name(&self) -> &'static str {
        "fused-token-log-probs"
    }

    fn cpu_fwd(
        &self,
        sz: &CpuStorage,
        lz: &Layout,
        sy: &CpuStorage,
        ly: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let z = slice(sz, lz, "token log-probs")?;
        let (n, v) = rows(lz, ly)?;
        let y = targets(sy, ly, v)?;
        let mut out = vec![0f32; n];
        out.par_chunks_mut(ROWS)
            .zip(z.par_chunks(ROWS * v).zip(y.par_chunks(ROWS)))
            .for_each(|(out, (z, y))| forward_rows(out, z, y, v));
        Ok((CpuStorage::F32(out), ly.shape().clone()))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((
            Some(logits.apply_op3_no_bwd(targets, &grad.contiguous()?, &TokenLogProbsBackward)?),
            None,
        ))
    }
}

/// `∂L/∂z` (N, V) from the logits, the targets and `∂L/∂log p` (N).
struct TokenLogProbsBackward;

impl CustomOp3 for TokenLogProbsBackward {
    fn name(&self) -> &'static str {
        "fused-token-log-probs-backward"
    }

    fn cpu_fwd(
        &self,
        sz: &CpuStorage,
        lz: &Layout,
        sy: &CpuStorage,
        ly: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, g) = (
            slice(sz, lz, "token log-probs backward")?,
            slice(sg, lg, "token log-probs backward")?,
        );
        let (n, v) = rows(lz, ly)?;
        let y = targets(sy, ly, v)?;
        let mut dz = vec![0f32; n * v];
        dz.par_chunks_mut(ROWS * v)
            .zip(z.par_chunks(ROWS * v))
            .zip(y.par_chunks(ROWS).zip(g.par_chunks(ROWS)))
            .for_each(|((dz, z), (y, g))| backward_rows(dz, z, y, g, v));
        Ok((CpuStorage::F32(dz), lz.shape().clone()))
    }
}
