//! A linear layer `y = x W + b` as one operation with its own backward.
//!
//! Composed from candle's operations, a linear layer is a matmul and a broadcast add, and
//! their backward transposes operands into fresh copies, sums the bias gradient with a
//! generic reduction, and fills and adds a zero gradient buffer per node. Here the forward
//! writes the bias into the output and lets the matrix kernel add `x W` to it; the
//! backward is two matrix products on transposed *views* and a parallel column sum:
//!
//! ```text
//! ∂L/∂x = ∂L/∂y · Wᵀ        (N × out)·(out × in)
//! ∂L/∂W = xᵀ · ∂L/∂y        (in × N)·(N × out)
//! ∂L/∂b = Σₙ ∂L/∂yₙ         the column sums of ∂L/∂y
//! ```
//!
//! The language-model head is the same product with the weight stored the other way
//! round — the token embedding (V, C), used transposed ([`TiedHead`]).

use crate::fused::slice;
use crate::matmul::{View, matmul, matmul_new, pool_threads};
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail,
};
use rayon::prelude::*;

/// Rows per block of the column sums: blocks are summed in parallel, then added in block
/// order, so the result does not depend on the number of threads.
const BLOCK_ROWS: usize = 64;

/// The column sums of a row-major matrix with `n` columns, in a fixed order.
pub(crate) fn column_sums(x: &[f32], n: usize) -> Vec<f32> {
    let partial: Vec<Vec<f32>> = x
        .par_chunks(BLOCK_ROWS * n)
        .map(|block| {
            let mut s = vec![0f32; n];
            for row in block.chunks_exact(n) {
                s.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            s
        })
        .collect();
    let mut total = vec![0f32; n];
    for p in &partial {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// `y = x W + b (+ r)` for `n` rows: x (n, in), W (in, out), b (out), and optionally a
/// residual r (n, out) → a new y (n, out). The matrix kernel writes x W into fresh memory;
/// one parallel pass then adds the bias (and the residual).
pub fn linear_forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    r: Option<&[f32]>,
    inp: usize,
    out: usize,
) -> Vec<f32> {
    let n = x.len() / inp;
    let mut y = matmul_new(
        View::rows(x, n, inp),
        View::rows(w, inp, out),
        pool_threads(),
    );
    let block = BLOCK_ROWS * out;
    match r {
        None => y
            .par_chunks_mut(block)
            .for_each(|y| y.chunks_exact_mut(out).for_each(|y| add(y, b))),
        Some(r) => y
            .par_chunks_mut(block)
            .zip(r.par_chunks(block))
            .for_each(|(y, r)| {
                add(y, r);
                y.chunks_exact_mut(out).for_each(|y| add(y, b));
            }),
    }
    y
}

/// `u = x W + b` and `h = GELU(u)` (the MLP's first layer), the bias and the GELU in one
/// pass after the matrix kernel.
pub fn linear_gelu_forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    inp: usize,
    out: usize,
) -> (Vec<f32>, Vec<f32>) {
    let n = x.len() / inp;
    let mut u = matmul_new(
        View::rows(x, n, inp),
        View::rows(w, inp, out),
        pool_threads(),
    );
    let mut h = vec![0f32; u.len()];
    let block = BLOCK_ROWS * out;
    u.par_chunks_mut(block)
        .zip(h.par_chunks_mut(block))
        .for_each(|(u, h)| {
            u.chunks_exact_mut(out).for_each(|u| add(u, b));
            crate::fused::gelu_forward(h, u);
        });
    (u, h)
}

/// `y ← y + x`.
#[inline]
fn add(y: &mut [f32], x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += x);
}

/// `∂L/∂x = ∂L/∂y · Wᵀ` as a new (n, in) matrix.
pub fn linear_backward_input(dy: &[f32], w: &[f32], inp: usize, out: usize) -> Vec<f32> {
    let n = dy.len() / out;
    matmul_new(
        View::rows(dy, n, out),
        View::rows(w, inp, out).t(),
        pool_threads(),
    )
}

