//! Chapter 2's command: `rlhf attention`.

use crate::args::TrainInputs;
use crate::progress;
use anyhow::Result;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct AttentionArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/attention")]
    pub out: PathBuf,
    #[command(flatten)]
    pub input: TrainInputs,
}

/// `rlhf attention`: train chapter 2's hand-written transformer on `corpus` and draw its
/// attention on a sentence from the corpus.
pub fn attention_command(a: &AttentionArgs) -> Result<ch02_attention::Report> {
    let (out, i) = (&a.out, &a.input);
    let (corpus, tokenizer) = (&i.corpus, &i.tokenizer);
    let mut cfg = ch02_attention::AttentionConfig::preset(i.preset);
    if let Some(s) = i.steps {
        cfg.train.steps = s;
    }
    let tok = ch01_tokenizer::library::load(tokenizer)?;
    let text = world::read_corpus(corpus)?;
    let docs = world::split_corpus(&text);
    // A sentence of the world's own text: the first one that names a flag.
    let sentence = docs
        .iter()
        .flat_map(|d| d.lines())
        .flat_map(|l| l.split_inclusive(". "))
        .map(str::trim)
        .find(|s| s.starts_with("The flag of"))
        .unwrap_or("The flag of Bramford is green.");
    let bar = progress::steps(cfg.train.steps as u64);
    bar.set_message("training the hand-written GPT");
    let report = ch02_attention::run(&docs, &tok, sentence, &cfg, out, |s, _| {
        bar.set_position(s as u64)
    })?;
    bar.finish_and_clear();
    let (first, last) = (report.curve.first().unwrap(), report.curve.last().unwrap());
    println!(
        "attention: {} parameters, held-out loss {:.2} → {:.2} in {} steps → {}",
        report.parameters,
        first.heldout,
        last.heldout,
        last.step,
        out.display()
    );
    Ok(report)
}

/// The report's attention section.
pub fn report_section(att: &ch02_attention::Report) -> String {
    let mut s = String::from("## Attention from scratch\n\n<!-- ANCHOR: attention -->\n");
    let m = &att.config.model;
    let (first, last) = (att.curve.first().unwrap(), att.curve.last().unwrap());
    writeln!(
        s,
        "A GPT of {} layers, {} heads, {} channels and a context of {} tokens ({} parameters), trained \
         with hand-written gradients and Adam for {} steps of {} sequences: held-out loss {:.2} → {:.2} \
         nats per token (a uniform guess over {} tokens costs {:.2}).",
        m.n_layer,
        m.n_head,
        m.n_embd,
        m.n_positions,
        att.parameters,
        last.step,
        att.config.train.batch,
        first.heldout,
        last.heldout,
        m.vocab_size,
        (m.vocab_size as f64).ln()
    )
    .unwrap();
    writeln!(
        s,
        "<!-- ANCHOR_END: attention -->\n\n![loss](attention/loss.svg)\n"
    )
    .unwrap();
    s
}
