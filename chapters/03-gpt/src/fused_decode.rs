//! Generation's forward pass, fused: each new token goes through all the layers with the
//! same kernels as training, reading the keys and values of earlier positions from a cache
//! of plain rows.
//!
//! Generation runs the model on a handful of new tokens at a time, so the cost of a step is
//! not arithmetic but the number of operations: composed from candle's operations, a step is
//! about a hundred of them, each allocating its result and waking the thread pool. Here a
//! layer is a few function calls on slices, with no graph (generation needs no gradient),
//! and the cache is one (B, capacity, C) matrix of keys and one of values per layer, in the
//! layout the `qkv` rows already have, written in place.

use crate::fused::gelu_forward_par;
use crate::fused_linear::linear_forward;
use crate::fused_norm::layer_norm_forward;
use crate::simd;
use rayon::prelude::*;

/// One layer's cached keys and values: (B, capacity, C) each, filled up to the cache's length.
pub struct RowCache {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

/// The shapes of one decoding step.
#[derive(Clone, Copy)]
pub struct Step {
    /// Sequences, new tokens per sequence, positions already cached, cache capacity.
    pub b: usize,
    pub t: usize,
    pub past: usize,
    pub capacity: usize,
    pub c: usize,
    pub n_head: usize,
    pub eps: f32,
}

/// One block on the new tokens' residual stream `x` (B·T, C), in place, with the layer's
/// twelve parameters (in [`crate::fused_block::BLOCK_PARAMS`] order); their keys and
/// values are written into `cache` at positions `past..past + T`. `keep` (B, past + T) is 1
/// for real tokens and 0 for padding.
pub fn decode_layer(
    x: &mut Vec<f32>,
    w: [&[f32]; 12],
    cache: &mut RowCache,
    keep: &[f32],
    s: Step,
) {
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
    ] = w;
    let (c, t) = (s.c, s.t);
    let mut a = vec![0f32; x.len()];
    layer_norm_forward(&mut a, x, ln1_g, ln1_b, s.eps);
    let qkv = linear_forward(&a, attn_w, attn_b, None, c, 3 * c); // (B·T, 3C)
    // The new keys and values, into their rows of the cache.
    for (row, r) in qkv.chunks_exact(3 * c).enumerate() {
        let at = ((row / t) * s.capacity + s.past + row % t) * c;
        cache.k[at..at + c].copy_from_slice(&r[c..2 * c]);
        cache.v[at..at + c].copy_from_slice(&r[2 * c..]);
    }
    let mut o = a; // reuse: the attention output (B·T, C)
    let cache = &*cache;
    o.par_chunks_mut(t * c)
        .zip(qkv.par_chunks(t * 3 * c))
        .enumerate()
        .for_each(|(b, (o, qkv))| {
            let keep = &keep[b * (s.past + t)..(b + 1) * (s.past + t)];
            let k = &cache.k[b * s.capacity * c..];
            let v = &cache.v[b * s.capacity * c..];
            attend(o, qkv, k, v, keep, s);
        });
    let x1 = linear_forward(&o, proj_w, proj_b, Some(x), c, c);
    let mut m = o;
    layer_norm_forward(&mut m, &x1, ln2_g, ln2_b, s.eps);
    let u = linear_forward(&m, fc_w, fc_b, None, c, 4 * c);
    let mut h = vec![0f32; u.len()];
    gelu_forward_par(&mut h, &u);
    *x = linear_forward(&h, mlp_w, mlp_b, Some(&x1), 4 * c, c);
}

crate::simd_kernel! {
    /// One sequence's new queries against its cached keys: query i (position past + i) sees
    /// the real keys at positions ≤ past + i.
    fn attend(o: &mut [f32], qkv: &[f32], k: &[f32], v: &[f32], keep: &[f32], s: Step) {
        let (c, d) = (s.c, s.c / s.n_head);
        let scale = 1.0 / (d as f32).sqrt();
        let mut p = vec![0f32; s.past + s.t];
        for i in 0..s.t {
            let seen = s.past + i + 1;
            for h in 0..s.n_head {
                let q = &qkv[i * 3 * c + h * d..i * 3 * c + (h + 1) * d];
                let scores = &mut p[..seen];
                for (j, sc) in scores.iter_mut().enumerate() {
                    *sc = if keep[j] == 0.0 { f32::NEG_INFINITY } else { simd::dot(q, &k[j * c + h * d..j * c + (h + 1) * d]) * scale };
                }
                let out = &mut o[i * c + h * d..i * c + (h + 1) * d];
                out.fill(0.0);
                let m = simd::max(scores);
                if m == f32::NEG_INFINITY {
                    continue; // no real key yet (left padding): the row is never read
                }
                let inv = 1.0 / simd::exp_shifted_sum(scores, m);
                for (j, &pj) in scores.iter().enumerate() {
                    if pj != 0.0 {
                        simd::axpy(pj * inv, &v[j * c + h * d..j * c + (h + 1) * d], out);
                    }
                }
            }
        }
    }
}