/// `∂L/∂W = xᵀ · ∂L/∂y` and `∂L/∂b = Σₙ ∂L/∂yₙ`, written into `dw` and `db`.
pub fn linear_backward_params(
    dw: &mut [f32],
    db: &mut [f32],
    x: &[f32],
    dy: &[f32],
    inp: usize,
    out: usize,
) {
    let n = x.len() / inp;
    matmul(
        dw,
        View::rows(x, n, inp).t(),
        View::rows(dy, n, out),
        false,
        pool_threads(),
    );
    db.copy_from_slice(&column_sums(dy, out));
}

/// The two dimensions of a weight (in, out) and the row count of an input (…, in).
fn dims(lx: &Layout, lw: &Layout, op: &str) -> Result<(usize, usize, usize)> {
    let (xd, wd) = (lx.dims(), lw.dims());
    if wd.len() != 2 || xd.is_empty() || xd[xd.len() - 1] != wd[0] {
        bail!("{op}: input {xd:?} and weight {wd:?}: expected (…, in) and (in, out)");
    }
    Ok((lx.shape().elem_count() / wd[0], wd[0], wd[1]))
}

// ANCHOR: linear
/// `y = x W + b` for x (…, in), W stored (in, out) as GPT-2's Conv1D, b (out).
pub struct Linear;

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (
            slice(sx, lx, "linear")?,
            slice(sw, lw, "linear")?,
            slice(sb, lb, "linear")?,
        );
        let (_, inp, out) = dims(lx, lw, "linear")?;
        if b.len() != out {
            bail!("linear: bias of {} values for {out} outputs", b.len());
        }
        let y = linear_forward(x, w, b, None, inp, out);
        let mut shape = lx.dims().to_vec();
        *shape.last_mut().unwrap() = out;
        Ok((CpuStorage::F32(y), Shape::from(shape)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let dx = dy.apply_op2_no_bwd(w, &InputGrad)?; // ∂L/∂y · Wᵀ
        let dw = x.apply_op2_no_bwd(&dy, &WeightGrad)?; // xᵀ · ∂L/∂y
        let db = dy.apply_op1_no_bwd(&BiasGrad)?; // Σₙ ∂L/∂yₙ
        Ok((Some(dx), Some(dw), Some(db)))
    }
}
// ANCHOR_END: linear

/// `∂L/∂x = ∂L/∂y · Wᵀ`: (…, out) and W (in, out) → (…, in).
struct InputGrad;

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "fused-linear-input-grad"
    }

    fn cpu_fwd(
        &self,
        sg: &CpuStorage,
        lg: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, w) = (
            slice(sg, lg, "linear input grad")?,
            slice(sw, lw, "linear input grad")?,
        );
        let (inp, out) = lw.shape().dims2()?;
        let dx = linear_backward_input(g, w, inp, out);
        let mut shape = lg.dims().to_vec();
        *shape.last_mut().unwrap() = inp;
        Ok((CpuStorage::F32(dx), Shape::from(shape)))
    }
}

/// `∂L/∂W = xᵀ · ∂L/∂y`: x (…, in) and (…, out) → (in, out).
struct WeightGrad;

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "fused-linear-weight-grad"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, g) = (
            slice(sx, lx, "linear weight grad")?,
            slice(sg, lg, "linear weight grad")?,
        );
        let (inp, out) = (
            lx.dims()[lx.dims().len() - 1],
            lg.dims()[lg.dims().len() - 1],
        );
        let n = x.len() / inp;
        let dw = matmul_new(
            View::rows(x, n, inp).t(),
            View::rows(g, n, out),
            pool_threads(),
        );
        Ok((CpuStorage::F32(dw), Shape::from((inp, out))))
    }
}

/// `∂L/∂b`: the column sums of (…, out) → (out).
struct BiasGrad;

