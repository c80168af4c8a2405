//! A GPT built from the pieces in [`crate::ops`]: embeddings, `n_layer` residual blocks
//! (layer norm → causal self-attention → residual, layer norm → MLP → residual), a final
//! layer norm and a language-model head tied to the token embedding. Forward keeps what
//! backward needs; backward walks the same steps in reverse.
//!
//! Parameters carry Hugging Face GPT-2's names (`h.0.attn.c_attn.weight`, ...) and
//! layouts (linear weights stored `(in, out)`), so chapter 3 can check that its candle
//! model computes the same thing on the same weights.

use crate::ops::{self, LnCache, Mat, Vector};
use ndarray::{Array3, ArrayViewD, ArrayViewMutD};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Normal;
use world::rand_chacha::ChaCha8Rng;

/// The shape of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    /// Longest sequence (number of position embeddings): `n_positions`, as GPT-2's
    /// `config.json` and chapter 3 name it.
    pub n_positions: usize,
    /// Channels C.
    pub n_embd: usize,
    pub n_head: usize,
    pub n_layer: usize,
}

impl Config {
    /// For gradient checks: every dimension small and different, so a transposed index
    /// cannot hide.
    pub fn check() -> Self {
        Config {
            vocab_size: 11,
            n_positions: 7,
            n_embd: 8,
            n_head: 2,
            n_layer: 2,
        }
    }

    /// The chapter's model: trained for a minute on the world's text, then looked at.
    pub fn small() -> Self {
        Config {
            vocab_size: 512,
            n_positions: 32,
            n_embd: 48,
            n_head: 4,
            n_layer: 2,
        }
    }
}

/// One residual block's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub ln_1_weight: Vector,
    pub ln_1_bias: Vector,
    /// (C, 3C): queries, keys, values.
    pub c_attn_weight: Mat,
    pub c_attn_bias: Vector,
    /// (C, C)
    pub attn_c_proj_weight: Mat,
    pub attn_c_proj_bias: Vector,
    pub ln_2_weight: Vector,
    pub ln_2_bias: Vector,
    /// (C, 4C)
    pub c_fc_weight: Mat,
    pub c_fc_bias: Vector,
    /// (4C, C)
    pub mlp_c_proj_weight: Mat,
    pub mlp_c_proj_bias: Vector,
}

/// All parameters. The gradients have the same type.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub config: Config,
    /// (V, C), also the language-model head.
    pub wte: Mat,
    /// (n_positions, C)
    pub wpe: Mat,
    pub h: Vec<Block>,
    pub ln_f_weight: Vector,
    pub ln_f_bias: Vector,
}

impl Params {
    /// GPT-2's initialisation: weights ~ N(0, 0.02²) (position embeddings 0.01²), the
    /// projections back into the residual stream scaled by 1/√(2 · n_layer) so the
    /// stream's variance does not grow with depth; biases 0, layer-norm gains 1.
    pub fn init(config: Config, rng: &mut ChaCha8Rng) -> Params {
        let (c, v) = (config.n_embd, config.vocab_size);
        assert!(
            c % config.n_head == 0,
            "n_embd must be a multiple of n_head"
        );
        let mut normal = |rows: usize, cols: usize, std: f64| {
            Mat::random_using((rows, cols), Normal::new(0.0, std).unwrap(), rng)
        };
        let proj_std = 0.02 / (2.0 * config.n_layer as f64).sqrt();
        let wte = normal(v, c, 0.02);
        let wpe = normal(config.n_positions, c, 0.01);
        let h = (0..config.n_layer)
            .map(|_| Block {
                ln_1_weight: Vector::ones(c),
                ln_1_bias: Vector::zeros(c),
                c_attn_weight: normal(c, 3 * c, 0.02),
                c_attn_bias: Vector::zeros(3 * c),
                attn_c_proj_weight: normal(c, c, proj_std),
                attn_c_proj_bias: Vector::zeros(c),
                ln_2_weight: Vector::ones(c),
                ln_2_bias: Vector::zeros(c),
                c_fc_weight: normal(c, 4 * c, 0.02),
                c_fc_bias: Vector::zeros(4 * c),
                mlp_c_proj_weight: normal(4 * c, c, proj_std),
                mlp_c_proj_bias: Vector::zeros(c),
            })
            .collect();
        Params {
            config,
            wte,
            wpe,
            h,
            ln_f_weight: Vector::ones(c),
            ln_f_bias: Vector::zeros(c),
        }
    }

