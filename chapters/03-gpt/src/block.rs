//! A transformer block's parameters as a typed struct, built from the parameter store by
//! their Hugging Face names, so that the forward pass reads like the model:
//! `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.

use crate::model::Params;
use anyhow::Result;
use candle_core::{DType, Tensor};

/// A layer norm's gain γ (`weight`) and shift β (`bias`), (C) each; always f32.
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
}

/// GPT-2's `Conv1D`, a linear layer `x W + b` whose `weight` is stored (in, out).
pub struct Conv1D {
    pub weight: Tensor,
    pub bias: Tensor,
}

/// Causal self-attention: `c_attn` (C → 3C) makes queries, keys and values; `c_proj`
/// (C → C) mixes the heads' outputs.
pub struct Attention {
    pub c_attn: Conv1D,
    pub c_proj: Conv1D,
}

/// The feed-forward network: `c_fc` (C → 4C), GELU, `c_proj` (4C → C).
pub struct Mlp {
    pub c_fc: Conv1D,
    pub c_proj: Conv1D,
}

// ANCHOR: block
/// Block `h.{l}`: its fields are named as in a Hugging Face GPT-2 checkpoint.
pub struct Block {
    pub ln_1: LayerNorm,
    pub attn: Attention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
}
// ANCHOR_END: block

impl LayerNorm {
    /// `{prefix}.weight` and `{prefix}.bias`, e.g. `ln_f`.
    pub fn of(params: &Params, prefix: &str) -> Result<Self> {
        Ok(LayerNorm {
            weight: params.get(&format!("{prefix}.weight"))?,
            bias: params.get(&format!("{prefix}.bias"))?,
        })
    }
}

// ANCHOR: block_of
impl Conv1D {
    /// `{prefix}.weight` and `{prefix}.bias`, cast to `dtype`, the type the
    /// matrix products run in (a no-op in f32).
    fn of(params: &Params, prefix: &str, dtype: DType) -> Result<Self> {
        let get = |n: &str| -> Result<Tensor> {
            Ok(params.get(&format!("{prefix}.{n}"))?.to_dtype(dtype)?)
        };
        Ok(Conv1D {
            weight: get("weight")?,
            bias: get("bias")?,
        })
    }
}

impl Block {
    /// Block `l` of `params`, its linear layers in the compute type `dtype`
    /// (the layer norms stay f32).
    pub fn of(params: &Params, l: usize, dtype: DType) -> Result<Self> {
        let name = |n: &str| format!("h.{l}.{n}");
        let linear = |n: &str| Conv1D::of(params, &name(n), dtype);
        Ok(Block {
            ln_1: LayerNorm::of(params, &name("ln_1"))?,
            attn: Attention {
                c_attn: linear("attn.c_attn")?,
                c_proj: linear("attn.c_proj")?,
            },
            ln_2: LayerNorm::of(params, &name("ln_2"))?,
            mlp: Mlp {
                c_fc: linear("mlp.c_fc")?,
                c_proj: linear("mlp.c_proj")?,
            },
        })
    }
}
// ANCHOR_END: block_of
