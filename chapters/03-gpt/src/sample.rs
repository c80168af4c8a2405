//! Choosing the next token from the model's logits, and generating text.

use crate::cache::KvCache;
use crate::model::Gpt;
use anyhow::{Result, ensure};
use candle_core::Tensor;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How to pick the next token.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 means greedy (always the most likely token); otherwise logits are divided by it:
    /// below 1 sharpens the distribution, above 1 flattens it.
    pub temperature: f64,
    /// Keep only the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    pub top_p: f64,
}

impl Sampling {
    pub const GREEDY: Sampling = Sampling { temperature: 0.0, top_k: 0, top_p: 1.0 };

    pub fn validate(&self) -> Result<()> {
        ensure!(self.temperature >= 0.0 && self.temperature.is_finite(), "temperature {} must be ≥ 0", self.temperature);
        ensure!(self.top_p > 0.0 && self.top_p <= 1.0, "top-p {} must be in (0, 1]", self.top_p);
        Ok(())
    }
}

/// Pick a token id from one row of logits.
pub fn sample<R: Rng>(logits: &[f32], s: &Sampling, rng: &mut R) -> u32 {
    let argmax = || logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap();
    if s.temperature == 0.0 {
        return argmax();
    }
    // Most likely first; softmax of logits / T over the kept tokens.
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if s.top_k > 0 {
        order.truncate(s.top_k);
    }
    let max = logits[order[0]] as f64;
    let mut probs: Vec<f64> = order.iter().map(|&i| ((logits[i] as f64 - max) / s.temperature).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if s.top_p < 1.0 {
        let mut acc = 0.0;
        let keep = probs.iter().position(|p| {
            acc += p;
            acc >= s.top_p
        });
        let keep = keep.map_or(probs.len(), |i| i + 1);
        probs.truncate(keep);
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
    }
    let mut x: f64 = rng.random();
    for (p, &i) in probs.iter().zip(&order) {
        if x < *p {
            return i as u32;
        }
        x -= p;
    }
    order[probs.len() - 1] as u32
}

/// Continue `prompt` by up to `max_new` tokens, stopping after `stop` if given. With
/// `use_cache`, each step feeds only the newest token and reuses cached keys and values;
/// without, each step runs the whole sequence again.
pub fn generate<R: Rng>(
    model: &Gpt,
    prompt: &[u32],
    max_new: usize,
    s: &Sampling,
    stop: Option<u32>,
    use_cache: bool,
    rng: &mut R,
) -> Result<Vec<u32>> {
    s.validate()?;
    ensure!(!prompt.is_empty(), "the prompt is empty");
    let dev = candle_core::Device::Cpu;
    let max_new = max_new.min(model.cfg.n_positions.saturating_sub(prompt.len()));
    ensure!(prompt.len() <= model.cfg.n_positions, "prompt of {} tokens is longer than the context of {}", prompt.len(), model.cfg.n_positions);
    let mut cache = if use_cache { Some(KvCache::new(&model.cfg, 1, model.cfg.n_positions, &dev)?) } else { None };
    let mut seq = prompt.to_vec();
    let mut fed = 0; // tokens the cache has seen
    let mut new = Vec::new();
    for _ in 0..max_new {
        let input = if use_cache { &seq[fed..] } else { &seq[..] };
        let idx = Tensor::new(input, &dev)?.unsqueeze(0)?;
        let logits = model.forward(&idx, cache.as_mut())?; // (1, T, V)
        fed = seq.len();
        let last: Vec<f32> = logits.narrow(1, input.len() - 1, 1)?.squeeze(1)?.squeeze(0)?.to_vec1()?;
        let next = sample(&last, s, rng);
        seq.push(next);
        new.push(next);
        if Some(next) == stop {
            break;
        }
    }
    Ok(new)
}