    /// Zeros of the same shapes: where gradients are added up.
    pub fn zeros_like(&self) -> Params {
        let mut z = self.clone();
        for (_, mut t) in z.named_mut() {
            t.fill(0.0);
        }
        z
    }

    /// Every parameter with its Hugging Face name (without the `transformer.` prefix).
    pub fn named(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut v = vec![
            ("wte.weight".to_string(), self.wte.view().into_dyn()),
            ("wpe.weight".into(), self.wpe.view().into_dyn()),
        ];
        for (i, b) in self.h.iter().enumerate() {
            for (name, t) in [
                ("ln_1.weight", b.ln_1_weight.view().into_dyn()),
                ("ln_1.bias", b.ln_1_bias.view().into_dyn()),
                ("attn.c_attn.weight", b.c_attn_weight.view().into_dyn()),
                ("attn.c_attn.bias", b.c_attn_bias.view().into_dyn()),
                ("attn.c_proj.weight", b.attn_c_proj_weight.view().into_dyn()),
                ("attn.c_proj.bias", b.attn_c_proj_bias.view().into_dyn()),
                ("ln_2.weight", b.ln_2_weight.view().into_dyn()),
                ("ln_2.bias", b.ln_2_bias.view().into_dyn()),
                ("mlp.c_fc.weight", b.c_fc_weight.view().into_dyn()),
                ("mlp.c_fc.bias", b.c_fc_bias.view().into_dyn()),
                ("mlp.c_proj.weight", b.mlp_c_proj_weight.view().into_dyn()),
                ("mlp.c_proj.bias", b.mlp_c_proj_bias.view().into_dyn()),
            ] {
                v.push((format!("h.{i}.{name}"), t));
            }
        }
        v.push(("ln_f.weight".into(), self.ln_f_weight.view().into_dyn()));
        v.push(("ln_f.bias".into(), self.ln_f_bias.view().into_dyn()));
        v
    }

    /// [`Params::named`], mutable.
    pub fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut v = vec![
            ("wte.weight".to_string(), self.wte.view_mut().into_dyn()),
            ("wpe.weight".into(), self.wpe.view_mut().into_dyn()),
        ];
        for (i, b) in self.h.iter_mut().enumerate() {
            for (name, t) in [
                ("ln_1.weight", b.ln_1_weight.view_mut().into_dyn()),
                ("ln_1.bias", b.ln_1_bias.view_mut().into_dyn()),
                ("attn.c_attn.weight", b.c_attn_weight.view_mut().into_dyn()),
                ("attn.c_attn.bias", b.c_attn_bias.view_mut().into_dyn()),
                (
                    "attn.c_proj.weight",
                    b.attn_c_proj_weight.view_mut().into_dyn(),
                ),
                ("attn.c_proj.bias", b.attn_c_proj_bias.view_mut().into_dyn()),
                ("ln_2.weight", b.ln_2_weight.view_mut().into_dyn()),
                ("ln_2.bias", b.ln_2_bias.view_mut().into_dyn()),
                ("mlp.c_fc.weight", b.c_fc_weight.view_mut().into_dyn()),
                ("mlp.c_fc.bias", b.c_fc_bias.view_mut().into_dyn()),
                (
                    "mlp.c_proj.weight",
                    b.mlp_c_proj_weight.view_mut().into_dyn(),
                ),
                ("mlp.c_proj.bias", b.mlp_c_proj_bias.view_mut().into_dyn()),
            ] {
                v.push((format!("h.{i}.{name}"), t));
            }
        }
        v.push(("ln_f.weight".into(), self.ln_f_weight.view_mut().into_dyn()));
        v.push(("ln_f.bias".into(), self.ln_f_bias.view_mut().into_dyn()));
        v
    }

    /// Number of parameters (the tied head counted once).
    pub fn count(&self) -> usize {
        self.named().iter().map(|(_, t)| t.len()).sum()
    }
}

