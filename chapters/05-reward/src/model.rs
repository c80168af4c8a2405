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
    pub const IDENTITY: Normalisation = Normalisation {
        gain: 1.0,
        bias: 0.0,
    };

    /// The gain and bias that map `raw` to mean 0 and standard deviation 1.
    pub fn fit(raw: &[f64]) -> Result<Normalisation> {
        ensure!(raw.len() >= 2, "need at least two scores to normalise");
        let n = raw.len() as f64;
        let mean = raw.iter().sum::<f64>() / n;
        let std = (raw.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        ensure!(
            std > 1e-9,
            "all {} scores are equal ({mean}): cannot normalise",
            raw.len()
        );
        Ok(Normalisation {
            gain: 1.0 / std,
            bias: -mean / std,
        })
    }

    pub fn apply(&self, raw: f64) -> f64 {
        self.gain * raw + self.bias
    }
}

// ANCHOR: knowledge
/// What the language model knows, as a second input to the score: the mean log-probability
/// of the response's tokens under the frozen SFT model the reward model was made from,
///
/// ```text
/// ℓ(x, y) = (1/|y|) Σₜ log π_SFT(yₜ | x, y<ₜ)        r(x, y) = w · h_last(x, y) + a · ℓ(x, y)
/// ```
///
/// The head `w · h_last` alone does not learn whether a stated fact is the one the model
/// knows (chapter 5's probe: a right and a wrong fact score alike), and rates "I don't know"
/// like a right answer; the SFT model's own probabilities tell them apart on most prompts.
/// The weight `a` is fitted on the comparisons like everything else.
pub struct Knowledge {
    /// The frozen SFT model: never trained, it only reads.
    pub lm: Gpt,
    /// `knowledge.weight`, (1,).
    pub weight: Var,
    /// The `<|assistant|>` token: the response is what follows its last occurrence.
    pub assistant_id: u32,
}
// ANCHOR_END: knowledge

/// How a [`Knowledge`] input is recorded beside a checkpoint (`knowledge.json`; the frozen
/// model goes to `reference/`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeRecord {
    pub weight: f64,
    pub assistant_id: u32,
}

/// A transformer and its scalar head, and optionally the language model's knowledge.
pub struct RewardModel {
    pub gpt: Gpt,
    /// `score.weight`, (1, C).
    pub score: Var,
    pub norm: Normalisation,
    pub knowledge: Option<Knowledge>,
}

