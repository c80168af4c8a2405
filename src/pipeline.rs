//! `rlhf pipeline`: every stage in order, into one run directory, and the report.

use crate::args::{Preset, TrainInputs};
use crate::run_dir::RunDir;
use anyhow::{Result, ensure};
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug, Clone)]
pub struct PipelineArgs {
    /// Name of the run: everything goes to <runs>/<name>/.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Directory that holds the runs.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Preset for every stage: `tiny` (a quick check), `small` (the real thing, on a CPU) or
    /// `gpu` (GPT-2 width and depth: with --device cuda, see scripts/gpu-run.sh).
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Seed of the world (default: the preset's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The labeler's penalty for an off-topic reply to a question (see `rlhf world --help`).
    #[arg(long)]
    pub off_topic_penalty: Option<f64>,
}

impl Default for PipelineArgs {
    /// `rlhf` with no subcommand: the `small` pipeline into `runs/default/`.
    fn default() -> Self {
        PipelineArgs {
            name: "default".into(),
            runs: PathBuf::from("runs"),
            preset: Preset::Small,
            seed: None,
            off_topic_penalty: None,
        }
    }
}

/// `rlhf pipeline`: every stage, in order, into `runs/name/`, then `report.md`.
pub fn pipeline(a: &PipelineArgs) -> Result<()> {
    let (name, preset) = (a.name.as_str(), a.preset);
    ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && name != "..",
        "--name `{name}`: expected letters, digits, `-`, `_` or `.`"
    );
    let run = RunDir::new(a.runs.join(name));
    files::ensure_dir(run.path(), "run directory")?;
    println!("pipeline `{preset}` → {}", run.path().display());
    let mut times = Vec::new();

    let inputs = TrainInputs {
        corpus: run.corpus(),
        tokenizer: run.tokenizer(),
        preset,
        steps: None,
    };
    let w = timed(&mut times, "world", || {
        crate::worldgen::world_command(&crate::worldgen::WorldArgs {
            out: run.world(),
            preset,
            seed: a.seed,
            corpus_mb: None,
            off_topic_penalty: a.off_topic_penalty,
        })
    })?;
    let tok = timed(&mut times, "tokenizer", || {
        crate::tokenizer::tokenizer_command(&crate::tokenizer::TokenizerArgs {
            out: run.stage("tokenizer"),
            corpus: run.corpus(),
            preset,
            vocab_size: None,
        })
    })?;
    let att = timed(&mut times, "attention", || {
        crate::attention::attention_command(&crate::attention::AttentionArgs {
            out: run.stage("attention"),
            input: inputs.clone(),
        })
    })?;
    let pre = timed(&mut times, "pretrain", || {
        crate::gpt::pretrain_command(&crate::gpt::PretrainArgs {
            out: run.stage("pretrain"),
            input: inputs.clone(),
            resume: false,
        })
    })?;
    let (sft, rm, ppo) = later_stages(&run, &run, preset, 0, &mut times)?;
    let model = ch03_gpt::GptConfig::from_hf_file(&run.pretrained().join("config.json"))?;
    let sections = [
        crate::worldgen::report_section(&w),
        crate::tokenizer::report_section(&tok),
        crate::attention::report_section(&att),
        crate::gpt::report_section(&pre),
        crate::sft::report_section(&sft),
        crate::reward::report_section(&rm),
        crate::ppo::report_section(&ppo),
        speed_section(&model, &pre, &sft, &rm, &ppo),
    ];

    let report = render_report(name, preset, &sections, &times);
    files::write_string_atomic(&run.report(), &report)?;
    println!("\n{report}");
    Ok(())
}

