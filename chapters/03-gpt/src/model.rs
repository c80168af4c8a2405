//! GPT-2 in candle: the same model as chapter 2, on tensors with autograd, batched.
//!
//! Parameters live in a [`Params`] store under Hugging Face GPT-2 names (`wte.weight`,
//! `h.0.attn.c_attn.weight`, ...), so a checkpoint's names document the model. Layer norm
//! and softmax are written from differentiable operations: candle 0.11's fused
//! `layer_norm` and `softmax_last_dim` record no backward pass, which would silently
//! freeze every parameter before them.

use crate::block::{Attention, Block, Conv1D, LayerNorm, Mlp};
use crate::cache::KvCache;
use crate::config::GptConfig;
use anyhow::{Context, Result, ensure};
use candle_core::Module;
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use rand_distr::{Distribution, Normal};
use std::collections::{BTreeMap, HashMap};
use world::rand_chacha::ChaCha8Rng;

/// Named, trainable parameters.
#[derive(Clone, Debug)]
pub struct Params {
    pub vars: BTreeMap<String, Var>,
}

impl Params {
    /// The parameter `name`, as a tensor that records gradients.
    pub fn get(&self, name: &str) -> Result<Tensor> {
        Ok(self
            .vars
            .get(name)
            .with_context(|| format!("no parameter `{name}`"))?
            .as_tensor()
            .clone())
    }

    /// An independent copy: new variables holding the same values. (Cloning `Params`
    /// shares the variables, so training the clone would train the original too.)
    pub fn deep_copy(&self) -> Result<Params> {
        let vars = self
            .vars
            .iter()
            .map(|(n, v)| Ok((n.clone(), Var::from_tensor(&v.as_tensor().copy()?)?)))
            .collect::<Result<_>>()?;
        Ok(Params { vars })
    }

    /// The device the parameters live on (all on one): batches are made there too.
    pub fn device(&self) -> Device {
        self.vars
            .values()
            .next()
            .map_or(Device::Cpu, |v| v.device().clone())
    }

    /// Number of scalars.
    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }
}

/// Every parameter's name and shape for `cfg`, in Hugging Face's layout (Conv1D weights
/// stored `(in, out)`).
pub fn shapes(cfg: &GptConfig) -> Vec<(String, Vec<usize>)> {
    let (c, v) = (cfg.n_embd, cfg.vocab_size);
    let mut s = vec![
        ("wte.weight".to_string(), vec![v, c]),
        ("wpe.weight".into(), vec![cfg.n_positions, c]),
    ];
    for l in 0..cfg.n_layer {
        for (name, shape) in [
            ("ln_1.weight", vec![c]),
            ("ln_1.bias", vec![c]),
            ("attn.c_attn.weight", vec![c, 3 * c]),
            ("attn.c_attn.bias", vec![3 * c]),
            ("attn.c_proj.weight", vec![c, c]),
            ("attn.c_proj.bias", vec![c]),
            ("ln_2.weight", vec![c]),
            ("ln_2.bias", vec![c]),
            ("mlp.c_fc.weight", vec![c, 4 * c]),
            ("mlp.c_fc.bias", vec![4 * c]),
            ("mlp.c_proj.weight", vec![4 * c, c]),
            ("mlp.c_proj.bias", vec![c]),
        ] {
            s.push((format!("h.{l}.{name}"), shape));
        }
    }
    s.push(("ln_f.weight".into(), vec![c]));
    s.push(("ln_f.bias".into(), vec![c]));
    s
}

