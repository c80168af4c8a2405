//! How fast is it? Training and generation throughput, and where one training step's
//! time goes.
//!
//! The reference configuration is the one `bench/pytorch_gpt.py` trains in PyTorch, so the
//! two can be run side by side on the same machine: vocab 1024, context 128, width 128,
//! 4 layers, 4 heads, batch 32 × 128 tokens, AdamW, f32.

use crate::mfu::Throughput;
use crate::precision::Compute;
use anyhow::Result;
use candle_core::Tensor;
use ch03_gpt::GptConfig;
use ch03_gpt::model::Gpt;
use ch03_gpt::sample::{Sampling, generate_batch};
use ch03_gpt::train::{AdamW, TrainConfig, clip_grad_norm, gradients};
use rand::Rng;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug, Serialize)]
pub struct BenchConfig {
    pub model: GptConfig,
    pub batch: usize,
    pub seq_len: usize,
    /// Untimed training steps first (allocator, caches).
    pub warmup_steps: usize,
    /// Timed training steps.
    pub steps: usize,
    /// Generation: this many prompts at once, each `prompt_len` tokens, continued by
    /// `new_tokens` sampled tokens.
    pub gen_batch: usize,
    pub prompt_len: usize,
    pub new_tokens: usize,
    /// The fused CPU kernels (`true`, the default) or the model composed from candle's
    /// operations (see [`crate::Gpt::fused`]).
    pub fused: bool,
}

impl BenchConfig {
    /// The reference configuration (the and `bench/pytorch_gpt.py`'s defaults).
    pub fn reference() -> Self {
        BenchConfig {
            model: GptConfig::small(1024),
            batch: 32,
            seq_len: 128,
            warmup_steps: 2,
            steps: 10,
            gen_batch: 8,
            prompt_len: 16,
            new_tokens: 112,
            fused: true,
        }
    }

    /// The reference measurement for another model shape (`tiny`, `small`, `gpt2`).
    ///
    /// `gpt2` is GPT-2 small (124M) at batch × context 8 × 1024, as llm.c and nanoGPT
    /// measure it on a GPU, with generation of 64 prompts of 128 tokens continued by 128.
    pub fn preset(name: &str, vocab: usize) -> Result<Self> {
        let model = match name {
            "reference" => return Ok(Self::reference()),
            "tiny" => GptConfig::tiny(vocab),
            "small" => GptConfig::small(vocab),
            "gpt2" => {
                return Ok(BenchConfig {
                    model: GptConfig::gpt2_small(),
                    batch: 8,
                    seq_len: 1024,
                    warmup_steps: 3,
                    steps: 10,
                    gen_batch: 64,
                    prompt_len: 128,
                    new_tokens: 128,
                    fused: true,
                });
            }
            _ => anyhow::bail!(
                "unknown bench preset `{name}`, expected `reference`, `tiny`, `small` or `gpt2`"
            ),
        };
        let seq_len = model.n_positions.min(128);
        Ok(BenchConfig {
            model,
            seq_len,
            prompt_len: seq_len / 8,
            new_tokens: seq_len - seq_len / 8,
            ..Self::reference()
        })
    }
}

/// Where one training step's time goes, in milliseconds (means over the timed steps).
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepProfile {
    pub forward_ms: f64,
    pub loss_ms: f64,
    pub backward_ms: f64,
    pub clip_ms: f64,
    pub adamw_ms: f64,
}

/// Training throughput.
#[derive(Clone, Debug, Serialize)]
pub struct TrainBench {
    pub tokens_per_s: f64,
    /// Tokens/s again, with FLOPs per token and MFU (on a GPU whose peak is known).
    pub throughput: Throughput,
    pub ms_per_step: f64,
    pub profile: StepProfile,
    pub parameters: usize,
}