/// The stages after pretraining — SFT, the reward model, PPO and the evaluation — into
/// `out`, from the world and pretrained checkpoint of the run `src` (the same directory
/// for a plain pipeline), with draw `draw` of their randomness (0: the presets' seeds).
fn later_stages(
    src: &RunDir,
    out: &RunDir,
    preset: Preset,
    draw: u64,
    times: &mut Vec<StageTime>,
) -> Result<(
    ch04_sft::Report,
    ch05_reward::Report,
    crate::ppo::PpoSummary,
)> {
    let sft = timed(times, "sft", || {
        crate::sft::sft_command(&crate::sft::SftArgs {
            out: out.stage("sft"),
            world: src.world(),
            model: src.pretrained(),
            preset,
            steps: None,
            draw,
        })
    })?;
    let rm = timed(times, "reward model", || {
        crate::reward::reward_command(&crate::reward::RewardArgs {
            out: out.stage("reward"),
            world: src.world(),
            model: out.sft(),
            preset,
            draw,
            ..Default::default()
        })
    })?;
    let ppo = timed(times, "PPO and evaluation", || {
        crate::ppo::ppo_command(&crate::ppo::PpoArgs {
            out: out.stage("ppo"),
            world: src.world(),
            sft: out.sft(),
            reward: out.reward_model(),
            base: Some(src.pretrained()),
            preset,
            draw,
            ..Default::default()
        })
    })?;
    Ok((sft, rm, ppo))
}

/// Another draw of a finished run's stages after pretraining (`rlhf worlds --draws`): SFT,
/// reward model and PPO into `out`, reusing `src`'s world and pretrained model; `out/draw.md`
/// holds the capability table and the time per stage.
pub fn draw(src: &Path, out: &Path, preset: Preset, draw: u64) -> Result<()> {
    ensure!(draw > 0, "draw 0 is the run itself");
    files::ensure_dir(out, "draw directory")?;
    println!(
        "draw {draw} of the stages after pretraining → {}",
        out.display()
    );
    let mut times = Vec::new();
    let (src_run, out_run) = (RunDir::new(src), RunDir::new(out));
    let (_, _, ppo) = later_stages(&src_run, &out_run, preset, draw, &mut times)?;
    let mut s = format!(
        "# Draw {draw} of `{}` (preset `{preset}`)\n\n",
        src.display()
    );
    s += &crate::ppo::report_section(&ppo);
    s += "\n| stage | seconds |\n|---|---|\n";
    for t in &times {
        writeln!(s, "| {} | {:.1} |", t.stage, t.seconds).unwrap();
    }
    files::write_string_atomic(&out.join("draw.md"), &s)
}

