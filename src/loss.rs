//! `rlhf loss`: chapter 4's or chapter 5's loss on rows of an exported dataset, so that the
//! same rows can be given to another implementation (TRL, `scripts/check-trl.py`) and the
//! two numbers compared.

use crate::args::count;
use anyhow::{Context, Result, ensure};
use candle_core::Tensor;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use world::chat::{finished, prompt_text};

#[derive(Args, Debug, Clone)]
pub struct LossArgs {
    /// A language model (the SFT loss) or a reward model (the pairwise loss), e.g. as `rlhf export` wrote it.
    #[arg(long)]
    pub model: PathBuf,
    /// An exported dataset file: `sft/*.jsonl` for a language model, `preference/*.jsonl` for a reward model.
    #[arg(long)]
    pub data: PathBuf,
    /// How many rows, from the first, make the batch.
    #[arg(long, default_value_t = 8, value_parser = count)]
    pub rows: usize,
}

/// The `content` of message `i` of a row's `key` (a list of messages), checked for its role.
fn content<'a>(row: &'a Value, key: &str, i: usize, role: &str, line: usize) -> Result<&'a str> {
    let m = &row[key][i];
    ensure!(
        m["role"] == role,
        "row {line}: `{key}[{i}]` should be a {role} message, got {m}"
    );
    m["content"]
        .as_str()
        .with_context(|| format!("row {line}: `{key}[{i}].content` is not text"))
}

/// `rlhf loss`: the first `rows` rows of `data` in one batch. An SFT dataset
/// (`messages`: user, assistant) with a language model gives chapter 4's response-token
/// loss; a preference dataset (`prompt`, `chosen`, `rejected`) with a reward model gives
/// chapter 5's pairwise loss on raw scores. Prints one JSON line.
pub fn loss_command(a: &LossArgs) -> Result<()> {
    let (model, data, rows) = (a.model.as_path(), a.data.as_path(), a.rows);
    let text = files::read_string(data, "--data")?;
    let table: Vec<Value> = text
        .lines()
        .take(rows)
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("`{}` line {}: not JSON", data.display(), i + 1))
        })
        .collect::<Result<_>>()?;
    ensure!(!table.is_empty(), "--data `{}` has no rows", data.display());
    let dev = crate::compute::device();
    let out = if model.join("reward.json").is_file() {
        let rm = ch05_reward::RewardModel::load(model, dev)
            .with_context(|| format!("--model `{}`", model.display()))?;
        let tok = crate::compute::tokenizer_for(model, rm.gpt.cfg.vocab_size)?;
        let (mut chosen, mut rejected) = (Vec::new(), Vec::new());
        for (i, r) in table.iter().enumerate() {
            let p = prompt_text(content(r, "prompt", 0, "user", i + 1)?);
            chosen.push(format!(
                "{p}{}",
                finished(content(r, "chosen", 0, "assistant", i + 1)?)
            ));
            rejected.push(format!(
                "{p}{}",
                finished(content(r, "rejected", 0, "assistant", i + 1)?)
            ));
        }
        let n = table.len();
        let rc = ch05_reward::train::score_texts(&rm, &tok, &chosen, n)?;
        let rr = ch05_reward::train::score_texts(&rm, &tok, &rejected, n)?;
        let t = |x: &[f64]| Tensor::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), dev);
        let loss = ch05_reward::loss::pairwise_loss(&t(&rc)?, &t(&rr)?)?.to_scalar::<f32>()?;
        serde_json::json!({
            "kind": "pairwise (chapter 5)", "rows": n, "loss": loss,
            "chosen": rc, "rejected": rr,
        })
    } else {
        let (gpt, tok) = crate::compute::load_with_tokenizer(model, "--model")?;
        let mut examples = Vec::new();
        for (i, r) in table.iter().enumerate() {
            let p = ch01_tokenizer::library::encode(
                &tok,
                &prompt_text(content(r, "messages", 0, "user", i + 1)?),
            )?;
            let a = ch01_tokenizer::library::encode(
                &tok,
                &finished(content(r, "messages", 1, "assistant", i + 1)?),
            )?;
            ensure!(
                p.len() + a.len() <= gpt.cfg.n_positions,
                "row {}: {} tokens, the model's context is {}",
                i + 1,
                p.len() + a.len(),
                gpt.cfg.n_positions
            );
            examples.push(ch04_sft::data::Example {
                prompt: p,
                response: a,
                demo: i,
            });
        }
        let tokens: usize = examples.iter().map(|e| e.response.len()).sum();
        let loss = ch04_sft::train::response_loss(&gpt, &examples, examples.len(), dev)?;
        serde_json::json!({
            "kind": "response tokens (chapter 4)", "rows": examples.len(),
            "tokens": tokens, "loss": loss,
        })
    };
    println!("{out}");
    Ok(())
}
