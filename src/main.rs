//! `rlhf`: the whole workshop as one command. Each subcommand is one stage; `pipeline`
//! (the default) runs every stage into `runs/<name>/` and writes `report.md`.

mod bench;
mod beyond;
mod compute;
mod export_data;
mod gpt;
mod loss;
mod overopt;
mod ppo;
mod progress;
mod reward;
mod sft;
mod stages;
mod worlds;

use anyhow::Result;
use ch08_beyond::PreferenceLoss;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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
    World(WorldArgs),
    /// Train the chapter 1 tokenizer on a world's corpus and plot what it does.
    Tokenizer(TokenizerArgs),
    /// Chapter 2: train the hand-written transformer briefly and draw its attention heads.
    Attention(AttentionArgs),
    /// Chapter 3: pretrain the GPT on the corpus (checkpoints in <out>/checkpoint).
    Pretrain(PretrainArgs),
    /// Chapter 4: fine-tune a pretrained checkpoint on the world's demonstrations.
    Sft(SftArgs),
    /// Chapter 5: train a reward model on labelled comparisons of the SFT model's samples.
    Reward(RewardArgs),
    /// Ask a reward model: the normalised score of each response to a prompt.
    Score(ScoreArgs),
    /// Chapter 6: PPO from the SFT model against the reward model, with a KL leash.
    Ppo(PpoArgs),
    /// Chapter 7: over-optimisation — best-of-n and PPO at several β, measured on the gold reward.
    Overopt(OveroptArgs),
    /// Chapter 8: DPO (or IPO) from the SFT model on the reward stage's comparisons — no reward model, no sampling.
    Dpo(DpoArgs),
    /// Chapter 8: GRPO from the SFT model on the world's arithmetic, rewarded by a program that checks the answer.
    Grpo(GrpoArgs),
    /// Chapter 8: SFT, best-of-n, PPO, DPO, IPO and GRPO on one gold-reward-against-KL frontier, with intervals.
    Frontier(FrontierArgs),
    /// Write a checkpoint as a Hugging Face directory: a language model as GPT2LMHeadModel, a reward model as GPT2ForSequenceClassification, both with the tokenizer and chat template.
    Export(ExportArgs),
    /// Write a run's data (demonstrations, comparisons, prompts) as a Hugging Face dataset directory.
    ExportData(ExportDataArgs),
    /// Chapter 4's or 5's loss on the first rows of an exported dataset, as one JSON line (to compare with TRL's).
    Loss(LossArgs),
    /// Continue a prompt with a checkpoint or a Hugging Face GPT-2 directory.
    Generate(GenerateArgs),
    /// Run every stage that exists, in order, into runs/<name>/ (the default command).
    Pipeline(PipelineArgs),
    /// The pipeline on several worlds; one table of every stage's capabilities with intervals.
    Worlds(WorldsArgs),
    /// Measure training and generation speed; print one JSON line per measurement.
    Bench(BenchArgs),
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
    /// The labeler's penalty for an off-topic reply to a question (default 0: the world's
    /// labeler as first written; 2 closes the gap PPO games).
    #[arg(long)]
    off_topic_penalty: Option<f64>,
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

/// What the training stages read, and how long they train.
#[derive(Args, Debug, Clone)]
struct TrainInputs {
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
struct AttentionArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/attention")]
    out: PathBuf,
    #[command(flatten)]
    input: TrainInputs,
}

#[derive(Args, Debug, Clone)]
struct PretrainArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/pretrain")]
    out: PathBuf,
    #[command(flatten)]
    input: TrainInputs,
    /// Continue the checkpoint in <out>/checkpoint instead of starting afresh.
    #[arg(long)]
    resume: bool,
}