/// Training throughput of each stage that trains the GPT: tokens/s, and MFU on a GPU whose
/// peak is known (chapter 9).
fn speed_section(
    model: &ch03_gpt::GptConfig,
    pre: &crate::gpt::PretrainSummary,
    sft: &ch04_sft::Report,
    rm: &ch05_reward::Report,
    ppo: &crate::ppo::PpoSummary,
) -> String {
    use ch09_gpu::Throughput;
    let compute = crate::compute::get();
    // (stage, tokens/s, mean padded sequence length) from (tokens, seconds, Σ widths, steps).
    let row = |stage: &'static str, tokens: usize, seconds: f64, widths: usize, steps: usize| {
        (
            stage,
            tokens as f64 / seconds.max(1e-9),
            (widths / steps.max(1)).max(1),
        )
    };
    let sft_steps = &sft.history[1..];
    let rm_steps = &rm.history[1..];
    let (h, c) = (&ppo.report.history, &ppo.report.config);
    let rows = [
        ("pretrain", pre.tokens_per_s, pre.seq_len),
        row(
            "SFT",
            sft_steps.iter().map(|r| r.tokens).sum(),
            sft_steps.iter().map(|r| r.seconds).sum(),
            sft_steps.iter().map(|r| r.seq_len).sum(),
            sft_steps.len(),
        ),
        row(
            "reward model",
            rm_steps.iter().map(|r| r.tokens).sum(),
            rm_steps.iter().map(|r| r.seconds).sum(),
            rm_steps.iter().map(|r| r.seq_len).sum(),
            rm_steps.len(),
        ),
        row(
            "PPO updates",
            h.iter().map(|s| s.update_tokens).sum(),
            h.iter().map(|s| s.update_seconds).sum(),
            h.iter().map(|s| s.update_seq_len).sum(),
            h.len(),
        ),
    ];
    let mut s = format!(
        "## Speed\n\n<!-- ANCHOR: speed -->\nOn {}",
        compute.describe()
    );
    if let Some(gpu) = (!compute.device.is_cpu())
        .then(ch09_gpu::gpu_name)
        .flatten()
    {
        write!(s, " ({gpu})").unwrap();
    }
    s += ". Training steps only (forward, backward, update). MFU = FLOPs per token (6N + 12·L·C·T) × tokens/s ÷ the GPU's peak.\n\n";
    s += "| stage | tokens/s | mean sequence | MFU |\n|---|---|---|---|\n";
    for (stage, tps, seq) in rows {
        let th = Throughput::training(model, seq, tps, compute);
        let mfu = th
            .mfu
            .map_or("—".to_string(), |m| format!("{:.1}%", 100.0 * m));
        writeln!(s, "| {stage} | {tps:.0} | {seq} | {mfu} |").unwrap();
    }
    let rollout: f64 = h.iter().map(|s| s.rollout_seconds).sum();
    let generated: f64 = h.iter().map(|s| s.length * c.rollout_batch as f64).sum();
    writeln!(
        s,
        "\nPPO rollouts (sampling with the KV cache, then scoring): {:.0} generated tokens/s.",
        generated / rollout.max(1e-9)
    )
    .unwrap();
    s += "<!-- ANCHOR_END: speed -->\n\n";
    s
}

fn render_report(name: &str, preset: Preset, sections: &[String], times: &[StageTime]) -> String {
    let mut s = format!("# Run `{name}` (preset `{preset}`)\n\n");
    for section in sections {
        s += section;
    }
    writeln!(
        s,
        "## Time and memory per stage\n\n| stage | seconds | peak memory (MiB) |\n|---|---|---|"
    )
    .unwrap();
    let mib = |m: Option<u64>| {
        m.map_or("–".to_string(), |kib| {
            format!("{:.0}", kib as f64 / 1024.0)
        })
    };
    for t in times {
        writeln!(
            s,
            "| {} | {:.1} | {} |",
            t.stage,
            t.seconds,
            mib(t.peak_kib)
        )
        .unwrap();
    }
    let peak = times.iter().filter_map(|t| t.peak_kib).max();
    writeln!(
        s,
        "| **total** | **{:.1}** | **{}** |",
        times.iter().map(|t| t.seconds).sum::<f64>(),
        mib(peak)
    )
    .unwrap();
    writeln!(
        s,
        "\nPeak memory is the process's largest resident set during the stage (Linux's `VmHWM`, reset \
         at each stage's start); it includes what the process kept from earlier stages."
    )
    .unwrap();
    s
}

/// One stage's wall time and peak resident memory.
struct StageTime {
    stage: &'static str,
    seconds: f64,
    /// Largest resident set during the stage, in KiB (Linux only).
    peak_kib: Option<u64>,
}

/// Runs one stage, recording its wall time and peak memory in `times`.
fn timed<T>(
    times: &mut Vec<StageTime>,
    stage: &'static str,
    run: impl FnOnce() -> Result<T>,
) -> Result<T> {
    reset_peak_memory();
    let t = Instant::now();
    let out = run()?;
    times.push(StageTime {
        stage,
        seconds: t.elapsed().as_secs_f64(),
        peak_kib: peak_memory_kib(),
    });
    Ok(out)
}

/// Resets the kernel's record of this process's peak resident set (Linux: writing 5 to
/// `/proc/self/clear_refs`); elsewhere, or if refused, the peak stays the process's.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident set since the last reset, in KiB (`VmHWM` in
/// `/proc/self/status`; `None` where there is no such file).
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