/// GPT-2's initialisation from a seeded generator (candle cannot seed its own): weights
/// N(0, 0.02²), position embeddings N(0, 0.01²), the two projections back into the
/// residual stream N(0, (0.02/√(2·n_layer))²); biases 0, layer-norm gains 1.
pub fn init(cfg: &GptConfig, rng: &mut ChaCha8Rng, dev: &Device) -> Result<Params> {
    cfg.validate()?;
    let proj_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
    let mut vars = BTreeMap::new();
    for (name, shape) in shapes(cfg) {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if name.ends_with(".bias") {
            vec![0.0; n]
        } else if name.contains("ln_") {
            vec![1.0; n]
        } else {
            let std = if name == "wpe.weight" {
                0.01
            } else if name.ends_with("c_proj.weight") {
                proj_std
            } else {
                0.02
            };
            let normal = Normal::new(0.0f32, std as f32).unwrap();
            (0..n).map(|_| normal.sample(rng)).collect()
        };
        vars.insert(
            name,
            Var::from_tensor(&Tensor::from_vec(values, shape, dev)?)?,
        );
    }
    Ok(Params { vars })
}

/// Make parameters from named tensors (e.g. a checkpoint's): see [`from_var_builder`].
pub fn from_tensors(
    cfg: &GptConfig,
    tensors: &BTreeMap<String, Tensor>,
    dev: &Device,
) -> Result<Params> {
    let map: HashMap<String, Tensor> = tensors.clone().into_iter().collect();
    from_var_builder(cfg, &VarBuilder::from_tensors(map, DType::F32, dev))
}

/// Make parameters from what a candle-nn `VarBuilder` holds (a safetensors file, a map of
/// tensors), as f32 on its device: names with or without the `transformer.` prefix;
/// attention-mask buffers (`attn.bias`, `attn.masked_bias`) and a tied `lm_head.weight`
/// are ignored; every shape is checked.
pub fn from_var_builder(cfg: &GptConfig, vb: &VarBuilder) -> Result<Params> {
    cfg.validate()?;
    let prefix = if vb.contains_tensor("transformer.wte.weight") {
        "transformer."
    } else {
        ""
    };
    let vb = match prefix {
        "" => vb.clone(),
        _ => vb.pp("transformer"),
    };
    let mut vars = BTreeMap::new();
    for (name, shape) in shapes(cfg) {
        let key = format!("{prefix}{name}");
        ensure!(vb.contains_tensor(&name), "missing tensor `{key}`");
        let t = vb.get_unchecked(&name)?;
        ensure!(
            t.dims() == shape.as_slice(),
            "tensor `{key}` has shape {:?}, expected {shape:?} for this config",
            t.dims()
        );
        vars.insert(name, Var::from_tensor(&t)?);
    }
    Ok(Params { vars })
}

/// Layer norm over the last dimension: `(x − μ)/sqrt(σ² + ε) ⊙ γ + β`. On CPU it is one
/// fused operation with its own backward ([`crate::fused_norm::LayerNorm`]); elsewhere it is
/// composed from differentiable operations.
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    if !fusable(x) {
        return layer_norm_composed(x, gamma, beta, eps);
    }
    Ok(x.contiguous()?.apply_op3(
        gamma,
        beta,
        crate::fused_norm::LayerNorm { eps: eps as f32 },
    )?)
}

/// Layer norm from differentiable operations (candle 0.11's fused `layer_norm` records no
/// backward, so it cannot be used for training).
pub fn layer_norm_composed(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    Ok(xc
        .broadcast_div(&(var + eps)?.sqrt()?)?
        .broadcast_mul(gamma)?
        .broadcast_add(beta)?)
}

/// Softmax over the last dimension (fused on CPU).
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    if !fusable(x) {
        return softmax_composed(x);
    }
    Ok(x.contiguous()?.apply_op1(crate::fused::Softmax)?)
}

/// Softmax from differentiable operations. The maximum is subtracted (and detached: it
/// changes nothing mathematically) so `exp` cannot overflow.
pub fn softmax_composed(x: &Tensor) -> Result<Tensor> {
    let e = x
        .broadcast_sub(&x.max_keepdim(D::Minus1)?.detach())?
        .exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

/// GPT-2's GELU, the tanh approximation (fused on CPU).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if !fusable(x) {
        return gelu_composed(x);
    }
    Ok(x.contiguous()?.apply_op1(crate::fused::Gelu)?)
}

