//! Chapter 1's command: `rlhf tokenizer`.

use crate::args::Preset;
use crate::progress;
use anyhow::{Context, Result};
use ch01_tokenizer::TokenizerConfig;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct TokenizerArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/tokenizer")]
    pub out: PathBuf,
    /// The corpus to train on, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world/corpus.txt")]
    pub corpus: PathBuf,
    /// The size of the run (`gpu` is the same as `small`).
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Vocabulary size (default: the preset's), bytes and special tokens included.
    #[arg(long)]
    pub vocab_size: Option<usize>,
}

/// `rlhf tokenizer`: train the tokenizer on `corpus` and write it with its plots into `out`.
pub fn tokenizer_command(a: &TokenizerArgs) -> Result<ch01_tokenizer::Report> {
    let (out, corpus) = (&a.out, &a.corpus);
    let mut cfg = TokenizerConfig::preset(a.preset);
    if let Some(v) = a.vocab_size {
        cfg.vocab_size = v;
    }
    cfg.validate().context("--vocab-size")?;
    files::ensure_dir(out, "--out")?;
    let text = world::read_corpus(corpus)?;
    let docs = world::split_corpus(&text);
    let bar = progress::steps(1);
    let (_, report) = ch01_tokenizer::run(&docs, &cfg, out, &mut |what, done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(what.to_string());
    })?;
    bar.finish_and_clear();
    println!(
        "tokenizer: {} tokens, {:.2} bytes/token on held-out text; hand BPE {:.2} ({} of the first {} merges shared) → {}",
        report.vocab_size,
        report.bytes_per_token,
        report.hand_vs_library.hand_bytes_per_token,
        report.hand_vs_library.shared,
        report.hand_vs_library.k,
        out.display()
    );
    Ok(report)
}

/// The report's tokenizer section.
pub fn report_section(tok: &ch01_tokenizer::Report) -> String {
    let mut s = String::from("## Tokenizer\n\n<!-- ANCHOR: tokenizer -->\n");
    writeln!(
        s,
        "| vocabulary asked | reached | held-out bytes per token |\n|---|---|---|"
    )
    .unwrap();
    for p in &tok.sweep {
        writeln!(
            s,
            "| {} | {} | {:.2} |",
            p.requested, p.vocab_size, p.bytes_per_token
        )
        .unwrap();
    }
    let h = &tok.hand_vs_library;
    writeln!(
        s,
        "\nThe pipeline's tokenizer has {} tokens: {:.2} bytes per token on held-out text. The hand-written \
         BPE at the same size: {:.2}; {} of the first {} merges are the same.\n",
        tok.vocab_size, tok.bytes_per_token, h.hand_bytes_per_token, h.shared, h.k
    )
    .unwrap();
    let top: Vec<String> = tok
        .top_tokens
        .iter()
        .take(10)
        .map(|(t, _)| format!("`{}`", t.replace('\n', "\\n")))
        .collect();
    writeln!(s, "Most frequent tokens: {}.\n", top.join(" ")).unwrap();
    writeln!(
        s,
        "A held-out sentence, cut into tokens: `{}`\n<!-- ANCHOR_END: tokenizer -->\n",
        tok.example.join("|")
    )
    .unwrap();
    writeln!(
        s,
        "![compression](tokenizer/compression.svg)\n\n![zipf](tokenizer/zipf.svg)\n"
    )
    .unwrap();
    s
}
