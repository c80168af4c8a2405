//! `rlhf`: the whole workshop as one command. Each subcommand is one stage; `pipeline`
//! (the default) runs every stage into `runs/<name>/` and writes `report.md`.

mod args;
mod attention;
mod bench;
mod beyond;
mod compute;
mod export_data;
mod gpt;
mod loss;
mod overopt;
mod pipeline;
mod ppo;
mod progress;
mod reward;
mod reward_curve;
mod run_dir;
mod sft;
mod tokenizer;
mod worldgen;
mod worlds;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "rlhf",
    version,
    about = "RLHF by building it: world → tokenizer → … → PPO, on a laptop CPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where the models run: `cpu`, or `cuda` / `cuda:N` in a binary built with scripts/cuda-build.sh.
    #[arg(long, global = true, default_value = "cpu")]
    device: String,
    /// Arithmetic: `f32` (TF32 matrix products on a GPU), `f32-strict` (no TF32) or `bf16`
    /// (bf16 matrix products, f32 master weights).
    #[arg(long, global = true, default_value = "f32")]
    precision: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate the synthetic world: corpus, prompts, demonstrations, facts.
    World(worldgen::WorldArgs),
    /// Train the chapter 1 tokenizer on a world's corpus and plot what it does.
    Tokenizer(tokenizer::TokenizerArgs),
    /// Chapter 2: train the hand-written transformer briefly and draw its attention heads.
    Attention(attention::AttentionArgs),
    /// Chapter 3: pretrain the GPT on the corpus (checkpoints in <out>/checkpoint).
    Pretrain(gpt::PretrainArgs),
    /// Chapter 4: fine-tune a pretrained checkpoint on the world's demonstrations.
    Sft(sft::SftArgs),
    /// Chapter 5: train a reward model on labelled comparisons of the SFT model's samples.
    Reward(reward::RewardArgs),
    /// Chapter 5: what each option buys a reward model — more comparisons, the SFT model's knowledge, an ensemble — as a share of the labeler's ceiling.
    RewardCurve(reward_curve::CurveArgs),
    /// Ask a reward model: the normalised score of each response to a prompt.
    Score(reward::ScoreArgs),
    /// Chapter 6: PPO from the SFT model against the reward model, with a KL leash.
    Ppo(ppo::PpoArgs),
    /// Chapter 7: over-optimisation — best-of-n and PPO at several β, measured on the gold reward.
    Overopt(overopt::OveroptArgs),
    /// Chapter 8: DPO (or IPO) from the SFT model on the reward stage's comparisons — no reward model, no sampling.
    Dpo(beyond::DpoArgs),
    /// Chapter 8: GRPO from the SFT model on the world's arithmetic, rewarded by a program that checks the answer.
    Grpo(beyond::GrpoArgs),
    /// Chapter 8: SFT, best-of-n, PPO, DPO, IPO and GRPO on one gold-reward-against-KL frontier, with intervals.
    Frontier(beyond::FrontierArgs),
    /// Write a checkpoint as a Hugging Face directory: a language model as GPT2LMHeadModel, a reward model as GPT2ForSequenceClassification, both with the tokenizer and chat template.
    Export(gpt::ExportArgs),
    /// Write a run's data (demonstrations, comparisons, prompts) as a Hugging Face dataset directory.
    ExportData(export_data::ExportDataArgs),
    /// Chapter 4's or 5's loss on the first rows of an exported dataset, as one JSON line (to compare with TRL's).
    Loss(loss::LossArgs),
    /// Continue a prompt with a checkpoint or a Hugging Face GPT-2 directory.
    Generate(gpt::GenerateArgs),
    /// Run every stage that exists, in order, into runs/<name>/ (the default command).
    Pipeline(pipeline::PipelineArgs),
    /// The pipeline on several worlds; one table of every stage's capabilities with intervals.
    Worlds(worlds::WorldsArgs),
    /// Measure training and generation speed; print one JSON line per measurement.
    Bench(bench::BenchArgs),
}

/// glibc's allocator hands every large block (each activation tensor) back to the kernel
/// when it is freed, and the next step page-faults it in again, zeroed: a quarter of a
/// training step. Keep freed memory in the process instead, in one arena.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() {
    // candle asks for its thread count before every parallel operation and, unless
    // RAYON_NUM_THREADS is set, answers by reading /proc and /sys each time: thousands of
    // file reads per training step. Set it once, before any thread starts.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
    // candle's elementwise operations run on a pool of its own whose workers spin 25,000
    // times after each operation before sleeping — on a small machine, stealing the cores
    // that the matrix multiplications and our kernels (rayon's pool) need next. 1,000 spins
    // cover the gap between two operations of one step: 5–8% faster training on 2 cores.
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "1000") };
    }
    keep_freed_memory();
    let cli = Cli::parse();
    if let Err(e) = compute::init(&cli.device, &cli.precision) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
    let result: Result<()> = match cli.command {
        Some(Command::World(a)) => worldgen::world_command(&a).map(|_| ()),
        Some(Command::Tokenizer(a)) => tokenizer::tokenizer_command(&a).map(|_| ()),
        Some(Command::Attention(a)) => attention::attention_command(&a).map(|_| ()),
        Some(Command::Pretrain(a)) => gpt::pretrain_command(&a).map(|_| ()),
        Some(Command::Sft(a)) => sft::sft_command(&a).map(|_| ()),
        Some(Command::Reward(a)) => reward::reward_command(&a).map(|_| ()),
        Some(Command::RewardCurve(a)) => reward_curve::curve_command(&a),
        Some(Command::Score(a)) => reward::score_command(&a),
        Some(Command::Ppo(a)) => ppo::ppo_command(&a).map(|_| ()),
        Some(Command::Overopt(a)) => overopt::overopt_command(&a).map(|_| ()),
        Some(Command::Dpo(a)) => beyond::dpo_command(&a).map(|_| ()),
        Some(Command::Grpo(a)) => beyond::grpo_command(&a).map(|_| ()),
        Some(Command::Frontier(a)) => beyond::frontier_command(&a).map(|_| ()),
        Some(Command::Export(a)) => gpt::export_command(&a),
        Some(Command::Loss(a)) => loss::loss_command(&a),
        Some(Command::ExportData(a)) => export_data::export_data_command(&a),
        Some(Command::Generate(a)) => gpt::generate_command(&a),
        Some(Command::Bench(a)) => bench::bench_command(&a),
        Some(Command::Worlds(a)) => worlds::worlds_command(&a).map(|_| ()),
        Some(Command::Pipeline(a)) => pipeline::pipeline(&a),
        None => pipeline::pipeline(&pipeline::PipelineArgs::default()),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
