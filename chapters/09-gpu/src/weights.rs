//! Hugging Face GPT-2 directories, in and out.
//!
//! A GPT-2 directory holds `config.json`, `model.safetensors` and (for a whole model)
//! `tokenizer.json`. Its weights come in two layouts:
//!
//! - **prefixed** — `transformer.h.0.attn.c_attn.weight`, …, as `GPT2LMHeadModel`
//!   saves them today (and as `rlhf export` writes them);
//! - **unprefixed** — `h.0.attn.c_attn.weight`, …, as in the original
//!   `openai-community/gpt2` checkpoint, with the causal-mask buffers `h.N.attn.bias` stored
//!   beside the weights.
//!
//! Either way the linear layers are GPT-2's `Conv1D`: weights stored `(in, out)`, used as
//! `x W` — not `(out, in)` as `nn.Linear`. The language-model head has no tensor of its
//! own: it is `wte`, transposed. [`ch03_gpt::load_hf`] reads both layouts and ignores the
//! buffers; [`save`] writes either.

use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use ch03_gpt::Gpt;
use std::collections::HashMap;
use std::path::Path;

/// Names with or without `transformer.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Prefixed,
    Unprefixed,
}

/// Write `gpt` as a GPT-2 directory (`config.json`, `model.safetensors`) in `layout`. The
/// unprefixed layout also stores the causal-mask buffers, as the original checkpoint does.
pub fn save(gpt: &Gpt, dir: &Path, layout: Layout) -> Result<()> {
    ch03_gpt::train::save_model(gpt, dir)?; // config.json and the prefixed weights
    if layout == Layout::Prefixed {
        return Ok(());
    }
    let n = gpt.cfg.n_positions;
    let dev = gpt.device();
    let mask = Tensor::tril2(n, DType::F32, &dev)?.reshape((1, 1, n, n))?; // (1, 1, T, T)
    let mut tensors: HashMap<String, Tensor> = gpt
        .params
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    for l in 0..gpt.cfg.n_layer {
        tensors.insert(format!("h.{l}.attn.bias"), mask.clone());
    }
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// The layout of the weights in a GPT-2 directory.
pub fn layout(dir: &Path) -> Result<Layout> {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read weights `{}`", path.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .with_context(|| format!("`{}` is not a safetensors file", path.display()))?;
    let prefixed = meta.tensors().keys().any(|k| k.starts_with("transformer."));
    Ok(if prefixed {
        Layout::Prefixed
    } else {
        Layout::Unprefixed
    })
}

/// The largest absolute difference between two models' logits on the same tokens (B, T).
pub fn max_logit_difference(a: &Gpt, b: &Gpt, ids: &Tensor) -> Result<f32> {
    let (la, lb) = (a.forward(ids, None)?, b.forward(ids, None)?);
    Ok((la - lb)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?)
}