/// GELU from differentiable operations: `½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
pub fn gelu_composed(x: &Tensor) -> Result<Tensor> {
    let inner = ((x + (x.powf(3.0)? * 0.044715)?)? * (2.0 / std::f64::consts::PI).sqrt())?;
    Ok((x * 0.5)?.mul(&(inner.tanh()? + 1.0)?)?)
}

/// The fused kernels run on f32 CPU tensors.
fn fusable(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// `x W + b` for x of shape (B, T, in) and W stored (in, out): one fused operation on CPU
/// ([`crate::fused_linear::Linear`]), elsewhere [`conv1d_composed`].
pub fn conv1d(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !fusable(x) {
        return conv1d_composed(x, w, b);
    }
    Ok(x.contiguous()?
        .apply_op3(w, b, crate::fused_linear::Linear)?)
}

/// [`conv1d`] as one 2-D matmul and a broadcast add (a broadcast batched matmul is much
/// slower on CPU).
pub fn conv1d_composed(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (bsz, t, c) = x.dims3()?;
    let out = w.dim(1)?;
    Ok(x.reshape((bsz * t, c))?
        .matmul(w)?
        .broadcast_add(b)?
        .reshape((bsz, t, out))?)
}

/// The additive causal mask for `t` new positions after `past` cached ones: (t, past + t),
/// 0 where query i may see key j (j ≤ past + i), −∞ elsewhere.
pub fn causal_mask(t: usize, past: usize, dev: &Device) -> Result<Tensor> {
    let s = past + t;
    let m: Vec<f32> = (0..t * s)
        .map(|k| {
            if k % s > past + k / s {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::from_vec(m, (t, s), dev)?)
}

/// A large negative number for masked scores. Not −∞: a padding query whose every key is
/// masked would get 0/0 = NaN, and NaN survives multiplication by a zero loss weight.
pub const MASKED: f32 = -1e9;

/// The position ids (B, T) of the `t` newest tokens of a padded batch (see
/// [`padded_positions_and_mask`]).
pub fn padded_positions(
    attention_mask: &Tensor,
    b: usize,
    t: usize,
    past: usize,
) -> Result<Tensor> {
    let s = past + t;
    ensure!(
        attention_mask.dims() == [b, s],
        "attention mask has shape {:?}, expected (batch {b}, cached + new tokens {s})",
        attention_mask.dims()
    );
    let rows: Vec<Vec<u32>> = attention_mask.to_dtype(DType::U32)?.to_vec2()?;
    let mut positions = Vec::with_capacity(b * t);
    for row in &rows {
        let mut seen = 0u32; // real tokens so far
        for (j, &m) in row.iter().enumerate() {
            seen += m.min(1);
            if j >= past {
                positions.push(seen.saturating_sub(1));
            }
        }
    }
    Ok(Tensor::from_vec(
        positions,
        (b, t),
        attention_mask.device(),
    )?)
}

// ANCHOR: padding
/// For a padded batch: position ids (B, T) of the `t` newest tokens, counting only real
/// tokens (`Σ mask − 1`; padding's position is never read), and the additive attention
/// mask (B, 1, T, S): query i sees key j when j is real and not in the future (j ≤ past + i).
pub fn padded_positions_and_mask(
    attention_mask: &Tensor,
    b: usize,
    t: usize,
    past: usize,
) -> Result<(Tensor, Tensor)> {
    let s = past + t;
    ensure!(
        attention_mask.dims() == [b, s],
        "attention mask has shape {:?}, expected (batch {b}, cached + new tokens {s})",
        attention_mask.dims()
    );
    let rows: Vec<Vec<u32>> = attention_mask.to_dtype(DType::U32)?.to_vec2()?;
    let (mut positions, mut mask) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t * s));
    for row in &rows {
        let mut seen = 0u32; // real tokens so far
        for (j, &m) in row.iter().enumerate() {
            seen += m.min(1);
            if j >= past {
                positions.push(seen.saturating_sub(1));
            }
        }
        for i in 0..t {
            mask.extend(
                row.iter()
                    .enumerate()
                    .map(|(j, &m)| if m == 0 || j > past + i { MASKED } else { 0.0 }),
            );
        }
    }
    let dev = attention_mask.device();
    Ok((
        Tensor::from_vec(positions, (b, t), dev)?,
        Tensor::from_vec(mask, (b, 1, t, s), dev)?,
    ))
}
// ANCHOR_END: padding

/// `log softmax(logits)[target]` at every position: (B, T, V) and (B, T) → (B, T).
/// `log p_i = z_i − max z − log Σ_j exp(z_j − max z)`; differentiable. One fused operation
/// on CPU ([`crate::fused_loss::TokenLogProbs`]), elsewhere [`token_log_probs_composed`].
pub fn token_log_probs(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if !fusable(logits) {
        return token_log_probs_composed(logits, targets);
    }
    let targets = targets.to_dtype(DType::U32)?.contiguous()?;
    Ok(logits
        .contiguous()?
        .apply_op2(&targets, crate::fused_loss::TokenLogProbs)?)
}

/// [`token_log_probs`] from differentiable operations.
pub fn token_log_probs_composed(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (b, t, v) = logits.dims3()?;
    let logits = logits.reshape((b * t, v))?;
    let shifted = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?.detach())?;
    let log_probs = shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)?;
    Ok(log_probs
        .gather(&targets.reshape((b * t, 1))?, 1)?
        .reshape((b, t))?)
}