#[derive(Args, Debug, Clone)]
struct SftArgs {
    /// Output directory (the fine-tuned model goes to <out>/checkpoint).
    #[arg(long, default_value = "runs/default/sft")]
    out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    world: PathBuf,
    /// The pretrained checkpoint (with its tokenizer.json).
    #[arg(long, default_value = "runs/default/pretrain/checkpoint")]
    model: PathBuf,
    /// Preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Training steps (default: the preset's).
    #[arg(long)]
    steps: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct RewardArgs {
    /// Output directory (the reward model goes to <out>/checkpoint).
    #[arg(long, default_value = "runs/default/reward")]
    out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    world: PathBuf,
    /// The SFT checkpoint: it samples the responses and initialises the reward model.
    #[arg(long, default_value = "runs/default/sft/checkpoint")]
    model: PathBuf,
    /// Preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// The simulated labeler's temperature (default 0.5; higher is noisier).
    #[arg(long)]
    labeler_temperature: Option<f64>,
    /// Peak learning rate (default: the preset's).
    #[arg(long)]
    lr: Option<f64>,
    /// Passes over the comparisons (default: the preset's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Temperature of the SFT policy's samples that are compared (default: the preset's).
    #[arg(long)]
    sample_temperature: Option<f64>,
    /// Off-prompt candidates per prompt (default: the preset's).
    #[arg(long)]
    off_prompt: Option<usize>,
    /// Show the labeler a refusal and "I don't know" on every training prompt: `true` or
    /// `false` (default: the preset's).
    #[arg(long)]
    non_answers: Option<bool>,
    /// Give the reward model the SFT model's mean log-probability of the response as a
    /// second input (chapter 5, "What the reward model does not know"): `true` or `false`
    /// (default: the preset's).
    #[arg(long)]
    knowledge: Option<bool>,
    /// Responses sampled per prompt (K; every pair of them is compared).
    #[arg(long)]
    k: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct ScoreArgs {
    /// The reward model, as written by `rlhf reward`.
    #[arg(long, default_value = "runs/default/reward/checkpoint")]
    reward: PathBuf,
    /// The user's message (the chat template is added).
    #[arg(long)]
    prompt: String,
    /// A response to score (repeat for several); `<|end|>` is added when missing.
    #[arg(long, required = true)]
    response: Vec<String>,
    /// One JSON line per response: its text, raw score and normalised score.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Clone)]
struct OveroptArgs {
    /// A finished pipeline run: its world, SFT model and reward model are the studies' start.
    #[arg(long, default_value = "runs/default")]
    run: PathBuf,
    /// Output directory (default: <run>/overopt).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Preset of the studies, and of the run's reward model and PPO: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
}

#[derive(Args, Debug, Clone)]
struct PpoArgs {
    /// Output directory (the policy goes to <out>/checkpoint).
    #[arg(long, default_value = "runs/default/ppo")]
    out: PathBuf,
    /// The world, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world")]
    world: PathBuf,
    /// The SFT checkpoint: the initial policy and the frozen reference.
    #[arg(long, default_value = "runs/default/sft/checkpoint")]
    sft: PathBuf,
    /// The reward model, as written by `rlhf reward`.
    #[arg(long, default_value = "runs/default/reward/checkpoint")]
    reward: PathBuf,
    /// A base checkpoint to measure in the same table (optional).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// PPO iterations (default: the preset's).
    #[arg(long)]
    iterations: Option<usize>,
    /// β, the KL coefficient (default: the preset's).
    #[arg(long)]
    kl_coef: Option<f64>,
    /// Sampling temperature of the rollouts (default: the preset's).
    #[arg(long)]
    temperature: Option<f64>,
    /// Learning rate (default: the preset's).
    #[arg(long)]
    lr: Option<f64>,
    /// Prompts per rollout batch (default: the preset's).
    #[arg(long)]
    rollout_batch: Option<usize>,
    /// Subtract the reward of the SFT model's greedy answer to the same prompt from each
    /// score: `true` or `false` (default: the preset's).
    #[arg(long)]
    prompt_baseline: Option<bool>,
    /// γ of PPO-ptx: weight of the pretraining loss in every update (default: the preset's).
    #[arg(long)]
    ptx_coef: Option<f64>,
    /// Share of PPO-ptx's text taken from the SFT demonstrations rather than the corpus
    /// (default: the preset's).
    #[arg(long)]
    ptx_demo_share: Option<f64>,
}

#[derive(Args, Debug, Clone)]
struct DpoArgs {
    /// A finished pipeline run: its world, SFT model, reward model and comparisons.
    #[arg(long, default_value = "runs/default")]
    run: PathBuf,
    /// Output directory (default: <run>/dpo, or <run>/ipo with `--loss ipo`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// The loss: `dpo` or `ipo`.
    #[arg(long, default_value = "dpo")]
    loss: String,
    /// β (default: the preset's).
    #[arg(long)]
    beta: Option<f64>,
    /// Optimiser steps (default: the preset's).
    #[arg(long)]
    steps: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct GrpoArgs {
    /// A finished pipeline run: its world, SFT model and reward model (to measure with).
    #[arg(long, default_value = "runs/default")]
    run: PathBuf,
    /// Output directory (default: <run>/grpo).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Preset: `tiny` or `small`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Iterations (default: the preset's).
    #[arg(long)]
    iterations: Option<usize>,
    /// Learning rate (default: the preset's).
    #[arg(long)]
    lr: Option<f64>,
    /// RLOO's leave-one-out baseline instead of GRPO's standardised advantage.
    #[arg(long)]
    rloo: bool,
}

#[derive(Args, Debug, Clone)]
struct FrontierArgs {
    /// A finished run, with whichever of ppo/, dpo/, ipo/, grpo/ it has.
    #[arg(long, default_value = "runs/default")]
    run: PathBuf,
    /// Output directory (default: <run>/frontier).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Best-of-n columns, comma-separated n.
    #[arg(long, value_delimiter = ',', default_value = "4,16")]
    best_of: Vec<usize>,
}

#[derive(Args, Debug, Clone)]
struct ExportArgs {
    /// A checkpoint of the project (pretrain, sft, reward or ppo `checkpoint/`) or any GPT-2 directory with tokenizer.json.
    #[arg(long)]
    model: PathBuf,
    /// The directory to write (replaced only once complete).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug, Clone)]
struct LossArgs {
    /// A language model (the SFT loss) or a reward model (the pairwise loss), e.g. as `rlhf export` wrote it.
    #[arg(long)]
    model: PathBuf,
    /// An exported dataset file: `sft/*.jsonl` for a language model, `preference/*.jsonl` for a reward model.
    #[arg(long)]
    data: PathBuf,
    /// How many rows, from the first, make the batch.
    #[arg(long, default_value_t = 8)]
    rows: usize,
}

#[derive(Args, Debug, Clone)]
struct ExportDataArgs {
    /// A pipeline run: its world, and the SFT split and reward comparisons where those stages ran.
    #[arg(long, default_value = "runs/default")]
    run: PathBuf,
    /// The dataset directory to write (default: <run>/dataset; replaced only once complete).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct GenerateArgs {
    /// A checkpoint directory or a Hugging Face GPT-2 directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// The text to continue.
    #[arg(long)]
    prompt: String,
    /// Always take the most likely token.
    #[arg(long, conflicts_with_all = ["temperature", "top_k", "top_p"])]
    greedy: bool,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Sample only among the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sample only among the most likely tokens that make up probability p.
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object: prompt_ids, new_ids, text.
    #[arg(long)]
    json: bool,
    /// With --json: also the logits at the prompt's last position (`last_logits`), to compare
    /// with another implementation (scripts/check-export.py).
    #[arg(long, requires = "json")]
    logits: bool,
}

#[derive(Args, Debug, Clone)]
struct PipelineArgs {
    /// Name of the run: everything goes to <runs>/<name>/.
    #[arg(long, default_value = "default")]
    name: String,
    /// Directory that holds the runs.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Preset for every stage: `tiny` (a quick check), `small` (the real thing, on a CPU) or
    /// `gpu` (GPT-2 width and depth: with --device cuda, see scripts/gpu-run.sh).
    #[arg(long, default_value = "small")]
    preset: String,
    /// Seed of the world (default: the preset's).
    #[arg(long)]
    seed: Option<u64>,
    /// The labeler's penalty for an off-topic reply to a question (see `rlhf world --help`).
    #[arg(long)]
    off_topic_penalty: Option<f64>,
}

#[derive(Args, Debug, Clone)]
struct WorldsArgs {
    /// World seeds, comma-separated: each gets its own pipeline run in <runs>/<name>/seed-<S>/
    /// (a finished run is reused). The book uses the default world and two evaluation worlds.
    #[arg(long, value_delimiter = ',', default_value = "1234,15223,39417")]
    seeds: Vec<u64>,
    /// Name of the study: everything goes to <runs>/<name>/, the table to worlds.md.
    #[arg(long, default_value = "worlds")]
    name: String,
    /// Directory that holds the runs.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Preset for every stage of every run.
    #[arg(long, default_value = "small")]
    preset: String,
    /// The labeler's penalty for an off-topic reply to a question (see `rlhf world --help`).
    #[arg(long)]
    off_topic_penalty: Option<f64>,
    /// Draws of the stages after pretraining (SFT, reward model, PPO) per world, each with
    /// its own seeds, into <run>/draw-<D>/; the table pools them, and every finished draw a
    /// run already has (chapter 6: how much of a result is the draw of the training, not
    /// the prompts).
    #[arg(long, default_value_t = 1)]
    draws: usize,
}

#[derive(Args, Debug, Clone)]
struct BenchArgs {
    /// Model shape: `reference` (vocab 1024, context 128, width 128, 4 layers, 4 heads),
    /// `tiny`, `small` or `gpt2`.
    #[arg(long, default_value = "reference")]
    preset: String,
    /// Sequences per training step.
    #[arg(long)]
    batch: Option<usize>,
    /// Tokens per sequence (default: the preset's; at most the model's context).
    #[arg(long)]
    seq_len: Option<usize>,
    /// Timed training steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Skip the generation measurements.
    #[arg(long)]
    no_generate: bool,
    /// A Python with PyTorch: also run bench/pytorch_gpt.py on the same configuration,
    /// alternating with the Rust measurement, and print the ratio.
    #[arg(long)]
    pytorch: Option<PathBuf>,
    /// Rounds of (Rust, PyTorch) training measurements; the medians are compared.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Also measure the model composed from candle's operations (`Gpt::with_fused(false)`,
    /// the path the fused kernels are tested against), for the speed-up they bring.
    #[arg(long)]
    composed: bool,
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
        Some(Command::World(a)) => {
            stages::world_command(&a.out, &a.preset, a.seed, a.corpus_mb, a.off_topic_penalty)
                .map(|_| ())
        }
        Some(Command::Tokenizer(a)) => {
            stages::tokenizer_command(&a.out, &a.corpus, &a.preset, a.vocab_size).map(|_| ())
        }
        Some(Command::Attention(a)) => {
            let i = &a.input;
            stages::attention_command(&a.out, &i.corpus, &i.tokenizer, &i.preset, i.steps)
                .map(|_| ())
        }
        Some(Command::Pretrain(a)) => {
            let i = &a.input;
            gpt::pretrain_command(
                &a.out,
                &i.corpus,
                &i.tokenizer,
                &i.preset,
                i.steps,
                a.resume,
            )
            .map(|_| ())
        }
        Some(Command::Sft(a)) => {
            sft::sft_command(&a.out, &a.world, &a.model, &a.preset, a.steps, 0).map(|_| ())
        }
        Some(Command::Reward(a)) => reward::reward_command(
            &a.out,
            &a.world,
            &a.model,
            &a.preset,
            &reward::Overrides {
                labeler_temperature: a.labeler_temperature,
                lr: a.lr,
                epochs: a.epochs,
                sample_temperature: a.sample_temperature,
                off_prompt: a.off_prompt,
                non_answers: a.non_answers,
                knowledge: a.knowledge,
                k: a.k,
                draw: 0,
            },
        )
        .map(|_| ()),
        Some(Command::Score(a)) => reward::score_command(&a.reward, &a.prompt, &a.response, a.json),
        Some(Command::Ppo(a)) => ppo::ppo_command(
            &a.out,
            &a.world,
            &a.sft,
            &a.reward,
            a.base.as_deref(),
            &a.preset,
            &ppo::Overrides {
                iterations: a.iterations,
                kl_coef: a.kl_coef,
                temperature: a.temperature,
                lr: a.lr,
                rollout_batch: a.rollout_batch,
                prompt_baseline: a.prompt_baseline,
                ptx_coef: a.ptx_coef,
                ptx_demo_share: a.ptx_demo_share,
                draw: 0,
            },
        )
        .map(|_| ()),
        Some(Command::Overopt(a)) => {
            let out = a.out.clone().unwrap_or_else(|| a.run.join("overopt"));
            overopt::overopt_command(&a.run, &out, &a.preset).map(|_| ())
        }
        Some(Command::Dpo(a)) => {
            let out = a.out.clone().unwrap_or_else(|| a.run.join(a.loss.as_str()));
            match a.loss.as_str() {
                "dpo" => Ok(PreferenceLoss::Dpo),
                "ipo" => Ok(PreferenceLoss::Ipo),
                other => Err(anyhow::anyhow!("--loss `{other}`: expected `dpo` or `ipo`")),
            }
            .and_then(|loss| {
                let o = beyond::DpoOverrides {
                    loss: Some(loss),
                    beta: a.beta,
                    steps: a.steps,
                };
                beyond::dpo_command(&a.run, &out, &a.preset, o).map(|_| ())
            })
        }
        Some(Command::Grpo(a)) => {
            let out = a.out.clone().unwrap_or_else(|| a.run.join("grpo"));
            beyond::grpo_command(&a.run, &out, &a.preset, a.iterations, a.lr, a.rloo).map(|_| ())
        }
        Some(Command::Frontier(a)) => {
            let out = a.out.clone().unwrap_or_else(|| a.run.join("frontier"));
            beyond::frontier_command(&a.run, &out, &a.best_of).map(|_| ())
        }
        Some(Command::Export(a)) => gpt::export_command(&a.model, &a.out),
        Some(Command::Loss(a)) => loss::loss_command(&a.model, &a.data, a.rows),
        Some(Command::ExportData(a)) => {
            let out = a.out.clone().unwrap_or_else(|| a.run.join("dataset"));
            export_data::export_data_command(&a.run, &out)
        }
        Some(Command::Generate(a)) => {
            let sampling = if a.greedy {
                ch03_gpt::sample::Sampling::GREEDY
            } else {
                ch03_gpt::sample::Sampling {
                    temperature: a.temperature,
                    top_k: a.top_k,
                    top_p: a.top_p,
                }
            };
            gpt::generate_command(
                &a.model,
                &a.prompt,
                a.max_new_tokens,
                sampling,
                a.seed,
                a.json,
                a.logits,
            )
        }
        Some(Command::Bench(a)) => bench::bench_command(&bench::BenchOptions {
            preset: a.preset,
            batch: a.batch,
            seq_len: a.seq_len,
            steps: a.steps,
            generate: !a.no_generate,
            composed: a.composed,
            pytorch: a.pytorch,
            rounds: a.rounds,
        }),
        Some(Command::Worlds(a)) => worlds::worlds_command(
            &a.runs,
            &a.name,
            &a.preset,
            &a.seeds,
            a.draws,
            a.off_topic_penalty,
        )
        .map(|_| ()),
        Some(Command::Pipeline(a)) => {
            stages::pipeline(&a.runs, &a.name, &a.preset, a.seed, a.off_topic_penalty)
        }
        None => stages::pipeline(&PathBuf::from("runs"), "default", "small", None, None),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
