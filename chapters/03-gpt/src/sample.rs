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
    pub const GREEDY: Sampling = Sampling {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
    };

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.temperature >= 0.0 && self.temperature.is_finite(),
            "temperature {} must be ≥ 0",
            self.temperature
        );
        ensure!(
            self.top_p > 0.0 && self.top_p <= 1.0,
            "top-p {} must be in (0, 1]",
            self.top_p
        );
        Ok(())
    }
}

// ANCHOR: distribution
/// The distribution a sampler draws from: the tokens it may pick, most likely first, and
/// their probabilities. Softmax of `logits / T`, restricted to the `top_k` most likely
/// tokens, then to the smallest prefix whose probability reaches `top_p`, renormalised.
/// (Temperature 0 is greedy: the single most likely token.)
pub fn distribution(logits: &[f32], s: &Sampling) -> Vec<(u32, f64)> {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if s.temperature == 0.0 {
        return vec![(order[0] as u32, 1.0)];
    }
    if s.top_k > 0 {
        order.truncate(s.top_k);
    }
    let max = logits[order[0]] as f64;
    let mut probs: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - max) / s.temperature).exp())
        .collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if s.top_p < 1.0 {
        let mut acc = 0.0;
        let keep = probs.iter().position(|p| {
            acc += p;
            acc >= s.top_p
        });
        probs.truncate(keep.map_or(probs.len(), |i| i + 1));
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
    }
    order.into_iter().map(|i| i as u32).zip(probs).collect()
}
// ANCHOR_END: distribution

/// Pick a token id from one row of logits.
pub fn sample<R: Rng>(logits: &[f32], s: &Sampling, rng: &mut R) -> u32 {
    if s.temperature == 0.0 {
        // Greedy draws no random number.
        return logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i as u32)
            .unwrap();
    }
    if s.top_k == 0 && s.top_p >= 1.0 {
        return sample_full(logits, s.temperature, rng);
    }
    let dist = distribution(logits, s);
    let mut x: f64 = rng.random();
    for &(id, p) in &dist {
        if x < p {
            return id;
        }
        x -= p;
    }
    dist[dist.len() - 1].0
}

/// A draw from the whole of `softmax(logits / T)`, without [`distribution`]'s sort (nothing
/// is cut off, so any order of the tokens is a valid inverse-CDF walk; vocabulary order it
/// is). The sort of a 1024-token vocabulary cost more per token than the model did.
fn sample_full<R: Rng>(logits: &[f32], temperature: f64, rng: &mut R) -> u32 {
    let inv_t = (1.0 / temperature) as f32;
    let max = crate::simd::max(logits);
    let mut p: Vec<f32> = logits.iter().map(|&l| (l - max) * inv_t).collect();
    let total = crate::simd::exp_shifted_sum(&mut p, 0.0) as f64;
    let mut x = rng.random::<f64>() * total;
    for (id, &pi) in p.iter().enumerate() {
        if x < pi as f64 {
            return id as u32;
        }
        x -= pi as f64;
    }
    // Rounding left x just above the last sum: the last token with any probability.
    p.iter().rposition(|&pi| pi > 0.0).unwrap_or(0) as u32
}

/// Continue `prompt` by up to `max_new` tokens, stopping after any token of `stop`. With
/// `use_cache`, each step feeds only the newest token and reuses cached keys and values;
/// without, each step runs the whole sequence again.
pub fn generate<R: Rng>(
    model: &Gpt,
    prompt: &[u32],
    max_new: usize,
    s: &Sampling,
    stop: &[u32],
    use_cache: bool,
    rng: &mut R,
) -> Result<Vec<u32>> {
    Ok(generate_batch(model, &[prompt.to_vec()], max_new, s, stop, use_cache, rng)?.remove(0))
}

// ANCHOR: generate_batch
/// Continue every prompt at once. Prompts of different lengths are padded on the left,
/// so their last tokens line up and every row samples its next token from the same
/// column; the attention mask hides the padding and positions count real tokens only,
/// so each row gets what it would get alone. A row stops after any token of `stop`; the
/// batch stops when every row has, or after `max_new` tokens. Returns each row's new
/// tokens (the stop token included when reached).
pub fn generate_batch<R: Rng>(
    model: &Gpt,
    prompts: &[Vec<u32>],
    max_new: usize,
    s: &Sampling,
    stop: &[u32],
    use_cache: bool,
    rng: &mut R,
) -> Result<Vec<Vec<u32>>> {
    s.validate()?;
    ensure!(!prompts.is_empty(), "no prompts to continue");
    ensure!(prompts.iter().all(|p| !p.is_empty()), "a prompt is empty");
    let dev = model.params.get("wte.weight")?.device().clone();
    let (b, width) = (prompts.len(), prompts.iter().map(Vec::len).max().unwrap());
    let ctx = model.cfg.n_positions;
    ensure!(
        width <= ctx,
        "prompt of {width} tokens is longer than the context of {ctx}"
    );
    let vocab = model.cfg.vocab_size as u32;
    if let Some(bad) = prompts.iter().flatten().find(|&&id| id >= vocab) {
        anyhow::bail!("prompt token id {bad} is outside the model's vocabulary of {vocab} tokens");
    }
    let max_new = max_new.min(ctx - width);
    // Left padding: (B, width) ids and mask, padding id 0 (never attended to).
    let mut ids: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| [vec![0; width - p.len()], p.clone()].concat())
        .collect();
    let mut mask: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| [vec![0; width - p.len()], vec![1; p.len()]].concat())
        .collect();
    let mut cache = if use_cache {
        Some(KvCache::for_model(model, b, width + max_new)?)
    } else {
        None
    };
    let mut new: Vec<Vec<u32>> = vec![Vec::new(); b];
    let mut done = vec![false; b];
    let mut fed = 0; // positions the cache has seen
    for _ in 0..max_new {
        let len = ids[0].len();
        let from = if use_cache { fed } else { 0 };
        let input: Vec<Vec<u32>> = ids.iter().map(|r| r[from..].to_vec()).collect();
        let idx = Tensor::new(input, &dev)?; // (B, T)
        let m = Tensor::new(mask.clone(), &dev)?; // (B, len)
        let logits = model.forward_padded(&idx, &m, cache.as_mut())?; // (B, T, V)
        fed = len;
        // The last position's logits, (B, V).
        let last: Vec<Vec<f32>> = logits.narrow(1, len - from - 1, 1)?.squeeze(1)?.to_vec2()?;
        for (row, logits_row) in last.iter().enumerate() {
            let next = sample(logits_row, s, rng);
            ids[row].push(next);
            mask[row].push(1);
            if !done[row] {
                new[row].push(next);
                done[row] = stop.contains(&next);
            }
        }
        if done.iter().all(|&d| d) {
            break;
        }
    }
    Ok(new)
}
// ANCHOR_END: generate_batch