/// The GPT: parameters and configuration.
///
/// Cloning a `Gpt` is cheap and **shares its weights**: candle's `Var`s are handles to one
/// buffer, so training a clone trains the original. [`Gpt::deep_copy`] makes an independent
/// model (PPO's policy, trained while the SFT model it starts from stays the frozen
/// reference; a reward model initialised from the SFT model).
#[derive(Clone, Debug)]
pub struct Gpt {
    pub cfg: GptConfig,
    pub params: Params,
    /// The type the matrix products run in: `F32` (the default), or `BF16` for mixed
    /// precision on a GPU — the parameters (the "master weights") stay f32 and are cast
    /// at each use, so gradients and the optimiser stay f32; layer norms, softmax and the
    /// logits are computed in f32.
    pub dtype: DType,
    /// Use the fused CPU kernels (the default; they run only on f32 CPU tensors). `false`
    /// composes every operation from candle's differentiable ones — the reference the
    /// kernels are tested against, and the path every other device takes.
    pub fused: bool,
}

impl Gpt {
    pub fn new(cfg: GptConfig, params: Params) -> Gpt {
        Gpt {
            cfg,
            params,
            dtype: DType::F32,
            fused: true,
        }
    }

    /// A freshly initialised model, drawn from stream 0 of `world::rng(seed, ..)`: the
    /// same weights that pretraining with `TrainConfig::seed = seed` starts from.
    pub fn seeded(cfg: GptConfig, seed: u64, dev: &Device) -> Result<Gpt> {
        Ok(Gpt::new(cfg, init(&cfg, &mut world::rng(seed, 0), dev)?))
    }

    /// The same model with the fused CPU kernels on or off (see [`Gpt::fused`]).
    pub fn with_fused(mut self, fused: bool) -> Gpt {
        self.fused = fused;
        self
    }

    /// The same model computing in `dtype` (`F32` or `BF16`; see [`Gpt::dtype`]).
    pub fn with_dtype(mut self, dtype: DType) -> Result<Gpt> {
        ensure!(
            matches!(dtype, DType::F32 | DType::BF16),
            "compute dtype {dtype:?}: expected f32 or bf16"
        );
        self.dtype = dtype;
        Ok(self)
    }

    /// The device the model lives on.
    pub fn device(&self) -> Device {
        self.params.device()
    }

    /// An independent copy of the model (see [`Params::deep_copy`]).
    pub fn deep_copy(&self) -> Result<Gpt> {
        Ok(Gpt {
            cfg: self.cfg,
            params: self.params.deep_copy()?,
            dtype: self.dtype,
            fused: self.fused,
        })
    }

