//! Comparison data, as in InstructGPT: K responses per prompt from the SFT policy, every
//! pair of them labelled by the (simulated, noisy) human.

use anyhow::{Context, Result, ensure};
use candle_core::{Device, Tensor};
use ch01_tokenizer::library::encode;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use rand::Rng;
use serde::{Deserialize, Serialize};
use world::demos::{AnswerKind, answer_of_kind};
use world::{Labeler, Prompt, World};

/// Pairs and the prompts they answer (`Pair::prompt` indexes `prompts`).
#[derive(Clone, Copy)]
pub struct PairSet<'a> {
    pub prompts: &'a [Prompt],
    pub pairs: &'a [Pair],
}

/// One labelled comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// Index of the prompt in the list the pairs were made from.
    pub prompt: usize,
    pub chosen: String,
    pub rejected: String,
    /// Gold utilities: for evaluation only, never trained on.
    pub u_chosen: f64,
    pub u_rejected: f64,
    /// How likely this labeler was to agree with the gold order on this pair
    /// (0.5 when the gold utilities are equal): averaged, the ceiling of any model's
    /// accuracy on its labels.
    pub agreement: f64,
    /// The labeler's probability of this choice, P(chosen ≻ rejected).
    #[serde(default)]
    pub p_chosen: f64,
    /// Which labeler made it: the member of a population (chapter 7), 0 for one labeler.
    #[serde(default)]
    pub labeler: usize,
}

/// `k` sampled responses to each prompt, the prompts' copies batched 128 rows at a time.
pub fn sample_responses<R: Rng>(
    policy: &Gpt,
    tok: &Tokenizer,
    prompts: &[Prompt],
    k: usize,
    s: &Sampling,
    max_new: usize,
    rng: &mut R,
) -> Result<Vec<Vec<String>>> {
    ensure!(
        k >= 2,
        "need at least 2 responses per prompt to compare, got {k}"
    );
    let repeated: Vec<Prompt> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), k))
        .collect();
    let flat = ch04_sft::chat::respond(policy, tok, &repeated, s, max_new, 128, rng)?;
    Ok(flat.chunks(k).map(|c| c.to_vec()).collect())
}

// ANCHOR: off_prompt
/// Each prompt's own responses followed by `m` responses written for other prompts (a
/// random other prompt, a random one of its responses, for each of the `m`).
pub fn with_off_prompt<R: Rng>(
    responses: &[Vec<String>],
    m: usize,
    rng: &mut R,
) -> Vec<Vec<String>> {
    let n = responses.len();
    (0..n)
        .map(|i| {
            let mut rs = responses[i].clone();
            if n > 1 {
                for _ in 0..m {
                    let j = (i + rng.random_range(1..n)) % n; // any prompt but i
                    rs.push(responses[j][rng.random_range(0..responses[j].len())].clone());
                }
            }
            rs
        })
        .collect()
}
// ANCHOR_END: off_prompt

// ANCHOR: non_answers
/// Each prompt's candidates followed by the two answers that fit *any* prompt: the refusal
/// and "I don't know". A reward model sees them mostly where the policy says them — where
/// they win — and learns to like them everywhere; PPO then says them to everything. Shown
/// to the labeler on every prompt, they are placed where they belong: above a wrong
/// answer, below the right one, and the refusal above "I don't know" on a harmful request.
pub fn with_non_answers(
    world: &World,
    prompts: &[Prompt],
    responses: &[Vec<String>],
) -> Vec<Vec<String>> {
    let mut rng = world::rng(0, 0); // the two answers draw nothing at random
    prompts
        .iter()
        .zip(responses)
        .map(|(p, rs)| {
            let mut rs = rs.clone();
            for kind in [AnswerKind::Refusal, AnswerKind::DontKnow] {
                rs.push(world::chat::finished(&answer_of_kind(
                    &world.entities,
                    p,
                    kind,
                    &mut rng,
                )));
            }
            rs
        })
        .collect()
}
// ANCHOR_END: non_answers

// ANCHOR: pairs
/// Every pair of distinct responses to each prompt — K = 4 gives up to 6 — labelled by
/// `labeler`. Identical responses are skipped: comparing them teaches nothing.
pub fn label_pairs<R: Rng, L: Labeler>(
    world: &World,
    labeler: &L,
    prompts: &[Prompt],
    responses: &[Vec<String>],
    rng: &mut R,
) -> Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for (i, (p, rs)) in prompts.iter().zip(responses).enumerate() {
        for a in 0..rs.len() {
            for b in a + 1..rs.len() {
                if rs[a] == rs[b] {
                    continue;
                }
                let c = labeler.compare(world, p, &rs[a], &rs[b], rng)?;
                let agreement = if c.u_chosen == c.u_rejected {
                    0.5
                } else {
                    labeler.agreement(c.u_chosen, c.u_rejected)
                };
                pairs.push(Pair {
                    prompt: i,
                    chosen: c.chosen,
                    rejected: c.rejected,
                    u_chosen: c.u_chosen,
                    u_rejected: c.u_rejected,
                    agreement,
                    p_chosen: c.p_chosen,
                    labeler: c.labeler,
                });
            }
        }
    }
    Ok(pairs)
}
// ANCHOR_END: pairs

/// Token ids and attention mask (B, W) for `texts` (each a full prompt + response),
/// right-padded with id 0. A text longer than `context` tokens keeps its last `context`
/// (the reward is read at the end; a sampled response can re-encode to more tokens than
/// were generated, e.g. when it ends inside a multi-byte character).
pub fn padded(
    tok: &Tokenizer,
    texts: &[String],
    context: usize,
    dev: &Device,
) -> Result<(Tensor, Tensor)> {
    let ids: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| encode(tok, t).map(|ids| ids[ids.len().saturating_sub(context)..].to_vec()))
        .collect::<Result<_>>()?;
    let w = ids
        .iter()
        .map(Vec::len)
        .max()
        .context("no texts to score")?;
    let mut flat = Vec::with_capacity(ids.len() * w);
    let mut mask = Vec::with_capacity(ids.len() * w);
    for r in &ids {
        ensure!(!r.is_empty(), "an empty text cannot be scored");
        flat.extend(
            r.iter()
                .copied()
                .chain(std::iter::repeat_n(world::chat::PAD_ID, w - r.len())),
        );
        mask.extend((0..w).map(|i| u32::from(i < r.len())));
    }
    Ok((
        Tensor::from_vec(flat, (ids.len(), w), dev)?,
        Tensor::from_vec(mask, (ids.len(), w), dev)?,
    ))
}

/// The text the reward model reads: the prompt in the chat template, then the response.
pub fn full_text(prompt: &Prompt, response: &str) -> String {
    format!("{}{response}", prompt.chat())
}