// ANCHOR: last_token_index
/// For each row of an attention mask (1 real, 0 padding, on either side), the index of
/// its last real token — where the reward is read.
pub fn last_token_index(attention_mask: &[Vec<u32>]) -> Result<Vec<usize>> {
    attention_mask
        .iter()
        .enumerate()
        .map(|(row, m)| {
            m.iter()
                .rposition(|&x| x != 0)
                .with_context(|| format!("row {row} of the batch has no real token"))
        })
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
        Ok(RewardModel {
            gpt,
            score: Var::from_tensor(&Tensor::from_vec(w, (1, c), &dev)?)?,
            norm: Normalisation::IDENTITY,
            knowledge: None,
        })
    }

    /// The same model with the language model's knowledge as a second input, its weight
    /// `a` to be fitted ([`Knowledge`]).
    pub fn with_knowledge(mut self, sft: &Gpt, assistant_id: u32, a: f64) -> Result<RewardModel> {
        let dev = self.gpt.device();
        let weight = Var::from_tensor(&Tensor::new(&[a as f32], &dev)?)?;
        self.knowledge = Some(Knowledge {
            lm: sft.clone(),
            weight,
            assistant_id,
        });
        Ok(self)
    }

    // ANCHOR: raw_scores
    /// Raw scores (B,) of a padded batch: ids and attention mask (B, T).
    pub fn raw_scores(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let c = self.gpt.cfg.n_embd;
        let hidden = self.gpt.hidden(ids, Some(attention_mask), None)?; // (B, T, C)
        let last = last_token_index(&attention_mask.to_dtype(DType::U32)?.to_vec2()?)?;
        let rows: Vec<u32> = last
            .iter()
            .enumerate()
            .map(|(i, &j)| (i * t + j) as u32)
            .collect();
        let picked = hidden
            .reshape((b * t, c))?
            .index_select(&Tensor::new(rows, ids.device())?, 0)?; // (B, C)
        let head = picked.matmul(&self.score.as_tensor().t()?)?.squeeze(1)?; // (B,)
        match &self.knowledge {
            None => Ok(head),
            Some(k) => Ok((head
                + self
                    .knowledge_feature(ids, attention_mask)?
                    .broadcast_mul(k.weight.as_tensor())?)?),
        }
    }
    // ANCHOR_END: raw_scores

    /// ℓ (B,) of a padded batch ([`Knowledge`]), without gradients; zeros without knowledge.
    pub fn knowledge_feature(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let Some(k) = &self.knowledge else {
            return Ok(Tensor::zeros(b, DType::F32, ids.device())?);
        };
        ensure!(t >= 2, "a text of one token has no response to read");
        let logits = k.lm.forward_padded(ids, attention_mask, None)?; // (B, T, V)
        let lp = ch03_gpt::model::token_log_probs(
            &logits.narrow(1, 0, t - 1)?,
            &ids.narrow(1, 1, t - 1)?,
        )?
        .detach(); // (B, T − 1)
        let lp: Vec<Vec<f32>> = lp.to_vec2()?;
        let (ids, mask): (Vec<Vec<u32>>, Vec<Vec<u32>>) = (
            ids.to_vec2()?,
            attention_mask.to_dtype(DType::U32)?.to_vec2()?,
        );
        let mut out = Vec::with_capacity(b);
        for (row, (ids, mask)) in ids.iter().zip(&mask).enumerate() {
            // Tokens after the last <|assistant|>, up to the last real one; lp[j − 1] predicts token j.
            let start = ids
                .iter()
                .rposition(|&x| x == k.assistant_id)
                .map_or(0, |i| i + 1);
            let end = mask.iter().rposition(|&m| m != 0).map_or(0, |i| i + 1);
            let n = end.saturating_sub(start.max(1));
            let sum: f32 = (start.max(1)..end).map(|j| lp[row][j - 1]).sum();
            out.push(if n == 0 { 0.0 } else { sum / n as f32 });
        }
        Ok(Tensor::from_vec(out, b, &self.gpt.device())?)
    }

    /// Every trainable variable, the transformer's and the head's, sharing their storage
    /// with the model (what the optimiser updates).
    pub fn params(&self) -> Params {
        let mut vars = self.gpt.params.vars.clone();
        vars.insert("score.weight".into(), self.score.clone());
        if let Some(k) = &self.knowledge {
            vars.insert("knowledge.weight".into(), k.weight.clone());
        }
        Params { vars }
    }

    // ANCHOR: weight_average
    /// One reward model from several trained from the same SFT model on the same
    /// comparisons (other head initialisations, other orders of the data): every
    /// parameter the mean of the members', θ = (1/M) Σₘ θₘ (WARM, Ramé et al.
    /// 2024). Fine-tuned from one starting point, the members stay in one basin of
    /// the loss, where the average of the weights scores about as the average of
    /// the scores would — an ensemble's steadier judgement at one model's cost to
    /// run. The first member is overwritten and returned.
    pub fn weight_average(members: Vec<RewardModel>) -> Result<RewardModel> {
        ensure!(!members.is_empty(), "no reward models to average");
        let params: Vec<Params> = members.iter().map(|m| m.params()).collect();
        for (name, var) in &params[0].vars {
            let mut sum = var.as_tensor().clone();
            for p in &params[1..] {
                let other = (p.vars.get(name))
                    .with_context(|| format!("weight average: a member lacks `{name}`"))?;
                sum = (sum + other.as_tensor())?;
            }
            var.set(&(sum / params.len() as f64)?)?;
        }
        Ok(members.into_iter().next().unwrap())
    }
    // ANCHOR_END: weight_average

    /// Write a Hugging Face `GPT2ForSequenceClassification` directory: `config.json` (one
    /// label, `reward`; padding id 0, which transformers uses to find the last real token;
    /// the normalisation as `reward_normalisation`), `model.safetensors` (`transformer.*` and
    /// `score.weight`), and `reward.json` with the normalisation. Files are written to
    /// temporary names and renamed.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut cfg = ch03_gpt::train::hf_config(&self.gpt.cfg);
        cfg["architectures"] = serde_json::json!(["GPT2ForSequenceClassification"]);
        cfg["num_labels"] = serde_json::json!(1);
        cfg["pad_token_id"] = serde_json::json!(world::chat::PAD_ID);
        cfg["id2label"] = serde_json::json!({ "0": "reward" });
        cfg["label2id"] = serde_json::json!({ "reward": 0 });
        // transformers returns the raw score; r = gain · raw + bias is this project's.
        cfg["reward_normalisation"] = serde_json::to_value(self.norm)?;
        // The same as OpenRLHF reads it: r = (raw − mean) / std.
        cfg["mean"] = serde_json::json!(-self.norm.bias / self.norm.gain);
        cfg["std"] = serde_json::json!(1.0 / self.norm.gain);
        let mut tensors = ch03_gpt::train::hf_tensors(&self.gpt);
        tensors.insert("score.weight".into(), self.score.as_tensor().clone());
        ch03_gpt::train::write_hf(dir, &cfg, &tensors)?;
        files::write_string_atomic(
            &dir.join("reward.json"),
            &serde_json::to_string_pretty(&self.norm)?,
        )?;
        match &self.knowledge {
            Some(k) => {
                ch03_gpt::train::save_model(&k.lm, &dir.join("reference"))?;
                let rec = KnowledgeRecord {
                    weight: k.weight.as_tensor().to_vec1::<f32>()?[0] as f64,
                    assistant_id: k.assistant_id,
                };
                files::write_string_atomic(
                    &dir.join("knowledge.json"),
                    &serde_json::to_string_pretty(&rec)?,
                )?;
            }
            None => {
                let _ = std::fs::remove_file(dir.join("knowledge.json"));
            }
        }
        Ok(())
    }

    /// Read a directory written by [`RewardModel::save`].
    pub fn load(dir: &Path, dev: &Device) -> Result<RewardModel> {
        let gpt = ch03_gpt::load_hf(dir, dev)?;
        let path = dir.join("model.safetensors");
        let tensors: BTreeMap<String, Tensor> = candle_core::safetensors::load(&path, dev)?
            .into_iter()
            .collect();
        let score = tensors.get("score.weight").with_context(|| {
            format!(
                "`{}` has no `score.weight`: not a reward model",
                path.display()
            )
        })?;
        ensure!(
            score.dims() == [1, gpt.cfg.n_embd],
            "`score.weight` has shape {:?}, expected [1, {}]",
            score.dims(),
            gpt.cfg.n_embd
        );
        let norm: Normalisation = serde_json::from_str(&files::read_string(
            &dir.join("reward.json"),
            "reward normalisation",
        )?)
        .with_context(|| {
            format!(
                "`{}` is not a reward normalisation",
                dir.join("reward.json").display()
            )
        })?;
        let rm = RewardModel {
            gpt,
            score: Var::from_tensor(&score.to_dtype(DType::F32)?)?,
            norm,
            knowledge: None,
        };
        let path = dir.join("knowledge.json");
        if !path.is_file() {
            return Ok(rm);
        }
        let rec: KnowledgeRecord =
            serde_json::from_str(&files::read_string(&path, "reward model knowledge")?)
                .with_context(|| format!("`{}` is not a knowledge record", path.display()))?;
        let lm = ch03_gpt::load_hf(&dir.join("reference"), dev)
            .context("the reward model's frozen language model")?;
        rm.with_knowledge(&lm, rec.assistant_id, rec.weight)
    }
}
