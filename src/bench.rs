//! `rlhf bench`: chapter 3's throughput, optionally side by side with PyTorch.

use crate::args::count;
use anyhow::{Context, Result, ensure};
use ch09_gpu::bench::{self, BenchConfig};
use ch09_gpu::{Compute, Precision};
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Model shape: `reference` (vocab 1024, context 128, width 128, 4 layers, 4 heads),
    /// `tiny`, `small` or `gpt2`.
    #[arg(long, default_value = "reference")]
    pub preset: String,
    /// Sequences per training step.
    #[arg(long, value_parser = count)]
    pub batch: Option<usize>,
    /// Tokens per sequence (default: the preset's; at most the model's context).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Timed training steps.
    #[arg(long, value_parser = count)]
    pub steps: Option<usize>,
    /// Skip the generation measurements.
    #[arg(long)]
    pub no_generate: bool,
    /// A Python with PyTorch: also run bench/pytorch_gpt.py on the same configuration,
    /// alternating with the Rust measurement, and print the ratio.
    #[arg(long)]
    pub pytorch: Option<PathBuf>,
    /// Rounds of (Rust, PyTorch) training measurements; the medians are compared.
    #[arg(long, default_value_t = 3, value_parser = count)]
    pub rounds: usize,
    /// Also measure the model composed from candle's operations (`Gpt::with_fused(false)`,
    /// the path the fused kernels are tested against), for the speed-up they bring.
    #[arg(long)]
    pub composed: bool,
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run `bench/pytorch_gpt.py` with `python` on the same configuration (training, or with
/// `generate` generation with its KV cache); its JSON line.
fn pytorch(python: &Path, cfg: &BenchConfig, generate: bool) -> Result<Value> {
    // From the working directory first: a binary built elsewhere (the GPU machine's copy)
    // runs from the repository's root there.
    let script = [
        Path::new("bench/pytorch_gpt.py").to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/pytorch_gpt.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .context("cannot find bench/pytorch_gpt.py: run from the repository's root")?;
    let m = &cfg.model;
    let out = Command::new(python)
        .arg(&script)
        .args([
            "--vocab",
            &m.vocab_size.to_string(),
            "--ctx",
            &m.n_positions.to_string(),
        ])
        .args([
            "--width",
            &m.n_embd.to_string(),
            "--layers",
            &m.n_layer.to_string(),
            "--heads",
            &m.n_head.to_string(),
        ])
        .args([
            "--batch",
            &cfg.batch.to_string(),
            "--seq-len",
            &cfg.seq_len.to_string(),
        ])
        .args([
            "--steps",
            &cfg.steps.to_string(),
            "--warmup-steps",
            &cfg.warmup_steps.to_string(),
        ])
        .args(["--threads", &threads().to_string()])
        .args([
            "--device",
            if crate::compute::device().is_cpu() {
                "cpu"
            } else {
                "cuda"
            },
        ])
        .args([
            "--precision",
            precision_name(crate::compute::get().precision),
        ])
        .args(if generate {
            vec!["--generate".to_string()]
        } else {
            vec![]
        })
        .args([
            "--gen-batch",
            &cfg.gen_batch.to_string(),
            "--prompt-len",
            &cfg.prompt_len.to_string(),
        ])
        .args(["--new-tokens", &cfg.new_tokens.to_string()])
        .output()
        .with_context(|| {
            format!(
                "cannot run `{}` (--pytorch expects a Python with torch installed)",
                python.display()
            )
        })?;
    ensure!(
        out.status.success(),
        "`{} {}` failed:\n{}",
        python.display(),
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).with_context(|| {
        format!(
            "the PyTorch script printed `{}`, not one JSON line",
            line.trim()
        )
    })
}

fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::F32 { tf32: true } => "f32",
        Precision::F32 { tf32: false } => "f32-strict",
        Precision::Bf16 => "bf16",
    }
}

/// `rlhf bench`: training rounds, then generation rounds (unless `--no-generate`), each
/// measurement one JSON line.
pub fn bench_command(o: &BenchArgs) -> Result<()> {
    let cfg = config(o)?;
    let compute = crate::compute::get();
    let gpu = if compute.device.is_cpu() {
        None
    } else {
        ch09_gpu::gpu_name()
    };
    let out = Lines(json!({
        "preset": o.preset, "model": cfg.model, "threads": threads(),
        "device": compute.describe(), "gpu": gpu,
    }));
    train_rounds(o, &cfg, compute, &out)?;
    if !o.no_generate {
        generate_rounds(o, &cfg, compute, &out)?;
    }
    Ok(())
}

/// The preset's benchmark with the flags' settings.
fn config(o: &BenchArgs) -> Result<BenchConfig> {
    let mut cfg = BenchConfig::preset(&o.preset, 1024)?;
    if let Some(b) = o.batch {
        cfg.batch = b;
    }
    if let Some(t) = o.seq_len {
        ensure!(
            t > 0 && t <= cfg.model.n_positions,
            "--seq-len {t}: expected 1..={} (the model's context)",
            cfg.model.n_positions
        );
        cfg.seq_len = t;
    }
    if let Some(s) = o.steps {
        cfg.steps = s;
    }
    Ok(cfg)
}

