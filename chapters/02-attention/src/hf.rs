//! Loading GPT-2 weights saved by Hugging Face `transformers` into the hand-written model,
//! so that its forward can be checked against the reference implementation.
//!
//! A Hugging Face GPT-2 directory holds `config.json` and `model.safetensors`. Names come
//! with a `transformer.` prefix (`GPT2LMHeadModel`) or without it (the original checkpoint);
//! `attn.bias` / `attn.masked_bias` are causal-mask buffers, not parameters, and are
//! ignored; linear weights are GPT-2 `Conv1D`s, stored `(in, out)` — our layout already.

use crate::model::{Config, Params};
use anyhow::{Context, Result, bail, ensure};
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// The fields of a Hugging Face GPT-2 `config.json` the model needs.
pub fn read_config(path: &Path) -> Result<Config> {
    let text = files::read_string(path, "model config")?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("model config `{}` is not JSON", path.display()))?;
    let field = |name: &str| -> Result<usize> {
        v[name]
            .as_u64()
            .map(|x| x as usize)
            .with_context(|| format!("model config `{}` has no integer `{name}`", path.display()))
    };
    Ok(Config {
        vocab_size: field("vocab_size")?,
        n_positions: field("n_positions")?,
        n_embd: field("n_embd")?,
        n_head: field("n_head")?,
        n_layer: field("n_layer")?,
    })
}

/// Load `dir/config.json` and `dir/model.safetensors` into [`Params`] (f32 or f64 weights).
pub fn load(dir: &Path) -> Result<Params> {
    let config = read_config(&dir.join("config.json"))?;
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read weights `{}`", path.display()))?;
    from_safetensors(&bytes, config).with_context(|| format!("weights `{}`", path.display()))
}

/// Fill a model of shape `config` from safetensors bytes, checking every shape.
pub fn from_safetensors(bytes: &[u8], config: Config) -> Result<Params> {
    let st = SafeTensors::deserialize(bytes).context("not a safetensors file")?;
    let names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    let prefix = if names.iter().any(|n| n.starts_with("transformer.")) {
        "transformer."
    } else {
        ""
    };
    let mut p = Params::init(config, &mut world::rng(0, 0));
    for (name, mut dst) in p.named_mut() {
        let key = format!("{prefix}{name}");
        let t = st
            .tensor(&key)
            .with_context(|| format!("missing tensor `{key}`"))?;
        ensure!(
            t.shape() == dst.shape(),
            "tensor `{key}` has shape {:?}, expected {:?} for this config",
            t.shape(),
            dst.shape()
        );
        let values: Vec<f64> = match t.dtype() {
            Dtype::F32 => t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                .collect(),
            Dtype::F64 => t
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            other => bail!("tensor `{key}` is {other:?}, expected F32 or F64"),
        };
        dst.iter_mut().zip(values).for_each(|(d, v)| *d = v);
    }
    Ok(p)
}
