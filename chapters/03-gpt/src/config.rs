//! The model's shape, with named presets.

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A GPT's hyperparameters, named as in Hugging Face's GPT-2 `config.json`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GptConfig {
    pub vocab_size: usize,
    /// Longest sequence the model can read (position embeddings).
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_layer: usize,
    pub layer_norm_epsilon: f64,
}

impl GptConfig {
    /// For fast tests: a few seconds of training reach a stated loss.
    pub fn tiny(vocab_size: usize) -> Self {
        GptConfig {
            vocab_size,
            n_positions: 64,
            n_embd: 64,
            n_head: 4,
            n_layer: 2,
            layer_norm_epsilon: 1e-5,
        }
    }

    /// For unit tests: width 32, 2 layers, 4 heads — a model whose forward and backward
    /// passes take milliseconds, with whatever vocabulary and context the test needs.
    pub fn toy(vocab_size: usize, n_positions: usize) -> Self {
        GptConfig {
            vocab_size,
            n_positions,
            n_embd: 32,
            ..Self::tiny(vocab_size)
        }
    }

    /// The CPU pipeline's model: context 128, width 128, 4 layers, 4 heads.
    pub fn small(vocab_size: usize) -> Self {
        GptConfig {
            vocab_size,
            n_positions: 128,
            n_embd: 128,
            n_head: 4,
            n_layer: 4,
            layer_norm_epsilon: 1e-5,
        }
    }

    /// GPT-2 small's width and depth (768 channels, 12 layers, 12 heads: 85M parameters in
    /// the blocks) with the project's vocabulary and a context of 256 tokens: the GPU
    /// pipeline's model.
    pub fn gpt2_body(vocab_size: usize) -> Self {
        GptConfig {
            vocab_size,
            n_positions: 256,
            ..Self::gpt2_small()
        }
    }

    /// GPT-2 small, 124M parameters (the GPU chapter).
    pub fn gpt2_small() -> Self {
        GptConfig {
            vocab_size: 50257,
            n_positions: 1024,
            n_embd: 768,
            n_head: 12,
            n_layer: 12,
            layer_norm_epsilon: 1e-5,
        }
    }

    /// Channels per head.
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.vocab_size > 0 && self.n_positions > 0 && self.n_layer > 0,
            "model config {self:?}: sizes must be positive"
        );
        ensure!(
            self.n_head > 0 && self.n_embd.is_multiple_of(self.n_head),
            "model config: n_embd = {} must be a multiple of n_head = {}",
            self.n_embd,
            self.n_head
        );
        Ok(())
    }

    /// Read the fields above from a Hugging Face `config.json` (other fields are ignored).
    pub fn from_hf_file(path: &Path) -> Result<Self> {
        let text = files::read_string(path, "model config")?;
        let c: GptConfig = serde_json::from_str(&text).with_context(|| {
            format!(
                "model config `{}` is not a GPT-2 config.json",
                path.display()
            )
        })?;
        c.validate()
            .with_context(|| format!("model config `{}`", path.display()))?;
        Ok(c)
    }
}
