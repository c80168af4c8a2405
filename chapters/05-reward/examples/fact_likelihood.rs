//! Does a language model know which answer to a fact question is right? For every
//! held-out comparison of a run's reward stage of a right against a wrong answer to a
//! fact question (as the world's labeler judges them), score each answer *alone* — the
//! bare sentence, "The mayor of Oakwick is Nico Gale." — by its mean log-probability per
//! token under a model, and count how often the likelier one is the right one. Chapter 5,
//! "What each option buys", quotes it for the pretrained and the SFT model of the tuning
//! worlds.
//!
//!     cargo run --release -p ch05-reward --example fact_likelihood -- runs/default
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use ch01_tokenizer::tokenizers::Tokenizer;
use std::path::Path;
use world::Family;

/// Mean log-probability per token of `text` after `<|endoftext|>`.
fn mean_log_prob(gpt: &ch03_gpt::Gpt, tok: &Tokenizer, text: &str) -> Result<f64> {
    let bos = tok
        .token_to_id(world::chat::ENDOFTEXT)
        .context("the tokenizer has no <|endoftext|> token")?;
    let mut ids = vec![bos];
    ids.extend(
        tok.encode(text, false)
            .map_err(anyhow::Error::msg)?
            .get_ids(),
    );
    let t = ids.len();
    let x = Tensor::from_vec(ids, (1, t), &Device::Cpu)?; // (1, T)
    let logits = gpt.forward(&x, None)?; // (1, T, V)
    let lp =
        ch03_gpt::model::token_log_probs(&logits.narrow(1, 0, t - 1)?, &x.narrow(1, 1, t - 1)?)?;
    Ok(lp.mean_all()?.to_scalar::<f32>()? as f64)
}

fn main() -> Result<()> {
    let run = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/default".into());
    let run = Path::new(&run);
    let world = world::World::read_from(&run.join("world"))?;
    let heldout = &world.prompts.heldout;
    let pairs = ch05_reward::read_pairs(
        &run.join("reward").join(ch05_reward::HELDOUT_PAIRS),
        heldout.len(),
    )?;
    // (right answer, wrong answer) of each such pair.
    let facts: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|p| heldout[p.prompt].family == Family::Fact)
        .filter_map(|p| {
            let seen = |r: &str| world.judge(&heldout[p.prompt], r).seen;
            let (c, r) = (seen(&p.chosen), seen(&p.rejected));
            match (c.right && !c.wrong, r.right && !r.wrong, c.wrong, r.wrong) {
                (true, _, _, true) => Some((p.chosen.as_str(), p.rejected.as_str())),
                (_, true, true, _) => Some((p.rejected.as_str(), p.chosen.as_str())),
                _ => None,
            }
        })
        .collect();
    for stage in ["pretrain", "sft"] {
        let dir = run.join(stage).join("checkpoint");
        let gpt = ch03_gpt::load_hf(&dir, &Device::Cpu)?;
        let tok = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(anyhow::Error::msg)?;
        let mut right = 0;
        let bare = |s: &str| s.trim_end_matches(world::chat::END).to_string();
        for (good, bad) in &facts {
            let lp = |s: &str| mean_log_prob(&gpt, &tok, &bare(s));
            right += usize::from(lp(good)? > lp(bad)?);
        }
        println!(
            "{stage}: the right answer is the likelier on {right} of {} held-out pairs of a right and a wrong fact ({:.0}%)",
            facts.len(),
            100.0 * right as f64 / facts.len().max(1) as f64
        );
    }
    Ok(())
}
