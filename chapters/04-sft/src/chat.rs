//! Asking a model: prompts in the chat template in, responses out, many at a time.

use anyhow::{Context, Result};
use ch01_tokenizer::library::{decode, encode};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::{Sampling, generate_batch};
use rand::Rng;
use world::Prompt;
use world::chat::{END, ENDOFTEXT};

/// The token ids a response stops at: `<|end|>` (a finished answer) and `<|endoftext|>`
/// (a base model that thinks the document is over).
pub fn stop_tokens(tok: &Tokenizer) -> Vec<u32> {
    [END, ENDOFTEXT]
        .iter()
        .filter_map(|t| tok.token_to_id(t))
        .collect()
}

/// A model's responses to `prompts`: each prompt in the chat template, continued by up to
/// `max_new` tokens, `batch` prompts at a time (padded on the left, with the KV cache).
/// Each response is decoded with its special tokens, so a finished one ends in `<|end|>`.
pub fn respond<R: Rng>(
    model: &Gpt,
    tok: &Tokenizer,
    prompts: &[Prompt],
    s: &Sampling,
    max_new: usize,
    batch: usize,
    rng: &mut R,
) -> Result<Vec<String>> {
    let stop = stop_tokens(tok);
    let mut out = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(batch.max(1)) {
        let ids: Vec<Vec<u32>> = chunk
            .iter()
            .map(|p| encode(tok, &p.chat()))
            .collect::<Result<_>>()?;
        let new = generate_batch(model, &ids, max_new, s, &stop, true, rng)?;
        for (p, n) in chunk.iter().zip(new) {
            out.push(
                decode(tok, &n)
                    .with_context(|| format!("decoding the response to `{}`", p.text))?,
            );
        }
    }
    Ok(out)
}