/// What one block's backward needs from its forward.
#[derive(Clone, Debug)]
pub struct BlockCache {
    pub x: Mat,
    pub ln_1: LnCache,
    pub a: Mat,
    pub qkv: Mat,
    /// Attention weights (n_head, T, T).
    pub att: Array3<f64>,
    pub att_out: Mat,
    pub h: Mat,
    pub ln_2: LnCache,
    pub m: Mat,
    pub fc: Mat,
    pub gelu: Mat,
}

/// What the model's backward needs from its forward.
#[derive(Clone, Debug)]
pub struct Cache {
    pub idx: Vec<usize>,
    pub blocks: Vec<BlockCache>,
    pub ln_f: LnCache,
    pub z: Mat,
}

// ANCHOR: block_forward
/// One residual block: `h = x + attn(ln_1(x))`, `y = h + mlp(ln_2(h))`,
/// with `mlp(m) = gelu(m W_fc + b_fc) W_proj + b_proj`.
pub fn block_forward(b: &Block, x: &Mat, n_head: usize) -> (Mat, BlockCache) {
    let (a, ln_1) = ops::layernorm_forward(x, &b.ln_1_weight, &b.ln_1_bias); // (T, C)
    let qkv = ops::linear_forward(&a, &b.c_attn_weight, &b.c_attn_bias); // (T, 3C)
    let (att_out, att) = ops::attention_forward(&qkv, n_head); // (T, C), (H, T, T)
    let h = x + &ops::linear_forward(&att_out, &b.attn_c_proj_weight, &b.attn_c_proj_bias);
    let (m, ln_2) = ops::layernorm_forward(&h, &b.ln_2_weight, &b.ln_2_bias);
    let fc = ops::linear_forward(&m, &b.c_fc_weight, &b.c_fc_bias); // (T, 4C)
    let gelu = ops::gelu_forward(&fc);
    let y = &h + &ops::linear_forward(&gelu, &b.mlp_c_proj_weight, &b.mlp_c_proj_bias);
    (
        y,
        BlockCache {
            x: x.clone(),
            ln_1,
            a,
            qkv,
            att,
            att_out,
            h,
            ln_2,
            m,
            fc,
            gelu,
        },
    )
}
// ANCHOR_END: block_forward

// ANCHOR: block_backward
/// The block's backward: the same steps in reverse. A residual `y = h + f(h)` sends `dy`
/// both straight to `h` and through `f`, and the two gradients add.
pub fn block_backward(b: &Block, g: &mut Block, c: &BlockCache, dy: &Mat, n_head: usize) -> Mat {
    // y = h + gelu W_proj + b_proj
    let (dgelu, dw, db) = ops::linear_backward(dy, &c.gelu, &b.mlp_c_proj_weight);
    g.mlp_c_proj_weight += &dw;
    g.mlp_c_proj_bias += &db;
    let dfc = ops::gelu_backward(&dgelu, &c.fc);
    let (dm, dw, db) = ops::linear_backward(&dfc, &c.m, &b.c_fc_weight);
    g.c_fc_weight += &dw;
    g.c_fc_bias += &db;
    let (dh_mlp, dg, dbeta) = ops::layernorm_backward(&dm, &b.ln_2_weight, &c.ln_2);
    g.ln_2_weight += &dg;
    g.ln_2_bias += &dbeta;
    let dh = dy + &dh_mlp;
    // h = x + att_out W_proj + b_proj
    let (datt_out, dw, db) = ops::linear_backward(&dh, &c.att_out, &b.attn_c_proj_weight);
    g.attn_c_proj_weight += &dw;
    g.attn_c_proj_bias += &db;
    let dqkv = ops::attention_backward(&datt_out, &c.qkv, &c.att, n_head);
    let (da, dw, db) = ops::linear_backward(&dqkv, &c.a, &b.c_attn_weight);
    g.c_attn_weight += &dw;
    g.c_attn_bias += &db;
    let (dx_attn, dg, dbeta) = ops::layernorm_backward(&da, &b.ln_1_weight, &c.ln_1);
    g.ln_1_weight += &dg;
    g.ln_1_bias += &dbeta;
    &dh + &dx_attn
}
// ANCHOR_END: block_backward

