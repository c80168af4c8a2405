//! Causal self-attention of every head as one operation with its own backward, llm.c style.
//!
//! Composed from candle's operations, attention splits `qkv` into three head-major copies,
//! transposes the keys into a fourth, adds a mask tensor to the scores of every head
//! (B, H, T, T), runs the softmax and merges the heads back with another copy — and the
//! backward does each of these again in reverse, with a zero-filled gradient buffer per
//! step. Here each (sequence, head) reads its q, k and v straight out of `qkv` (B, T, 3C)
//! as strided matrix views, runs the products with the matrix kernel, applies the causal
//! mask inside the softmax, and writes the output already merged (B, T, C). The backward
//! recomputes the probabilities (one small product) instead of storing them:
//!
//! ```text
//! forward   S = Q Kᵀ / √D,   P = softmax(S) over the keys a query may see (j ≤ i, real),   O = P V
//! backward  ∂V = Pᵀ ∂O,   ∂P = ∂O Vᵀ,   ∂Sᵢⱼ = Pᵢⱼ (∂Pᵢⱼ − Σₖ Pᵢₖ ∂Pᵢₖ),
//!           ∂Q = ∂S K / √D,   ∂K = ∂Sᵀ Q / √D
//! ```
//!
//! A query that may see no key at all (left padding before the first real token) gets an
//! output of zero; its row is padding and is never read.

use crate::fused::slice;
use crate::matmul::{View, matmul, matmul_into};
use crate::simd;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Causal attention of `n_head` heads over `qkv` (B, T, 3C) and `keep` (B, T) — 1 for a
/// real token, 0 for padding (padding keys are hidden from every query) → (B, T, C).
pub struct CausalAttention {
    pub n_head: usize,
}

/// Where one sequence's q, k and v of head `h` sit inside its (T, 3C) rows.
#[derive(Clone, Copy)]
struct Head {
    t: usize,
    c: usize,
    d: usize,
    h: usize,
}

impl Head {
    /// Part `part` (0: q, 1: k, 2: v) of this head: a (T, D) view with rows 3C apart.
    fn view<'a>(&self, qkv: &'a [f32], part: usize) -> View<'a> {
        let off = part * self.c + self.h * self.d;
        View::strided(&qkv[off..], self.t, self.d, 3 * self.c)
    }

    /// The attention probabilities P (T, T) into `p`; row i is zero where query i may not
    /// look, and entirely zero if it may see no key.
    #[inline(always)]
    fn probs(&self, qkv: &[f32], keep: &[f32], p: &mut [f32]) {
        let t = self.t;
        let scale = 1.0 / (self.d as f32).sqrt();
        matmul(p, self.view(qkv, 0), self.view(qkv, 1).t(), false, 1); // Q Kᵀ (T, T)
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            // Keys after the query are never seen; hidden (padding) keys get −∞.
            let (visible, future) = row.split_at_mut(i + 1);
            future.fill(0.0);
            let mut seen = 0f32;
            for (s, &k) in visible.iter_mut().zip(keep) {
                *s = if k == 0.0 {
                    f32::NEG_INFINITY
                } else {
                    *s * scale
                };
                seen += k;
            }
            if seen == 0.0 {
                visible.fill(0.0); // no key to look at: the output row stays 0
                continue;
            }
            let m = simd::max(visible);
            let inv = 1.0 / simd::exp_shifted_sum(visible, m);
            visible.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

fn shapes(lq: &Layout, lk: &Layout, n_head: usize) -> Result<(usize, usize, usize, usize)> {
    let (b, t, c3) = lq.shape().dims3()?;
    if c3 % 3 != 0 || (c3 / 3) % n_head != 0 {
        bail!("attention: qkv of width {c3} is not 3 × a multiple of {n_head} heads");
    }
    if lk.dims() != [b, t] {
        bail!(
            "attention: keep mask {:?}, expected (batch {b}, tokens {t})",
            lk.dims()
        );
    }
    Ok((b, t, c3 / 3, c3 / 3 / n_head))
}

crate::simd_kernel! {
    /// One sequence's attention output (T, C), head by head.
    fn forward_sequence(out: &mut [f32], qkv: &[f32], keep: &[f32], t: usize, c: usize, d: usize, n_head: usize) {
        let mut p = vec![0f32; t * t];
        for h in 0..n_head {
            let head = Head { t, c, d, h };
            head.probs(qkv, keep, &mut p);
            // O = P V, written into this head's columns of the merged output.
            matmul_into(&mut out[h * d..], c, View::rows(&p, t, t), head.view(qkv, 2), 1.0, false, 1);
        }
    }
}

crate::simd_kernel! {
    /// One sequence's ∂L/∂qkv (T, 3C), head by head.
    #[allow(clippy::too_many_arguments)]
    fn backward_sequence(dqkv: &mut [f32], qkv: &[f32], keep: &[f32], dout: &[f32], t: usize, c: usize, d: usize, n_head: usize) {
        let scale = 1.0 / (d as f32).sqrt();
        let (mut p, mut ds) = (vec![0f32; t * t], vec![0f32; t * t]);
        for h in 0..n_head {
            let head = Head { t, c, d, h };
            let d_out = View::strided(&dout[h * d..], t, d, c); // ∂O (T, D)
            head.probs(qkv, keep, &mut p);
            // ∂V = Pᵀ ∂O
            matmul_into(&mut dqkv[2 * c + h * d..], 3 * c, View::rows(&p, t, t).t(), d_out, 1.0, false, 1);
            // ∂P = ∂O Vᵀ, then ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P)) in place
            matmul(&mut ds, d_out, head.view(qkv, 2).t(), false, 1);
            for (dsi, pi) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
                let delta = simd::dot(pi, dsi);
                dsi.iter_mut().zip(pi).for_each(|(g, &p)| *g = p * (*g - delta));
            }
            // ∂Q = ∂S K / √D,  ∂K = ∂Sᵀ Q / √D
            let ds_view = View::rows(&ds, t, t);
            matmul_into(&mut dqkv[h * d..], 3 * c, ds_view, head.view(qkv, 1), scale, false, 1);
            matmul_into(&mut dqkv[c + h * d..], 3 * c, ds_view.t(), head.view(qkv, 0), scale, false, 1);
        }
    }
}

