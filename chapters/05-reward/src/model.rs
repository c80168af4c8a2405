//! The reward model: the SFT transformer with a scalar head, read at the last real token.
//!
//! Hugging Face's `GPT2ForSequenceClassification` with one label: the transformer's final
//! hidden state at the last non-padding token, times `score.weight` (1, C), no bias.

use anyhow::{Context, Result, ensure};
use candle_core::{DType, Device, Tensor, Var};
use ch03_gpt::{Gpt, Params};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Gain and bias applied to raw scores so that the SFT policy's samples score mean 0,
/// standard deviation 1: `r = gain · raw + bias`. Recorded with the checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub gain: f64,
    pub bias: f64,
}

impl Normalisation {
    pub const IDENTITY: Normalisation = Normalisation { gain: 1.0, bias: 0.0 };

    /// The gain and bias that map `raw` to mean 0 and standard deviation 1.
    pub fn fit(raw: &[f64]) -> Result<Normalisation> {
        ensure!(raw.len() >= 2, "need at least two scores to normalise");
        let n = raw.len() as f64;
        let mean = raw.iter().sum::<f64>() / n;
        let std = (raw.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        ensure!(std > 1e-9, "all {} scores are equal ({mean}): cannot normalise", raw.len());
        Ok(Normalisation { gain: 1.0 / std, bias: -mean / std })
    }

    pub fn apply(&self, raw: f64) -> f64 {
        self.gain * raw + self.bias
    }
}

/// A transformer and its scalar head.
pub struct RewardModel {
    pub gpt: Gpt,
    /// `score.weight`, (1, C).
    pub score: Var,
    pub norm: Normalisation,
}

// ANCHOR: last_token_index
/// For each row of an attention mask (1 real, 0 padding, on either side), the index of
/// its last real token — where the reward is read.
pub fn last_token_index(attention_mask: &[Vec<u32>]) -> Result<Vec<usize>> {
    attention_mask
        .iter()
        .enumerate()
        .map(|(row, m)| m.iter().rposition(|&x| x != 0).with_context(|| format!("row {row} of the batch has no real token")))
        .collect()
}
// ANCHOR_END: last_token_index

impl RewardModel {
    /// A reward model from the SFT model: an independent copy of its transformer (the
    /// language-model head is dropped: it is the token embedding, which stays) and a new
    /// head, N(0, 1/C) from a seeded generator.
    pub fn from_sft(sft: &Gpt, seed: u64) -> Result<RewardModel> {
        let gpt = sft.deep_copy()?;
        let c = gpt.cfg.n_embd;
        let mut rng = world::rng(seed, 31);
        let normal = Normal::new(0.0f32, 1.0 / (c as f32).sqrt()).unwrap();
        let w: Vec<f32> = (0..c).map(|_| normal.sample(&mut rng)).collect();
        let dev = gpt.params.get("wte.weight")?.device().clone();
        Ok(RewardModel { gpt, score: Var::from_tensor(&Tensor::from_vec(w, (1, c), &dev)?)?, norm: Normalisation::IDENTITY })
    }

    // ANCHOR: raw_scores
    /// Raw scores (B,) of a padded batch: ids and attention mask (B, T).
    pub fn raw_scores(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let c = self.gpt.cfg.n_embd;
        let hidden = self.gpt.hidden(ids, Some(attention_mask), None)?; // (B, T, C)
        let last = last_token_index(&attention_mask.to_dtype(DType::U32)?.to_vec2()?)?;
        let rows: Vec<u32> = last.iter().enumerate().map(|(i, &j)| (i * t + j) as u32).collect();
        let picked = hidden.reshape((b * t, c))?.index_select(&Tensor::new(rows, ids.device())?, 0)?; // (B, C)
        Ok(picked.matmul(&self.score.as_tensor().t()?)?.squeeze(1)?) // (B,)
    }
    // ANCHOR_END: raw_scores

    /// Every trainable variable, the transformer's and the head's, sharing their storage
    /// with the model (what the optimiser updates).
    pub fn params(&self) -> Params {
        let mut vars = self.gpt.params.vars.clone();
        vars.insert("score.weight".into(), self.score.clone());
        Params { vars }
    }

    /// Write a Hugging Face `GPT2ForSequenceClassification` directory: `config.json`,
    /// `model.safetensors` (`transformer.*` and `score.weight`), and `reward.json` with the
    /// normalisation. Files are written to temporary names and renamed.
    pub fn save(&self, dir: &Path) -> Result<()> {
        ch03_gpt::train::save_model(&self.gpt, dir)?;
        let cfg_path = dir.join("config.json");
        let mut cfg: serde_json::Value = serde_json::from_str(&files::read_string(&cfg_path, "model config")?)?;
        cfg["architectures"] = serde_json::json!(["GPT2ForSequenceClassification"]);
        cfg["num_labels"] = serde_json::json!(1);
        cfg["pad_token_id"] = serde_json::json!(0);
        files::write_string_atomic(&cfg_path, &serde_json::to_string_pretty(&cfg)?)?;
        let mut tensors: std::collections::HashMap<String, Tensor> =
            self.gpt.params.vars.iter().map(|(n, v)| (format!("transformer.{n}"), v.as_tensor().clone())).collect();
        tensors.insert("score.weight".into(), self.score.as_tensor().clone());
        let tmp = dir.join(".model.safetensors.tmp");
        candle_core::safetensors::save(&tensors, &tmp)?;
        std::fs::rename(&tmp, dir.join("model.safetensors")).with_context(|| format!("cannot write `{}`", dir.display()))?;
        files::write_string_atomic(&dir.join("reward.json"), &serde_json::to_string_pretty(&self.norm)?)?;
        Ok(())
    }

    /// Read a directory written by [`RewardModel::save`].
    pub fn load(dir: &Path, dev: &Device) -> Result<RewardModel> {
        let gpt = ch03_gpt::load_hf(dir, dev)?;
        let path = dir.join("model.safetensors");
        let tensors: BTreeMap<String, Tensor> = candle_core::safetensors::load(&path, dev)?.into_iter().collect();
        let score = tensors.get("score.weight").with_context(|| format!("`{}` has no `score.weight`: not a reward model", path.display()))?;
        ensure!(score.dims() == [1, gpt.cfg.n_embd], "`score.weight` has shape {:?}, expected [1, {}]", score.dims(), gpt.cfg.n_embd);
        let norm: Normalisation = serde_json::from_str(&files::read_string(&dir.join("reward.json"), "reward normalisation")?)
            .with_context(|| format!("`{}` is not a reward normalisation", dir.join("reward.json").display()))?;
        Ok(RewardModel { gpt, score: Var::from_tensor(&score.to_dtype(DType::F32)?)?, norm })
    }
}