    /// Logits (B, T, V) for token ids `idx` (B, T). With a cache, `idx` continues the
    /// cached sequence and the cache is extended.
    pub fn forward(&self, idx: &Tensor, cache: Option<&mut KvCache>) -> Result<Tensor> {
        self.head(&self.trunk(idx, None, cache)?)
    }

    /// Logits (B, T, V) for a padded batch. `attention_mask` (B, past + T) holds 1 for real
    /// tokens and 0 for padding, on either side, over the cached and the new positions
    /// (Hugging Face's convention). Each real token gets position `number of real tokens
    /// before it`, and no query attends to a padding key, so every sequence gets exactly
    /// the logits it would get alone. Rows at padding positions are meaningless.
    pub fn forward_padded(
        &self,
        idx: &Tensor,
        attention_mask: &Tensor,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        self.head(&self.trunk(idx, Some(attention_mask), cache)?)
    }

    /// The final hidden states (B, T, C), after `ln_f`: what the language-model head reads,
    /// and what a reward or value head reads in later chapters.
    pub fn hidden(
        &self,
        idx: &Tensor,
        attention_mask: Option<&Tensor>,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        Ok(self
            .trunk(idx, attention_mask, cache)?
            .to_dtype(DType::F32)?)
    }

    /// [`Gpt::hidden`] in the compute type.
    fn trunk(
        &self,
        idx: &Tensor,
        attention_mask: Option<&Tensor>,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let (b, t) = idx.dims2()?;
        let c = self.cfg.n_embd;
        let past = cache.as_ref().map_or(0, |k| k.len());
        ensure!(
            past + t <= self.cfg.n_positions,
            "sequence of {} tokens is longer than the model's context of {}",
            past + t,
            self.cfg.n_positions
        );
        let dev = idx.device();
        let p = |name: &str| self.params.get(name);
        let tok = candle_nn::Embedding::new(p("wte.weight")?, c).forward(idx)?; // (B, T, C)
        let pos = match attention_mask {
            None => p("wpe.weight")?
                .index_select(&Tensor::arange(past as u32, (past + t) as u32, dev)?, 0)?, // (T, C)
            Some(m) => {
                let positions = padded_positions(m, b, t, past)?;
                p("wpe.weight")?
                    .index_select(&positions.flatten_all()?, 0)?
                    .reshape((b, t, c))? // (B, T, C)
            }
        };
        let mut x = tok.broadcast_add(&pos)?.to_dtype(self.dtype)?; // (B, T, C)
        if self.fuses(&x) {
            // Which keys are real (B, past + T): all the fused kernels need to know.
            let keep = match attention_mask {
                Some(m) => m.to_dtype(DType::F32)?,
                None => Tensor::ones((b, past + t), DType::F32, dev)?,
            };
            match cache {
                None => {
                    for l in 0..self.cfg.n_layer {
                        x = self.fused_block(&x, l, &keep)?; // each block as one operation
                    }
                    return self.norm(&x, &LayerNorm::of(&self.params, "ln_f")?);
                }
                Some(ref mut k) if k.holds_rows() => return self.decode_fused(x, &keep, k),
                Some(_) => {} // a cache of tensors: the composed attention below, with fused layers
            }
        }
        // The composed attention's additive mask over every query and key: (T, S) or (B, 1, T, S).
        let mask = match attention_mask {
            None => causal_mask(t, past, dev)?,
            Some(m) => padded_positions_and_mask(m, b, t, past)?.1,
        };
        let mask = mask.to_dtype(self.dtype)?;
        // ANCHOR: blocks
        for l in 0..self.cfg.n_layer {
            let block = Block::of(&self.params, l, self.dtype)?;
            let layer_cache = match cache.as_deref_mut() {
                Some(k) => Some(k.layer(l)?),
                None => None,
            };
            // x + attn(ln_1(x)), then x + mlp(ln_2(x)): each sublayer adds to the
            // residual stream x.
            let h = self.norm(&x, &block.ln_1)?;
            x = (x + self.attention(&h, &block.attn, &mask, layer_cache)?)?;
            let h = self.norm(&x, &block.ln_2)?;
            x = (x + self.mlp(&h, &block.mlp)?)?;
        }
        // ANCHOR_END: blocks
        if let Some(k) = cache {
            k.advance(t);
        }
        self.norm(&x, &LayerNorm::of(&self.params, "ln_f")?)
    }