impl CustomOp1 for BiasGrad {
    fn name(&self) -> &'static str {
        "fused-linear-bias-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = slice(s, l, "linear bias grad")?;
        let out = l.dims()[l.dims().len() - 1];
        Ok((CpuStorage::F32(column_sums(g, out)), Shape::from(out)))
    }
}

// ANCHOR: tied_head
/// The tied language-model head `logits = z Eᵀ` for z (…, C) and the token embedding
/// E (V, C), with no transposed copy of E and no reshape of the (…, V) logits in the graph
/// (each reshape of a node costs the backward a zero-filled buffer and an add of that size):
///
/// ```text
/// ∂L/∂z = ∂L/∂logits · E        ∂L/∂E = (∂L/∂logits)ᵀ · z
/// ```
pub struct TiedHead;

impl CustomOp2 for TiedHead {
    fn name(&self) -> &'static str {
        "fused-tied-head"
    }

    fn cpu_fwd(
        &self,
        sz: &CpuStorage,
        lz: &Layout,
        se: &CpuStorage,
        le: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, e) = (slice(sz, lz, "tied head")?, slice(se, le, "tied head")?);
        let (v, c) = le.shape().dims2()?;
        if lz.dims().last() != Some(&c) {
            bail!(
                "tied head: hidden states {:?} and embedding ({v}, {c})",
                lz.dims()
            );
        }
        let n = z.len() / c;
        let logits = matmul_new(View::rows(z, n, c), View::rows(e, v, c).t(), pool_threads());
        let mut shape = lz.dims().to_vec();
        *shape.last_mut().unwrap() = v;
        Ok((CpuStorage::F32(logits), Shape::from(shape)))
    }

    fn bwd(
        &self,
        z: &Tensor,
        e: &Tensor,
        _logits: &Tensor,
        dlogits: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = dlogits.contiguous()?;
        let dz = g.apply_op2_no_bwd(e, &HeadInputGrad)?; // ∂L/∂logits · E
        let de = g.apply_op2_no_bwd(z, &HeadEmbeddingGrad)?; // (∂L/∂logits)ᵀ · z
        Ok((Some(dz), Some(de)))
    }
}
// ANCHOR_END: tied_head

/// `∂L/∂z = g · E`: g (…, V) and E (V, C) → (…, C).
struct HeadInputGrad;

impl CustomOp2 for HeadInputGrad {
    fn name(&self) -> &'static str {
        "fused-tied-head-input-grad"
    }

    fn cpu_fwd(
        &self,
        sg: &CpuStorage,
        lg: &Layout,
        se: &CpuStorage,
        le: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, e) = (
            slice(sg, lg, "tied head input grad")?,
            slice(se, le, "tied head input grad")?,
        );
        let (v, c) = le.shape().dims2()?;
        let n = g.len() / v;
        let dz = matmul_new(View::rows(g, n, v), View::rows(e, v, c), pool_threads());
        let mut shape = lg.dims().to_vec();
        *shape.last_mut().unwrap() = c;
        Ok((CpuStorage::F32(dz), Shape::from(shape)))
    }
}

/// `∂L/∂E = gᵀ · z`: g (…, V) and z (…, C) → (V, C).
struct HeadEmbeddingGrad;

impl CustomOp2 for HeadEmbeddingGrad {
    fn name(&self) -> &'static str {
        "fused-tied-head-embedding-grad"
    }

    fn cpu_fwd(
        &self,
        sg: &CpuStorage,
        lg: &Layout,
        sz: &CpuStorage,
        lz: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, z) = (
            slice(sg, lg, "tied head embedding grad")?,
            slice(sz, lz, "tied head embedding grad")?,
        );
        let (v, c) = (
            lg.dims()[lg.dims().len() - 1],
            lz.dims()[lz.dims().len() - 1],
        );
        let n = g.len() / v;
        let de = matmul_new(View::rows(g, n, v).t(), View::rows(z, n, c), pool_threads());
        Ok((CpuStorage::F32(de), Shape::from((v, c))))
    }
}
