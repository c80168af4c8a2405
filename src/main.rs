//! `rlhf`: the whole workshop as one command. Each subcommand is one stage; `pipeline`
//! (the default) runs every stage into `runs/<name>/` and writes `report.md`.

mod progress;
mod stages;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "rlhf", version, about = "RLHF by building it: world → tokenizer → … → PPO, on a laptop CPU")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate the synthetic world: corpus, prompts, demonstrations, facts.
    World(WorldArgs),
    /// Train the chapter 1 tokenizer on a world's corpus and plot what it does.
    Tokenizer(TokenizerArgs),
    /// Chapter 2: train the hand-written transformer briefly and draw its attention heads.
    Attention(AttentionArgs),
    /// Run every stage that exists, in order, into runs/<name>/ (the default command).
    Pipeline(PipelineArgs),
}

#[derive(Args, Debug, Clone)]
struct WorldArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/world")]
    out: PathBuf,
    /// World preset: `tiny` (tests) or `small` (the default pipeline).
    #[arg(long, default_value = "small")]
    preset: String,
    /// Seed of the world (default: the preset's).
    #[arg(long)]
    seed: Option<u64>,
    /// Corpus size in megabytes (default: the preset's).
    #[arg(long)]
    corpus_mb: Option<f64>,
}

#[derive(Args, Debug, Clone)]
struct TokenizerArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/tokenizer")]
    out: PathBuf,
    /// The corpus to train on, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world/corpus.txt")]
    corpus: PathBuf,
    /// Tokenizer preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Vocabulary size (default: the preset's), bytes and special tokens included.
    #[arg(long)]
    vocab_size: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct AttentionArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/attention")]
    out: PathBuf,
    /// The corpus to train on, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world/corpus.txt")]
    corpus: PathBuf,
    /// The tokenizer, as written by `rlhf tokenizer`.
    #[arg(long, default_value = "runs/default/tokenizer/tokenizer.json")]
    tokenizer: PathBuf,
    /// Preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Training steps (default: the preset's).
    #[arg(long)]
    steps: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct PipelineArgs {
    /// Name of the run: everything goes to <runs>/<name>/.
    #[arg(long, default_value = "default")]
    name: String,
    /// Directory that holds the runs.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Preset for every stage: `tiny` (a quick check) or `small` (the real thing).
    #[arg(long, default_value = "small")]
    preset: String,
    /// Seed of the world (default: the preset's).
    #[arg(long)]
    seed: Option<u64>,
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Some(Command::World(a)) => stages::world_command(&a.out, &a.preset, a.seed, a.corpus_mb).map(|_| ()),
        Some(Command::Tokenizer(a)) => stages::tokenizer_command(&a.out, &a.corpus, &a.preset, a.vocab_size).map(|_| ()),
        Some(Command::Attention(a)) => {
            stages::attention_command(&a.out, &a.corpus, &a.tokenizer, &a.preset, a.steps).map(|_| ())
        }
        Some(Command::Pipeline(a)) => stages::pipeline(&a.runs, &a.name, &a.preset, a.seed),
        None => stages::pipeline(&PathBuf::from("runs"), "default", "small", None),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
