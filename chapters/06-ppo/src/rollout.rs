//! Rollouts: responses sampled from the policy with the KV cache, and everything PPO
//! needs to know about them, measured once before the updates.

use crate::policy::{Policy, reference_logp};
use anyhow::Result;
use candle_core::{Device, Tensor};
use ch01_tokenizer::library::{decode, encode};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::{Sampling, generate_batch};
use ch05_reward::RewardModel;
use rand::Rng;
use world::chat::PAD_ID;
use world::{Prompt, World};

/// A batch of sampled responses and their measurements. Tensors are (B, P + R) for the
/// sequences (left-padded prompts of width P, right-padded responses of width R) and
/// (B, R) for per-token quantities; vectors hold each response's own tokens.
pub struct Rollout {
    pub ids: Tensor,
    pub attention_mask: Tensor,
    pub prompt_width: usize,
    /// 1 on response tokens: (B, R), f32.
    pub response_mask: Tensor,
    pub prompts: Vec<Prompt>,
    pub responses: Vec<String>,
    /// Did the response end with `<|end|>`?
    pub ended: Vec<bool>,
    /// Per response, per token: log π_old, log π_ref (both at the sampling temperature),
    /// and the value before the token.
    pub logp: Vec<Vec<f64>>,
    pub ref_logp: Vec<Vec<f64>>,
    pub values: Vec<Vec<f64>>,
    /// The reward model's normalised score, and the same with the missing-end penalty.
    pub rm_score: Vec<f64>,
    pub score: Vec<f64>,
    /// The hidden labeler's utility: measured, never trained on.
    pub gold: Vec<f64>,
}

/// Per-row vectors of the first `len[i]` entries of a (B, R) tensor.
pub fn rows(t: &Tensor, lens: &[usize]) -> Result<Vec<Vec<f64>>> {
    let m: Vec<Vec<f32>> = t.to_vec2()?;
    Ok(m.iter()
        .zip(lens)
        .map(|(r, &n)| r[..n].iter().map(|&x| x as f64).collect())
        .collect())
}

/// Assemble (B, P + R) ids and mask, and the (B, R) response mask, from prompt and
/// response token ids.
pub fn layout(
    prompt_ids: &[Vec<u32>],
    response_ids: &[Vec<u32>],
    dev: &Device,
) -> Result<(Tensor, Tensor, usize, Tensor)> {
    let p = prompt_ids.iter().map(Vec::len).max().unwrap_or(0);
    let r = response_ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let (mut ids, mut mask, mut rmask) = (Vec::new(), Vec::new(), Vec::new());
    for (pi, ri) in prompt_ids.iter().zip(response_ids) {
        ids.extend(
            std::iter::repeat_n(PAD_ID, p - pi.len())
                .chain(pi.iter().copied())
                .chain(ri.iter().copied())
                .chain(std::iter::repeat_n(PAD_ID, r - ri.len())),
        );
        mask.extend(
            std::iter::repeat_n(0u32, p - pi.len())
                .chain(std::iter::repeat_n(1, pi.len() + ri.len()))
                .chain(std::iter::repeat_n(0, r - ri.len())),
        );
        rmask.extend((0..r).map(|j| if j < ri.len() { 1f32 } else { 0.0 }));
    }
    let b = prompt_ids.len();
    Ok((
        Tensor::from_vec(ids, (b, p + r), dev)?,
        Tensor::from_vec(mask, (b, p + r), dev)?,
        p,
        Tensor::from_vec(rmask, (b, r), dev)?,
    ))
}

/// A hand-written reward of a prompt and a response (what the model wrote after
/// `<|assistant|>`), used by PPO in place of the reward model's score: the seed article's
/// length placeholder, say (chapter 7).
pub type ScoreFn = fn(&Prompt, &str) -> f64;

/// What the policy acts in: the world (its prompts and hidden labeler), the tokenizer, the
/// frozen reference (the SFT model) and the reward model; the pretraining corpus as token
/// ids, for the pretraining term of PPO-ptx (empty: none); and, to optimise something
/// else than the reward model, a hand-written score (`None`: the reward model's).
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub world: &'a World,
    pub tok: &'a Tokenizer,
    pub reference: &'a Gpt,
    pub rm: &'a RewardModel,
    pub corpus: &'a [u32],
    pub score: Option<ScoreFn>,
}

/// The settings a rollout needs (a view of [`crate::PpoConfig`]).
pub struct RolloutSettings {
    pub temperature: f64,
    pub max_new_tokens: usize,
    pub missing_end_score: f64,
}

// ANCHOR: rollout
/// Sample one response per prompt from the policy (KV cache, stopping at `<|end|>` or
/// `<|endoftext|>`), then measure: log-probabilities under the policy and the reference,
/// values, the reward model's score (or the environment's hand-written one; a fixed low
/// score instead for a response that stopped without `<|end|>`), and the gold utility.
pub fn rollout<R: Rng>(
    env: Env,
    policy: &Policy,
    prompts: &[Prompt],
    s: &RolloutSettings,
    rng: &mut R,
) -> Result<Rollout> {
    let Env {
        world,
        tok,
        reference,
        rm,
        score: score_fn,
        ..
    } = env;
    let dev = policy.gpt.device();
    let stop = ch04_sft::chat::stop_tokens(tok);
    let end = tok.token_to_id(world::chat::END);
    let prompt_ids: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| encode(tok, &p.chat()))
        .collect::<Result<_>>()?;
    let sampling = Sampling {
        temperature: s.temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let response_ids = generate_batch(
        &policy.gpt,
        &prompt_ids,
        s.max_new_tokens,
        &sampling,
        &stop,
        true,
        rng,
    )?;
    let (ids, attention_mask, prompt_width, response_mask) =
        layout(&prompt_ids, &response_ids, &dev)?;
    let lens: Vec<usize> = response_ids.iter().map(Vec::len).collect();
    let out = policy.outputs(&ids, &attention_mask, prompt_width, s.temperature)?;
    let ref_logp = reference_logp(
        reference,
        &ids,
        &attention_mask,
        prompt_width,
        s.temperature,
    )?;
    let responses: Vec<String> = response_ids
        .iter()
        .map(|r| decode(tok, r))
        .collect::<Result<_>>()?;
    let ended: Vec<bool> = response_ids
        .iter()
        .map(|r| end.is_some() && r.last().copied() == end)
        .collect();
    let rm_score = match score_fn {
        None => ch05_reward::train::normalised_scores(rm, tok, prompts, &responses)?,
        Some(f) => prompts
            .iter()
            .zip(&responses)
            .map(|(p, r)| f(p, r))
            .collect(),
    };
    let score = rm_score
        .iter()
        .zip(&ended)
        .map(|(&r, &e)| if e { r } else { s.missing_end_score })
        .collect();
    let gold = prompts
        .iter()
        .zip(&responses)
        .map(|(p, r)| world.utility(p, r).total)
        .collect();
    Ok(Rollout {
        logp: rows(&out.logp.detach(), &lens)?,
        ref_logp: rows(&ref_logp, &lens)?,
        values: rows(&out.values.detach(), &lens)?,
        ids,
        attention_mask,
        prompt_width,
        response_mask,
        prompts: prompts.to_vec(),
        responses,
        ended,
        rm_score,
        score,
        gold,
    })
}
// ANCHOR_END: rollout
