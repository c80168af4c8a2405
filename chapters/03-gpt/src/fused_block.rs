//! A whole transformer block as one operation with its own backward, as llm.c writes it.
//!
//! Even with every layer fused, candle's autograd pays for each node of the graph: the
//! backward gives every node's input a zero-filled gradient buffer and adds the incoming
//! gradient into it — a full-size write, two reads and another write, for every edge, even
//! when the sum has a single term (candle issue #2913; PRs #3578 and #3822 would store the
//! first gradient directly). A block has about a dozen such edges, several of them
//! (B, T, 4C). Written as one operation, the block has one edge in and one out, keeps its
//! activations for the backward itself, and adds the residual gradients in place:
//!
//! ```text
//! forward   a = LN₁(x)   qkv = a W_attn + b   o = attention(qkv)   x₁ = x + o W_proj + b
//!           m = LN₂(x₁)  u = m W_fc + b       h = GELU(u)          y = x₁ + h W_mlp + b
//! backward  ∂h = ∂y W_mlpᵀ   ∂u = ∂h ⊙ GELU′(u)   ∂m = ∂u W_fcᵀ    ∂x₁ = ∂y + LN₂′(∂m)
//!           ∂o = ∂x₁ W_projᵀ   ∂qkv = attention′(∂o)   ∂a = ∂qkv W_attnᵀ   ∂x = ∂x₁ + LN₁′(∂a)
//!           and each weight's ∂W = inputᵀ · ∂output, each bias's ∂b = Σ_rows ∂output
//! ```
//!
//! The twelve parameters arrive packed in one vector (`Tensor::cat` of their flattened
//! values, in [`BLOCK_PARAMS`] order), because a candle operation takes at most three
//! inputs; the `cat` hands each parameter its slice of the gradient.

use crate::fused::{gelu_backward_in_place, slice};
use crate::fused_attention::{attention_backward, attention_forward};
use crate::fused_linear::{
    linear_backward_input, linear_backward_params, linear_forward, linear_gelu_forward,
};
use crate::fused_norm::{layer_norm_backward, layer_norm_forward};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use std::sync::{Arc, Mutex};

/// A block's parameters, in the order they are packed (Hugging Face names after `h.{l}.`).
pub const BLOCK_PARAMS: [&str; 12] = [
    "ln_1.weight",
    "ln_1.bias",
    "attn.c_attn.weight",
    "attn.c_attn.bias",
    "attn.c_proj.weight",
    "attn.c_proj.bias",
    "ln_2.weight",
    "ln_2.bias",
    "mlp.c_fc.weight",
    "mlp.c_fc.bias",
    "mlp.c_proj.weight",
    "mlp.c_proj.bias",
];

/// Sizes of the packed parameters for width `c`, in [`BLOCK_PARAMS`] order.
fn sizes(c: usize) -> [usize; 12] {
    [
        c,
        c,
        c * 3 * c,
        3 * c,
        c * c,
        c,
        c,
        c,
        c * 4 * c,
        4 * c,
        4 * c * c,
        c,
    ]
}

/// The packed parameters split into their twelve slices.
fn split(p: &[f32], c: usize) -> [&[f32]; 12] {
    let mut rest = p;
    sizes(c).map(|n| {
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head
    })
}

fn split_mut(p: &mut [f32], c: usize) -> [&mut [f32]; 12] {
    let mut rest = p;
    sizes(c).map(|n| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        head
    })
}

/// Values of all parameters of a block of width `c`.
pub fn packed_len(c: usize) -> usize {
    sizes(c).iter().sum()
}

/// What the forward keeps for the backward (each a row-major (N, ·) matrix, N = B·T).
struct Saved {
    keep: Vec<f32>, // (B, T)
    a: Vec<f32>,    // LN₁(x)          (N, C)
    qkv: Vec<f32>,  //                 (N, 3C)
    o: Vec<f32>,    // attention out   (N, C)
    x1: Vec<f32>,   // after attention (N, C)
    m: Vec<f32>,    // LN₂(x₁)         (N, C)
    u: Vec<f32>,    // before GELU     (N, 4C)
    h: Vec<f32>,    // GELU(u)         (N, 4C)
}

/// One transformer block on x (B, T, C), the packed parameters, and `keep` (B, T): 1 for a
/// real token, 0 for padding. Make a new one for every forward: it holds that forward's
/// activations until its graph is dropped.
pub struct Block {
    n_head: usize,
    eps: f32,
    saved: Mutex<Option<Arc<Saved>>>,
}

impl Block {
    pub fn new(n_head: usize, eps: f64) -> Block {
        Block {
            n_head,
            eps: eps as f32,
            saved: Mutex::new(None),
        }
    }
}

fn check(lx: &Layout, lp: &Layout, lk: &Layout, n_head: usize) -> Result<(usize, usize, usize)> {
    let (b, t, c) = lx.shape().dims3()?;
    if c % n_head != 0 {
        bail!("block: width {c} is not a multiple of {n_head} heads");
    }
    if lp.shape().elem_count() != packed_len(c) {
        bail!(
            "block: {} packed parameters, expected {} for width {c}",
            lp.shape().elem_count(),
            packed_len(c)
        );
    }
    if lk.dims() != [b, t] {
        bail!("block: keep mask {:?}, expected ({b}, {t})", lk.dims());
    }
    Ok((b, t, c))
}