/// Prints measurements as JSON lines, each with the fields every line shares.
struct Lines(Value);

impl Lines {
    fn print(&self, mut v: Value) {
        v.as_object_mut()
            .unwrap()
            .extend(self.0.as_object().unwrap().clone());
        println!("{v}");
    }
}

/// PyTorch's measurement of round `round` (`bench/pytorch_gpt.py`, training or generation
/// with its cache) as its JSON line, and its tokens/s.
fn pytorch_round(
    python: &Path,
    cfg: &BenchConfig,
    generate: bool,
    round: usize,
) -> Result<(Value, f64)> {
    let mut v = pytorch(python, cfg, generate)?;
    let tps = v["tokens_per_s"]
        .as_f64()
        .context("PyTorch's line has no tokens_per_s")?;
    v["round"] = json!(round);
    Ok((v, tps))
}

/// The line comparing the medians of our rounds and PyTorch's.
fn ratio(bench: &str, ours: Vec<f64>, theirs: Vec<f64>, meaning: &str) -> Value {
    let rounds = ours.len();
    let (a, b) = (median(ours), median(theirs));
    json!({
        "bench": bench, "rounds": rounds, "rlhf_tokens_per_s": a, "pytorch_tokens_per_s": b,
        "ratio": a / b, "meaning": meaning,
    })
}

/// The same benchmark composed from candle's operations (`Gpt::with_fused(false)`).
fn composed(cfg: &BenchConfig) -> BenchConfig {
    BenchConfig {
        fused: false,
        ..cfg.clone()
    }
}

/// Training throughput for `--rounds` rounds, alternating with PyTorch's when asked, then
/// the ratio of the medians.
fn train_rounds(o: &BenchArgs, cfg: &BenchConfig, compute: &Compute, out: &Lines) -> Result<()> {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        if o.composed {
            let t = bench::train(&composed(cfg), compute)?;
            out.print(json!({
                "bench": "train", "implementation": format!("rlhf composed (candle, {})", compute.describe()), "round": round,
                "tokens_per_s": t.tokens_per_s, "ms_per_step": t.ms_per_step, "profile": t.profile,
                "parameters": t.parameters, "batch": cfg.batch, "seq_len": cfg.seq_len,
            }));
        }
        let t = bench::train(cfg, compute)?;
        ours.push(t.tokens_per_s);
        out.print(json!({
            "bench": "train", "implementation": format!("rlhf (candle, {})", compute.describe()), "round": round,
            "tokens_per_s": t.tokens_per_s, "mfu": t.throughput.mfu, "flops_per_token": t.throughput.flops_per_token,
            "ms_per_step": t.ms_per_step, "profile": t.profile,
            "parameters": t.parameters, "batch": cfg.batch, "seq_len": cfg.seq_len,
        }));
        if let Some(py) = &o.pytorch {
            let (mut v, tps) = pytorch_round(py, cfg, false, round)?;
            theirs.push(tps);
            v["mfu"] = json!(t.throughput.mfu.map(|m| m * tps / t.tokens_per_s));
            out.print(v);
        }
    }
    if o.pytorch.is_some() {
        let meaning = "median rlhf tokens/s over median PyTorch eager tokens/s; above 1 is faster";
        out.print(ratio("train_ratio", ours, theirs, meaning));
    }
    Ok(())
}

/// Generation throughput: with the KV cache, alternating with PyTorch's (its own cache)
/// for `--rounds` rounds; without, once (the quadratic cost the cache removes).
fn generate_rounds(o: &BenchArgs, cfg: &BenchConfig, compute: &Compute, out: &Lines) -> Result<()> {
    let line = |g: &bench::GenerateBench, kv_cache: bool, round: Option<usize>, what: &str| {
        let mut v = json!({
            "bench": "generate", "kv_cache": kv_cache, "implementation": format!("{what} (candle, {})", compute.describe()),
            "tokens_per_s": g.tokens_per_s, "seconds": g.seconds,
            "batch": cfg.gen_batch, "prompt_len": cfg.prompt_len, "new_tokens": cfg.new_tokens,
        });
        if let Some(r) = round {
            v["round"] = json!(r);
        }
        v
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        if o.composed {
            let g = bench::generate(&composed(cfg), true, compute)?;
            out.print(line(&g, true, Some(round), "rlhf composed"));
        }
        let g = bench::generate(cfg, true, compute)?;
        ours.push(g.tokens_per_s);
        out.print(line(&g, true, Some(round), "rlhf"));
        if let Some(py) = &o.pytorch {
            let (v, tps) = pytorch_round(py, cfg, true, round)?;
            theirs.push(tps);
            out.print(v);
        }
    }
    if o.pytorch.is_some() {
        let meaning = "median new tokens/s with the KV cache, rlhf over PyTorch eager with its own cache; above 1 is faster";
        out.print(ratio("generate_ratio", ours, theirs, meaning));
    }
    if compute.device.is_cpu() || cfg.prompt_len + cfg.new_tokens <= 256 {
        // Without the cache (skipped on a GPU for long sequences: minutes for nothing new).
        let g = bench::generate(cfg, false, compute)?;
        out.print(line(&g, false, None, "rlhf"));
    }
    Ok(())
}