// ANCHOR: train_bench
/// Time `cfg.steps` full training steps (forward, loss, backward, clipping, AdamW) on
/// random tokens, after `cfg.warmup_steps` untimed ones. On a GPU, each phase ends with a
/// synchronisation, so its time is the GPU's and not only the launch of its kernels.
pub fn train(cfg: &BenchConfig, compute: &Compute) -> Result<TrainBench> {
    let dev = &compute.device;
    let sync = || dev.synchronize();
    let train_cfg = TrainConfig {
        batch: cfg.batch,
        seq_len: cfg.seq_len,
        ..TrainConfig::small()
    };
    let mut rng = world::rng(7, 0);
    let gpt = Gpt::new(cfg.model, ch03_gpt::model::init(&cfg.model, &mut rng, dev)?)
        .with_dtype(compute.precision.dtype())?
        .with_fused(cfg.fused);
    let mut opt = AdamW::new(&gpt.params)?;
    let mut p = StepProfile::default();
    let mut elapsed = 0.0;
    for step in 0..cfg.warmup_steps + cfg.steps {
        let ids: Vec<u32> = (0..cfg.batch * (cfg.seq_len + 1))
            .map(|_| rng.random_range(0..cfg.model.vocab_size as u32))
            .collect();
        let all = Tensor::from_vec(ids, (cfg.batch, cfg.seq_len + 1), dev)?;
        let (x, y) = (
            all.narrow(1, 0, cfg.seq_len)?,
            all.narrow(1, 1, cfg.seq_len)?,
        );
        sync()?;
        let t0 = Instant::now();
        let logits = gpt.forward(&x, None)?; // (B, T, V)
        sync()?;
        let t1 = Instant::now();
        let loss = Gpt::loss(&logits, &y)?;
        loss.to_scalar::<f32>()?;
        let t2 = Instant::now();
        let mut grads = gradients(&gpt.params, &loss)?;
        sync()?;
        let t3 = Instant::now();
        clip_grad_norm(&mut grads, train_cfg.adamw.grad_clip)?;
        sync()?;
        let t4 = Instant::now();
        opt.step(&gpt.params, &grads, train_cfg.lr_at(step), &train_cfg.adamw)?;
        sync()?;
        let t5 = Instant::now();
        if step >= cfg.warmup_steps {
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            p.forward_ms += ms(t0, t1);
            p.loss_ms += ms(t1, t2);
            p.backward_ms += ms(t2, t3);
            p.clip_ms += ms(t3, t4);
            p.adamw_ms += ms(t4, t5);
            elapsed += ms(t0, t5);
        }
    }
    let n = cfg.steps as f64;
    for v in [
        &mut p.forward_ms,
        &mut p.loss_ms,
        &mut p.backward_ms,
        &mut p.clip_ms,
        &mut p.adamw_ms,
    ] {
        *v /= n;
    }
    let ms_per_step = elapsed / n;
    let tokens_per_s = (cfg.batch * cfg.seq_len) as f64 / (ms_per_step / 1e3);
    let throughput = Throughput::training(&cfg.model, cfg.seq_len, tokens_per_s, compute);
    Ok(TrainBench {
        tokens_per_s,
        throughput,
        ms_per_step,
        profile: p,
        parameters: gpt.params.count(),
    })
}
// ANCHOR_END: train_bench

/// Generation throughput.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateBench {
    pub kv_cache: bool,
    /// New tokens per second, all rows together.
    pub tokens_per_s: f64,
    pub seconds: f64,
}

/// Time sampling `cfg.new_tokens` tokens for each of `cfg.gen_batch` random prompts, with
/// or without the KV cache (with it, after one untimed run, as `bench/pytorch_gpt.py` does).
pub fn generate(cfg: &BenchConfig, kv_cache: bool, compute: &Compute) -> Result<GenerateBench> {
    let dev = &compute.device;
    let mut rng = world::rng(8, 0);
    let gpt = Gpt::new(cfg.model, ch03_gpt::model::init(&cfg.model, &mut rng, dev)?)
        .with_dtype(compute.precision.dtype())?
        .with_fused(cfg.fused);
    let prompts: Vec<Vec<u32>> = (0..cfg.gen_batch)
        .map(|_| {
            (0..cfg.prompt_len)
                .map(|_| rng.random_range(0..cfg.model.vocab_size as u32))
                .collect()
        })
        .collect();
    let s = Sampling {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
    };
    if kv_cache {
        generate_batch(&gpt, &prompts, cfg.new_tokens, &s, &[], kv_cache, &mut rng)?; // untimed: allocator, caches
    }
    let t0 = Instant::now();
    let out = generate_batch(&gpt, &prompts, cfg.new_tokens, &s, &[], kv_cache, &mut rng)?;
    let seconds = t0.elapsed().as_secs_f64();
    let tokens: usize = out.iter().map(Vec::len).sum();
    Ok(GenerateBench {
        kv_cache,
        tokens_per_s: tokens as f64 / seconds,
        seconds,
    })
}