/// Logits `(T, V)` for the token ids `idx`, and the cache for [`backward`].
pub fn forward(p: &Params, idx: &[usize]) -> (Mat, Cache) {
    assert!(
        idx.len() <= p.config.n_positions,
        "sequence of {} tokens is longer than n_positions = {}",
        idx.len(),
        p.config.n_positions
    );
    let mut x = ops::embedding_forward(&p.wte, &p.wpe, idx); // (T, C)
    let mut blocks = Vec::with_capacity(p.h.len());
    for b in &p.h {
        let (y, cache) = block_forward(b, &x, p.config.n_head);
        blocks.push(cache);
        x = y;
    }
    let (z, ln_f) = ops::layernorm_forward(&x, &p.ln_f_weight, &p.ln_f_bias);
    let logits = z.dot(&p.wte.t()); // (T, V): the head is the token embedding, transposed
    (
        logits,
        Cache {
            idx: idx.to_vec(),
            blocks,
            ln_f,
            z,
        },
    )
}

/// Gradients of the loss with respect to every parameter, given `dlogits`.
pub fn backward(p: &Params, cache: &Cache, dlogits: &Mat) -> Params {
    let mut g = p.zeros_like();
    // logits = z wteᵀ: the tied embedding gets a gradient from the head too.
    g.wte += &dlogits.t().dot(&cache.z);
    let dz = dlogits.dot(&p.wte);
    let (mut dx, dg, db) = ops::layernorm_backward(&dz, &p.ln_f_weight, &cache.ln_f);
    g.ln_f_weight += &dg;
    g.ln_f_bias += &db;
    for (l, b) in p.h.iter().enumerate().rev() {
        dx = block_backward(b, &mut g.h[l], &cache.blocks[l], &dx, p.config.n_head);
    }
    ops::embedding_backward(&dx, &cache.idx, &mut g.wte, &mut g.wpe);
    g
}

/// Next-token loss on `idx` (predicting `targets`) and the gradients of every parameter.
pub fn loss_and_grads(p: &Params, idx: &[usize], targets: &[usize]) -> (f64, Params) {
    let (logits, cache) = forward(p, idx);
    let (loss, probs) = ops::cross_entropy_forward(&logits, targets);
    let dlogits = ops::cross_entropy_backward(&probs, targets);
    (loss, backward(p, &cache, &dlogits))
}

/// The loss alone (for finite differences and evaluation).
pub fn loss(p: &Params, idx: &[usize], targets: &[usize]) -> f64 {
    ops::cross_entropy_forward(&forward(p, idx).0, targets).0
}

/// The attention weights of every layer on `idx`: `[layer](head, T, T)`.
pub fn attention_maps(p: &Params, idx: &[usize]) -> Vec<Array3<f64>> {
    forward(p, idx)
        .1
        .blocks
        .into_iter()
        .map(|b| b.att)
        .collect()
}

/// Sum of squares of all gradients, square-rooted: the global gradient norm.
pub fn grad_norm(g: &Params) -> f64 {
    g.named()
        .iter()
        .map(|(_, t)| t.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt()
}