// ANCHOR: block
impl CustomOp3 for Block {
    fn name(&self) -> &'static str {
        "fused-block"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sp: &CpuStorage,
        lp: &Layout,
        sk: &CpuStorage,
        lk: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, p, keep) = (
            slice(sx, lx, "block")?,
            slice(sp, lp, "block")?,
            slice(sk, lk, "block")?,
        );
        let (b, t, c) = check(lx, lp, lk, self.n_head)?;
        let n = b * t;
        let [
            ln1_g,
            ln1_b,
            attn_w,
            attn_b,
            proj_w,
            proj_b,
            ln2_g,
            ln2_b,
            fc_w,
            fc_b,
            mlp_w,
            mlp_b,
        ] = split(p, c);
        let mut a = vec![0f32; n * c];
        layer_norm_forward(&mut a, x, ln1_g, ln1_b, self.eps);
        let qkv = linear_forward(&a, attn_w, attn_b, None, c, 3 * c);
        let mut o = vec![0f32; n * c];
        attention_forward(&mut o, &qkv, keep, t, c, self.n_head);
        let x1 = linear_forward(&o, proj_w, proj_b, Some(x), c, c);
        let mut m = vec![0f32; n * c];
        layer_norm_forward(&mut m, &x1, ln2_g, ln2_b, self.eps);
        let (u, h) = linear_gelu_forward(&m, fc_w, fc_b, c, 4 * c);
        let y = linear_forward(&h, mlp_w, mlp_b, Some(&x1), 4 * c, c);
        let s = Saved {
            keep: keep.to_vec(),
            a,
            qkv,
            o,
            x1,
            m,
            u,
            h,
        };
        *self.saved.lock().unwrap() = Some(Arc::new(s));
        Ok((CpuStorage::F32(y), lx.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        p: &Tensor,
        _keep: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(saved) = self.saved.lock().unwrap().clone() else {
            bail!("block: backward without a forward");
        };
        let back = BlockBackward {
            n_head: self.n_head,
            eps: self.eps,
            saved,
        };
        // One result: ∂L/∂x (N·C values), then ∂L/∂p.
        let packed = x.apply_op3_no_bwd(p, &dy.contiguous()?, &back)?;
        let nc = x.elem_count();
        let dx = packed.narrow(0, 0, nc)?.reshape(x.shape())?;
        let dp = packed.narrow(0, nc, p.elem_count())?;
        Ok((Some(dx), Some(dp), None))
    }
}
// ANCHOR_END: block

struct BlockBackward {
    n_head: usize,
    eps: f32,
    saved: Arc<Saved>,
}

impl CustomOp3 for BlockBackward {
    fn name(&self) -> &'static str {
        "fused-block-backward"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sp: &CpuStorage,
        lp: &Layout,
        sd: &CpuStorage,
        ld: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, p, dy) = (
            slice(sx, lx, "block backward")?,
            slice(sp, lp, "block backward")?,
            slice(sd, ld, "block backward")?,
        );
        let (b, t, c) = lx.shape().dims3()?;
        if ld.dims() != lx.dims() {
            bail!(
                "block backward: gradient {:?}, expected {:?}",
                ld.dims(),
                lx.dims()
            );
        }
        let (n, s) = (b * t, &self.saved);
        let [ln1_g, _, attn_w, _, proj_w, _, ln2_g, _, fc_w, _, mlp_w, _] = split(p, c);
        let mut out = vec![0f32; n * c + p.len()];
        let (dx, dp) = out.split_at_mut(n * c);
        let [
            d_ln1_g,
            d_ln1_b,
            d_attn_w,
            d_attn_b,
            d_proj_w,
            d_proj_b,
            d_ln2_g,
            d_ln2_b,
            d_fc_w,
            d_fc_b,
            d_mlp_w,
            d_mlp_b,
        ] = split_mut(dp, c);
        // The MLP: y = x₁ + GELU(LN₂(x₁) W_fc + b) W_mlp + b.
        let mut du = linear_backward_input(dy, mlp_w, 4 * c, c); // ∂h
        linear_backward_params(d_mlp_w, d_mlp_b, &s.h, dy, 4 * c, c);
        gelu_backward_in_place(&mut du, &s.u); // ∂u = ∂h ⊙ GELU′(u)
        linear_backward_params(d_fc_w, d_fc_b, &s.m, &du, c, 4 * c);
        let dm = linear_backward_input(&du, fc_w, c, 4 * c);
        drop(du);
        // ∂x₁: the residual path ∂y, and LN₂'s gradient added to it in place.
        let dx1 = dx;
        dx1.copy_from_slice(dy);
        layer_norm_backward(dx1, d_ln2_g, d_ln2_b, &s.x1, ln2_g, &dm, self.eps);
        // Attention: x₁ = x + attention(LN₁(x) W_attn + b) W_proj + b.
        let d_o = linear_backward_input(dx1, proj_w, c, c);
        linear_backward_params(d_proj_w, d_proj_b, &s.o, dx1, c, c);
        let mut dqkv = vec![0f32; n * 3 * c];
        attention_backward(&mut dqkv, &s.qkv, &s.keep, &d_o, t, c, self.n_head);
        linear_backward_params(d_attn_w, d_attn_b, &s.a, &dqkv, c, 3 * c);
        let da = linear_backward_input(&dqkv, attn_w, c, 3 * c);
        // ∂x = ∂x₁ + LN₁'s gradient, in the same buffer.
        layer_norm_backward(dx1, d_ln1_g, d_ln1_b, x, ln1_g, &da, self.eps);
        Ok((CpuStorage::F32(out), Shape::from(n * c + p.len())))
    }
}
