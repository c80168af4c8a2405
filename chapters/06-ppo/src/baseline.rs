//! A baseline per prompt: how well the reference model already does on it.
//!
//! The reward model scores a response *and* its prompt: a sum the model cannot do scores
//! low whatever the answer, a kind word about a person scores high. With one response per
//! prompt, that difference between prompts is most of the variance of the scores in a
//! batch, and until the value head has learned it (its explained variance starts near 0)
//! the advantages say more about which prompts were drawn than about which answers were
//! good: PPO then pushes the policy in directions that are noise, and on fact questions,
//! where the reward model cannot tell right from wrong, noise means forgetting.
//!
//! Subtracting b(x), the reward of the reference model's greedy answer to the same prompt,
//! removes the prompt's part:
//!
//! ```text
//! r'(x, y) = r(x, y) − b(x),      b(x) = r(x, greedy answer of π_ref to x)
//! ```
//!
//! b depends on the prompt alone, so the policy gradient keeps its expectation
//! (E_y[∇ log π(y|x) · b(x)] = b(x) · ∇ Σ_y π(y|x) = 0) and only loses variance. It is
//! measured once, before training (ReMax, Li et al. 2023, uses the current policy's greedy
//! answer instead, at the cost of one more generation per batch).

use anyhow::Result;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use ch05_reward::RewardModel;
use std::collections::HashMap;
use world::Prompt;

// ANCHOR: baseline
/// b(x) for every prompt (by its text): the normalised reward of `reference`'s greedy
/// answer of up to `max_new` tokens.
pub fn prompt_baselines(
    reference: &Gpt,
    tok: &Tokenizer,
    rm: &RewardModel,
    prompts: &[Prompt],
    max_new: usize,
) -> Result<HashMap<String, f64>> {
    let mut rng = world::rng(0, 0); // greedy: draws nothing
    let answers = ch04_sft::chat::respond(
        reference,
        tok,
        prompts,
        &Sampling::GREEDY,
        max_new,
        128,
        &mut rng,
    )?;
    let scores = ch05_reward::train::normalised_scores(rm, tok, prompts, &answers)?;
    Ok(prompts
        .iter()
        .zip(scores)
        .map(|(p, b)| (p.text.clone(), b))
        .collect())
}
// ANCHOR_END: baseline