    /// Whether generation can take the fused decoding path ([`crate::fused_decode`]).
    pub fn decodes_fused(&self) -> bool {
        self.fused && self.dtype == DType::F32 && self.device().is_cpu()
    }

    /// The fused forward over a cache of plain rows: x (B, T, C) → the final hidden states.
    fn decode_fused(&self, x: Tensor, keep: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let past = cache.len();
        let step = crate::fused_decode::Step {
            b,
            t,
            past,
            capacity: cache.capacity(),
            c,
            n_head: self.cfg.n_head,
            eps: self.cfg.layer_norm_epsilon as f32,
        };
        ensure!(
            past + t <= step.capacity,
            "KV cache full: {past} + {t} positions > {}",
            step.capacity
        );
        let mut xs = x.flatten_all()?.to_vec1::<f32>()?;
        let keep = keep.flatten_all()?.to_vec1::<f32>()?;
        let rows = cache
            .rows_mut()
            .context("decode_fused needs a cache of rows")?;
        for (l, rows) in rows.iter_mut().enumerate() {
            let tensors = crate::fused_block::BLOCK_PARAMS
                .iter()
                .map(|n| self.params.get(&format!("h.{l}.{n}")))
                .collect::<Result<Vec<_>>>()?;
            let guards: Vec<_> = tensors.iter().map(|t| t.storage_and_layout()).collect();
            let mut slices: Vec<&[f32]> = Vec::with_capacity(12);
            for (st, layout) in &guards {
                let candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)) = &**st else {
                    anyhow::bail!("fused decoding needs f32 CPU parameters");
                };
                let (from, to) = layout
                    .contiguous_offsets()
                    .context("fused decoding needs contiguous parameters")?;
                slices.push(&v[from..to]);
            }
            let w: [&[f32]; 12] = slices
                .try_into()
                .map_err(|_| anyhow::anyhow!("a block has 12 parameters"))?;
            crate::fused_decode::decode_layer(&mut xs, w, rows, &keep, step);
        }
        cache.advance(t);
        let x = Tensor::from_vec(xs, (b, t, c), &self.device())?;
        self.norm(&x, &LayerNorm::of(&self.params, "ln_f")?)
    }

    /// Block `l` as one fused operation ([`crate::fused_block`]) on x (B, T, C) with the
    /// real-token mask `keep` (B, T).
    fn fused_block(&self, x: &Tensor, l: usize, keep: &Tensor) -> Result<Tensor> {
        let parts = crate::fused_block::BLOCK_PARAMS
            .iter()
            .map(|n| Ok(self.params.get(&format!("h.{l}.{n}"))?.flatten_all()?))
            .collect::<Result<Vec<_>>>()?;
        let packed = Tensor::cat(&parts, 0)?;
        let op = crate::fused_block::Block::new(self.cfg.n_head, self.cfg.layer_norm_epsilon);
        Ok(x.contiguous()?.apply_op3(&packed, keep, op)?)
    }

    /// Whether `x` goes through the fused kernels: asked for, and an f32 CPU tensor.
    fn fuses(&self, x: &Tensor) -> bool {
        self.fused && fusable(x) && self.dtype == DType::F32
    }

    /// Layer norm in f32 whatever the compute type, returned in the compute type.
    fn norm(&self, x: &Tensor, ln: &LayerNorm) -> Result<Tensor> {
        let (gamma, beta, eps) = (&ln.weight, &ln.bias, self.cfg.layer_norm_epsilon);
        if self.fuses(x) {
            return layer_norm(x, gamma, beta, eps);
        }
        if self.dtype == DType::F32 {
            return layer_norm_composed(x, gamma, beta, eps);
        }
        Ok(
            layer_norm_composed(&x.to_dtype(DType::F32)?, gamma, beta, eps)?
                .to_dtype(self.dtype)?,
        )
    }

    /// `x W + b` (see [`conv1d`]).
    fn linear(&self, x: &Tensor, layer: &Conv1D) -> Result<Tensor> {
        let (w, b) = (&layer.weight, &layer.bias);
        if self.fuses(x) {
            conv1d(x, w, b)
        } else {
            conv1d_composed(x, w, b)
        }
    }

    /// The feed-forward network: `c_proj(gelu(c_fc(x)))`, (B, T, C) → (B, T, C).
    fn mlp(&self, x: &Tensor, mlp: &Mlp) -> Result<Tensor> {
        let h = self.gelu(&self.linear(x, &mlp.c_fc)?)?; // (B, T, 4C)
        self.linear(&h, &mlp.c_proj)
    }

    fn gelu(&self, x: &Tensor) -> Result<Tensor> {
        if self.fuses(x) {
            gelu(x)
        } else {
            gelu_composed(x)
        }
    }

    /// The language-model head: hidden states (B, T, C) → logits (B, T, V), always f32. The
    /// head is the token embedding, transposed (weight tying).
    pub fn head(&self, z: &Tensor) -> Result<Tensor> {
        if self.fuses(z) {
            return Ok(z.contiguous()?.apply_op2(
                &self.params.get("wte.weight")?,
                crate::fused_linear::TiedHead,
            )?);
        }
        let (b, t, c) = z.dims3()?;
        let wte = self.params.get("wte.weight")?.to_dtype(z.dtype())?;
        let logits =
            z.reshape((b * t, c))?
                .matmul(&wte.t()?)?
                .reshape((b, t, self.cfg.vocab_size))?;
        Ok(logits.to_dtype(DType::F32)?)
    }

    // ANCHOR: attention
    /// Causal self-attention of all heads as batched matmuls, then the output projection
    /// `c_proj`: (B, T, C) → (B, T, C), with `mask` additive, (T, S) or (B, 1, T, S). (The
    /// fused model runs [`crate::fused_attention`] inside its fused blocks instead.)
    fn attention(
        &self,
        a: &Tensor,
        attn: &Attention,
        mask: &Tensor,
        cache: Option<crate::cache::LayerCache<'_>>,
    ) -> Result<Tensor> {
        let (b, t, c) = a.dims3()?;
        let (h, d) = (self.cfg.n_head, self.cfg.head_size());
        let qkv = self.linear(a, &attn.c_attn)?; // (B, T, 3C)
        let heads = |i: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(2, i * c, c)?
                .reshape((b, t, h, d))?
                .transpose(1, 2)?
                .contiguous()?) // (B, H, T, D)
        };
        let (q, mut k, mut v) = (heads(0)?, heads(1)?, heads(2)?);
        if let Some(lc) = cache {
            (k, v) = lc.append(&k, &v)?; // (B, H, past + T, D)
        }
        // Scaling q (B, H, T, D) by 1/√D is cheaper than scaling the scores (B, H, T, S).
        let q = (q * (1.0 / (d as f64).sqrt()))?;
        let scores = q.matmul(&k.t()?.contiguous()?)?.broadcast_add(mask)?; // (B, H, T, S)
        let probs = if self.dtype != DType::F32 {
            softmax(&scores.to_dtype(DType::F32)?)?.to_dtype(self.dtype)?
        } else if self.fuses(&scores) {
            softmax(&scores)?
        } else {
            softmax_composed(&scores)?
        };
        let out = probs.matmul(&v)?; // (B, H, T, D)
        self.linear(&out.transpose(1, 2)?.reshape((b, t, c))?, &attn.c_proj)
    }
    // ANCHOR_END: attention

    /// Mean next-token cross-entropy of `logits` (B, T, V) against `targets` (B, T).
    pub fn loss(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        Ok((token_log_probs(logits, targets)?.mean_all()? * -1.0)?)
    }
}