/// Attention of every sequence: `out` (B, T, C) from `qkv` (B, T, 3C) and `keep` (B, T).
pub fn attention_forward(
    out: &mut [f32],
    qkv: &[f32],
    keep: &[f32],
    t: usize,
    c: usize,
    n_head: usize,
) {
    let d = c / n_head;
    out.par_chunks_mut(t * c)
        .zip(qkv.par_chunks(t * 3 * c))
        .zip(keep.par_chunks(t))
        .for_each(|((out, qkv), keep)| forward_sequence(out, qkv, keep, t, c, d, n_head));
}

/// `∂L/∂qkv` (B, T, 3C) of every sequence, written into `dqkv`.
pub fn attention_backward(
    dqkv: &mut [f32],
    qkv: &[f32],
    keep: &[f32],
    dout: &[f32],
    t: usize,
    c: usize,
    n_head: usize,
) {
    let d = c / n_head;
    dqkv.par_chunks_mut(t * 3 * c)
        .zip(qkv.par_chunks(t * 3 * c))
        .zip(keep.par_chunks(t).zip(dout.par_chunks(t * c)))
        .for_each(|((dqkv, qkv), (keep, dout))| {
            backward_sequence(dqkv, qkv, keep, dout, t, c, d, n_head)
        });
}

// ANCHOR: attention
impl CustomOp2 for CausalAttention {
    fn name(&self) -> &'static str {
        "fused-causal-attention"
    }

    fn cpu_fwd(
        &self,
        sq: &CpuStorage,
        lq: &Layout,
        sk: &CpuStorage,
        lk: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (qkv, keep) = (slice(sq, lq, "attention")?, slice(sk, lk, "attention")?);
        let (b, t, c, _) = shapes(lq, lk, self.n_head)?;
        let mut out = vec![0f32; b * t * c];
        attention_forward(&mut out, qkv, keep, t, c, self.n_head); // one sequence per task
        Ok((CpuStorage::F32(out), Shape::from((b, t, c))))
    }

    fn bwd(
        &self,
        qkv: &Tensor,
        keep: &Tensor,
        _out: &Tensor,
        dout: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dqkv = qkv.apply_op3_no_bwd(
            keep,
            &dout.contiguous()?,
            &AttentionBackward {
                n_head: self.n_head,
            },
        )?;
        Ok((Some(dqkv), None))
    }
}
// ANCHOR_END: attention

/// `∂L/∂qkv` (B, T, 3C) from `qkv`, `keep` and `∂L/∂out` (B, T, C).
struct AttentionBackward {
    n_head: usize,
}

impl CustomOp3 for AttentionBackward {
    fn name(&self) -> &'static str {
        "fused-causal-attention-backward"
    }

    fn cpu_fwd(
        &self,
        sq: &CpuStorage,
        lq: &Layout,
        sk: &CpuStorage,
        lk: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (qkv, keep, dout) = (
            slice(sq, lq, "attention backward")?,
            slice(sk, lk, "attention backward")?,
            slice(sg, lg, "attention backward")?,
        );
        let (b, t, c, _) = shapes(lq, lk, self.n_head)?;
        if lg.dims() != [b, t, c] {
            bail!(
                "attention backward: gradient {:?}, expected ({b}, {t}, {c})",
                lg.dims()
            );
        }
        let mut dqkv = vec![0f32; b * t * 3 * c];
        attention_backward(&mut dqkv, qkv, keep, dout, t, c, self.n_head);
        Ok((CpuStorage::F32(dqkv), lq.shape().clone()))
    }
}
