//! Pretraining: AdamW, warmup then cosine decay, gradient clipping by global norm,
//! held-out loss, checkpoints written atomically, and a resume that continues exactly.

use crate::config::GptConfig;
use crate::model::{Gpt, Params};
use anyhow::{Context, Result, ensure};
use candle_core::{Device, Tensor, Var};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

// ANCHOR: adamw_config
/// AdamW and its learning-rate schedule: the optimiser of every stage that trains a GPT
/// (pretraining, SFT, the reward model, PPO, DPO, GRPO), configured the same way in each.
/// The scheduled stages embed it flattened (their JSON lists these fields beside their own);
/// the RL-style ones, at a constant learning rate, make theirs with [`AdamWConfig::constant`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Peak learning rate, reached after `warmup` steps.
    pub lr: f64,
    /// The learning rate cosine-decays to this by the last step (`lr`: constant).
    pub min_lr: f64,
    pub warmup: usize,
    /// Decoupled weight decay (AdamW), on matrices only: not on biases, gains, or any 1-D parameter.
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    pub grad_clip: f64,
}
// ANCHOR_END: adamw_config

impl AdamWConfig {
    /// The tiny pretraining's: peak 3·10⁻³ after 10 warmup steps, cosine decay to a tenth,
    /// weight decay 0.1 on matrices, β₂ = 0.95 as GPT-3 and nanoGPT, gradients clipped to
    /// norm 1. Every other stage starts from it and changes what it needs.
    pub fn tiny() -> Self {
        AdamWConfig {
            lr: 3e-3,
            min_lr: 3e-4,
            warmup: 10,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            grad_clip: 1.0,
        }
    }

    /// The tiny fine-tuning's (SFT and the reward model, chapters 4 and 5): peak 10⁻³ after
    /// 10 warmup steps, cosine decay to a tenth, no weight decay.
    pub fn fine_tuning() -> Self {
        AdamWConfig {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup: 10,
            weight_decay: 0.0,
            ..Self::tiny()
        }
    }

    /// A constant learning rate, AdamW without weight decay, gradients clipped to a global
    /// norm of `grad_clip`: the optimiser of the RL-style stages (chapters 6 and 8, as in TRL).
    pub fn constant(lr: f64, grad_clip: f64) -> Self {
        AdamWConfig {
            lr,
            min_lr: lr,
            warmup: 0,
            weight_decay: 0.0,
            grad_clip,
            ..Self::tiny()
        }
    }

    /// The same schedule with peak `lr`: `min_lr` scales with it.
    pub fn with_lr(&self, lr: f64) -> Self {
        AdamWConfig {
            lr,
            min_lr: self.min_lr * (lr / self.lr),
            ..self.clone()
        }
    }

    /// Learning rate at `step` (0-based) of `steps`: linear warmup to `lr`, then cosine
    /// decay to `min_lr`.
    ///
    /// ```text
    /// lr(s) = lr · (s + 1) / warmup                                   s < warmup
    /// lr(s) = min_lr + ½ (lr − min_lr)(1 + cos(π (s − warmup)/(steps − warmup)))   otherwise
    /// ```
    pub fn lr_at(&self, step: usize, steps: usize) -> f64 {
        if step < self.warmup {
            return self.lr * (step + 1) as f64 / self.warmup as f64;
        }
        let span = (steps.saturating_sub(self.warmup)).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        self.min_lr
            + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
    }

    /// Check every field is in range; the error names the field.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.lr > 0.0 && self.min_lr >= 0.0 && self.min_lr <= self.lr,
            "need 0 ≤ min_lr ≤ lr, lr > 0 (lr = {}, min_lr = {})",
            self.lr,
            self.min_lr
        );
        ensure!(
            (0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2),
            "beta1 and beta2 must be in [0, 1)"
        );
        ensure!(self.eps > 0.0, "eps must be positive");
        ensure!(
            self.weight_decay >= 0.0 && self.grad_clip >= 0.0,
            "weight_decay and grad_clip must be ≥ 0"
        );
        Ok(())
    }
}

/// How to pretrain. Every detail is a named field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub steps: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Tokens per sequence (at most the model's context).
    pub seq_len: usize,
    /// The optimiser and its schedule.
    #[serde(flatten)]
    pub adamw: AdamWConfig,
    pub eval_every: usize,
    /// Batches of held-out text per evaluation.
    pub eval_batches: usize,
    pub seed: u64,
}

impl TrainConfig {
    /// For tests: seconds.
    pub fn tiny() -> Self {
        TrainConfig {
            steps: 120,
            batch: 8,
            seq_len: 64,
            adamw: AdamWConfig::tiny(),
            eval_every: 20,
            eval_batches: 4,
            seed: 3,
        }
    }

    /// The CPU pipeline's pretraining: 800 steps of 16 × 128 tokens (about 5 minutes on
    /// 2 cores; two passes over the corpus). Long enough to learn most of the world's facts:
    /// after 200 steps the model completes about one fact in five, after 800 three in four
    /// — and RLHF cannot make a model helpful with knowledge it does not have.
    pub fn small() -> Self {
        TrainConfig {
            steps: 800,
            batch: 16,
            seq_len: 128,
            adamw: AdamWConfig {
                lr: 2e-3,
                min_lr: 2e-4,
                warmup: 20,
                ..AdamWConfig::tiny()
            },
            eval_every: 50,
            ..Self::tiny()
        }
    }

    /// The GPU pipeline's pretraining of [`crate::GptConfig::gpt2_body`]: 600 steps of
    /// 32 × 256 tokens (4.9M tokens, about 1.5 passes over the `gpu` world's corpus), peak
    /// learning rate 6e-4 as GPT-2 small's in nanoGPT.
    pub fn gpu() -> Self {
        TrainConfig {
            steps: 600,
            batch: 32,
            seq_len: 256,
            adamw: AdamWConfig {
                lr: 6e-4,
                min_lr: 6e-5,
                warmup: 60,
                ..AdamWConfig::tiny()
            },
            eval_every: 100,
            ..Self::tiny()
        }
    }

    /// Learning rate at `step` (0-based) of this run's schedule ([`AdamWConfig::lr_at`]).
    pub fn lr_at(&self, step: usize) -> f64 {
        self.adamw.lr_at(step, self.steps)
    }

    pub fn validate(&self, model: &GptConfig) -> Result<()> {
        ensure!(
            self.steps > 0 && self.batch > 0,
            "steps and batch must be positive"
        );
        ensure!(
            self.seq_len >= 2 && self.seq_len <= model.n_positions,
            "seq_len = {} must be in 2..={} (the model's context)",
            self.seq_len,
            model.n_positions
        );
        self.adamw.validate()?;
        ensure!(
            self.eval_every > 0 && self.eval_batches > 0,
            "eval_every and eval_batches must be positive"
        );
        Ok(())
    }
}

/// AdamW's running moments, one pair per parameter.
pub struct AdamW {
    pub m: BTreeMap<String, Tensor>,
    pub v: BTreeMap<String, Tensor>,
    /// Updates done so far.
    pub t: usize,
}

impl AdamW {
    /// Zero moments for every variable of `params`.
    pub fn new(params: &Params) -> Result<AdamW> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        let m = params
            .vars
            .iter()
            .map(|(n, v)| Ok((n.clone(), zeros(v)?)))
            .collect::<Result<_>>()?;
        let v = params
            .vars
            .iter()
            .map(|(n, v)| Ok((n.clone(), zeros(v)?)))
            .collect::<Result<_>>()?;
        Ok(AdamW { m, v, t: 0 })
    }

    // ANCHOR: adamw
    /// One update with learning rate `lr` of every parameter ([`adamw_update`]; on CPU the
    /// same update in place, [`crate::fused_adamw`]).
    pub fn step(
        &mut self,
        params: &Params,
        grads: &BTreeMap<String, Tensor>,
        lr: f64,
        cfg: &AdamWConfig,
    ) -> Result<()> {
        self.t += 1;
        for (name, var) in &params.vars {
            let g = &grads[name];
            let theta = var.as_tensor();
            let decay = if theta.rank() >= 2 {
                cfg.weight_decay
            } else {
                0.0
            };
            let (m, v) = (&self.m[name], &self.v[name]);
            if crate::fused_adamw::fusable(theta)
                && crate::fused_adamw::fusable(m)
                && crate::fused_adamw::fusable(v)
            {
                let (c1, c2) = (
                    1.0 - cfg.beta1.powi(self.t as i32),
                    1.0 - cfg.beta2.powi(self.t as i32),
                );
                crate::fused_adamw::step(
                    theta, m, v, g, lr, cfg.beta1, cfg.beta2, c1, c2, cfg.eps, decay,
                )?;
                continue;
            }
            let (theta, m, v) = adamw_update(theta, m, v, g, lr, self.t, decay, cfg)?;
            var.set(&theta)?;
            self.m.insert(name.clone(), m);
            self.v.insert(name.clone(), v);
        }
        Ok(())
    }

    /// One optimiser step on `loss`: backpropagate, clip the global gradient norm to
    /// `cfg.grad_clip` ([`clipped_grads`]), update every parameter at learning rate `lr`.
    /// Returns the gradient norm before clipping. The training loop of every chapter.
    pub fn minimise(
        &mut self,
        params: &Params,
        loss: &Tensor,
        lr: f64,
        cfg: &AdamWConfig,
    ) -> Result<f64> {
        let (grads, norm) = clipped_grads(params, loss, cfg.grad_clip)?;
        self.step(params, &grads, lr, cfg)?;
        Ok(norm)
    }
    // ANCHOR_END: adamw
}

// ANCHOR: adamw_update
/// One AdamW update of one parameter θ with gradient g at step t (from 1), its moments m
/// and v, and weight decay λ (0 for 1-D parameters); returns the new (θ, m, v):
///
/// ```text
/// m ← β₁ m + (1 − β₁) g        v ← β₂ v + (1 − β₂) g²
/// θ ← θ − lr · ( m/(1 − β₁ᵗ) / (√(v/(1 − β₂ᵗ)) + ε) + λ θ )
/// ```
#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    theta: &Tensor,
    m: &Tensor,
    v: &Tensor,
    g: &Tensor,
    lr: f64,
    t: usize,
    decay: f64,
    cfg: &AdamWConfig,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b1, b2) = (cfg.beta1, cfg.beta2);
    let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
    let m = ((m * b1)? + (g * (1.0 - b1))?)?;
    let v = ((v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
    let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + cfg.eps)?)?;
    let update = (update + (theta * decay)?)?;
    Ok(((theta - (update * lr)?)?.detach(), m.detach(), v.detach()))
}
// ANCHOR_END: adamw_update

/// The gradient of every parameter, scaled so that their global norm
/// `√(Σ ‖g‖²)` is at most `clip` (0: unscaled). Returns the grads and the norm before clipping.
pub fn clipped_grads(
    params: &Params,
    loss: &Tensor,
    clip: f64,
) -> Result<(BTreeMap<String, Tensor>, f64)> {
    let mut grads = gradients(params, loss)?;
    let norm = clip_grad_norm(&mut grads, clip)?;
    Ok((grads, norm))
}

/// Backpropagate `loss` and collect every parameter's gradient by name.
pub fn gradients(params: &Params, loss: &Tensor) -> Result<BTreeMap<String, Tensor>> {
    let store = loss.backward()?;
    let mut grads = BTreeMap::new();
    for (name, var) in &params.vars {
        // Detached: a gradient remembers the operations that made it, and keeping that
        // graph alive (in the optimiser's moments) would keep every step's activations too.
        let g = store
            .get(var)
            .with_context(|| format!("no gradient for `{name}`"))?
            .detach();
        grads.insert(name.clone(), g);
    }
    Ok(grads)
}

// ANCHOR: clip
/// Scale `grads` so their global norm `√(Σ ‖g‖²)` is at most `clip` (0: leave them);
/// return the norm before clipping.
pub fn clip_grad_norm(grads: &mut BTreeMap<String, Tensor>, clip: f64) -> Result<f64> {
    let mut sq = 0.0f64;
    for g in grads.values() {
        sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    let norm = sq.sqrt();
    if clip > 0.0 && norm > clip {
        let scale = clip / (norm + 1e-6);
        for g in grads.values_mut() {
            *g = (&*g * scale)?;
        }
    }
    Ok(norm)
}
// ANCHOR_END: clip

/// The batch of step `step`: `batch` random windows of `seq_len + 1` tokens. It depends
/// only on the seed and the step, so a resumed run sees the very same batches.
pub fn batch_at(
    tokens: &[u32],
    cfg: &TrainConfig,
    step: usize,
    dev: &Device,
) -> Result<(Tensor, Tensor)> {
    ensure!(
        tokens.len() > cfg.seq_len + 1,
        "{} tokens are too few for sequences of {}",
        tokens.len(),
        cfg.seq_len
    );
    let mut rng = world::rng(cfg.seed, 1_000_000 + step as u64);
    let mut rows = Vec::with_capacity(cfg.batch * (cfg.seq_len + 1));
    for _ in 0..cfg.batch {
        let start = rng.random_range(0..tokens.len() - cfg.seq_len - 1);
        rows.extend_from_slice(&tokens[start..start + cfg.seq_len + 1]);
    }
    let all = Tensor::from_vec(rows, (cfg.batch, cfg.seq_len + 1), dev)?;
    Ok((
        all.narrow(1, 0, cfg.seq_len)?,
        all.narrow(1, 1, cfg.seq_len)?,
    ))
}

/// Mean loss over `n` fixed batches of `tokens` (the same batches at every evaluation).
pub fn eval_loss(
    gpt: &Gpt,
    tokens: &[u32],
    cfg: &TrainConfig,
    n: usize,
    dev: &Device,
) -> Result<f64> {
    let eval_cfg = TrainConfig {
        seed: cfg.seed ^ 0xE7A1,
        ..cfg.clone()
    };
    let mut total = 0.0;
    for i in 0..n {
        let (x, y) = batch_at(tokens, &eval_cfg, i, dev)?;
        total += Gpt::loss(&gpt.forward(&x, None)?, &y)?.to_scalar::<f32>()? as f64;
    }
    Ok(total / n as f64)
}

/// One record of the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub step: usize,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    /// Held-out loss, on evaluation steps.
    pub heldout: Option<f64>,
    /// Training tokens per second over this step.
    pub tokens_per_s: f64,
}

/// A training run in progress: the model, its optimiser and what has been recorded.
pub struct Trainer {
    pub gpt: Gpt,
    pub opt: AdamW,
    pub cfg: TrainConfig,
    pub history: Vec<Record>,
}

impl Trainer {
    /// A fresh run from a seeded initialisation.
    pub fn new(model_cfg: GptConfig, cfg: TrainConfig, dev: &Device) -> Result<Trainer> {
        cfg.validate(&model_cfg)?;
        let gpt = Gpt::seeded(model_cfg, cfg.seed, dev)?;
        let opt = AdamW::new(&gpt.params)?;
        Ok(Trainer {
            gpt,
            opt,
            cfg,
            history: Vec::new(),
        })
    }

    /// Steps done.
    pub fn step(&self) -> usize {
        self.opt.t
    }

    /// Train until `until` steps are done (at most `cfg.steps`), evaluating every
    /// `eval_every` steps. `on_step(record)` is called after each step.
    pub fn run(
        &mut self,
        train: &[u32],
        heldout: &[u32],
        until: usize,
        mut on_step: impl FnMut(&Record),
    ) -> Result<()> {
        let dev = self.gpt.device();
        while self.step() < until.min(self.cfg.steps) {
            // ANCHOR: step
            let s = self.step();
            let t0 = std::time::Instant::now();
            let (x, y) = batch_at(train, &self.cfg, s, &dev)?;
            let loss = Gpt::loss(&self.gpt.forward(&x, None)?, &y)?;
            let lr = self.cfg.lr_at(s);
            let grad_norm = self
                .opt
                .minimise(&self.gpt.params, &loss, lr, &self.cfg.adamw)?;
            // ANCHOR_END: step
            let loss = loss.to_scalar::<f32>()? as f64; // on a GPU: waits for the step to finish
            let tokens_per_s =
                (self.cfg.batch * self.cfg.seq_len) as f64 / t0.elapsed().as_secs_f64();
            let done = self.step();
            let heldout = if done.is_multiple_of(self.cfg.eval_every) || done == self.cfg.steps {
                Some(eval_loss(
                    &self.gpt,
                    heldout,
                    &self.cfg,
                    self.cfg.eval_batches,
                    &dev,
                )?)
            } else {
                None
            };
            let r = Record {
                step: done,
                loss,
                lr,
                grad_norm,
                heldout,
                tokens_per_s,
            };
            self.history.push(r);
            on_step(&r);
        }
        Ok(())
    }

    /// Write the run to `dir`, replacing any earlier checkpoint there only once the new one
    /// is complete: `config.json` + `model.safetensors` (a Hugging Face GPT-2 directory),
    /// `optimizer.safetensors`, `trainer.json` (step, config, history).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        files::ensure_dir(parent, "checkpoint parent")?;
        let name = dir
            .file_name()
            .context("checkpoint path has no name")?
            .to_string_lossy()
            .into_owned();
        let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create `{}`", tmp.display()))?;
        save_model(&self.gpt, &tmp)?;
        let mut opt: HashMap<String, Tensor> = HashMap::new();
        for (n, t) in &self.opt.m {
            opt.insert(format!("m.{n}"), t.clone());
        }
        for (n, t) in &self.opt.v {
            opt.insert(format!("v.{n}"), t.clone());
        }
        candle_core::safetensors::save(&opt, tmp.join("optimizer.safetensors"))?;
        let state =
            serde_json::json!({ "step": self.step(), "train": self.cfg, "history": self.history });
        files::write_string_atomic(
            &tmp.join("trainer.json"),
            &serde_json::to_string_pretty(&state)?,
        )?;
        // Swap the complete new directory in; the old one is removed only afterwards.
        files::replace_dir(&tmp, dir).context("checkpoint")
    }

    /// Continue a run saved by [`Trainer::save`], on the CPU.
    pub fn resume(dir: &Path) -> Result<Trainer> {
        Self::resume_on(dir, &Device::Cpu)
    }

    /// Continue a run saved by [`Trainer::save`], on `dev`.
    pub fn resume_on(dir: &Path, dev: &Device) -> Result<Trainer> {
        let dev = dev.clone();
        let gpt = crate::load_hf(dir, &dev)?;
        let state: serde_json::Value = serde_json::from_str(&files::read_string(
            &dir.join("trainer.json"),
            "trainer state",
        )?)
        .with_context(|| format!("trainer state in `{}` is not valid JSON", dir.display()))?;
        let cfg: TrainConfig =
            serde_json::from_value(state["train"].clone()).context("trainer state: bad `train`")?;
        let history: Vec<Record> = serde_json::from_value(state["history"].clone())
            .context("trainer state: bad `history`")?;
        let step = state["step"].as_u64().context("trainer state: no `step`")? as usize;
        let path = dir.join("optimizer.safetensors");
        let raw = candle_core::safetensors::load(&path, &dev)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut opt = AdamW::new(&gpt.params)?;
        for name in gpt.params.vars.keys() {
            opt.m.insert(
                name.clone(),
                raw.get(&format!("m.{name}"))
                    .with_context(|| format!("optimizer state lacks m.{name}"))?
                    .clone(),
            );
            opt.v.insert(
                name.clone(),
                raw.get(&format!("v.{name}"))
                    .with_context(|| format!("optimizer state lacks v.{name}"))?
                    .clone(),
            );
        }
        opt.t = step;
        Ok(Trainer {
            gpt,
            opt,
            cfg,
            history,
        })
    }
}

/// Write `config.json` and `model.safetensors` into `dir`, as a Hugging Face GPT-2
/// directory (names with the `transformer.` prefix, as `GPT2LMHeadModel` saves them).
pub fn save_model(gpt: &Gpt, dir: &Path) -> Result<()> {
    write_hf(dir, &hf_config(&gpt.cfg), &hf_tensors(gpt))
}

/// `config.json` of a Hugging Face GPT-2 (`GPT2LMHeadModel`) with this shape.
pub fn hf_config(c: &GptConfig) -> serde_json::Value {
    let eot = world::chat::ENDOFTEXT_ID;
    serde_json::json!({
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "activation_function": "gelu_new",
        "vocab_size": c.vocab_size,
        "n_positions": c.n_positions,
        "n_ctx": c.n_positions,
        "n_embd": c.n_embd,
        "n_head": c.n_head,
        "n_layer": c.n_layer,
        "layer_norm_epsilon": c.layer_norm_epsilon,
        "tie_word_embeddings": true,
        "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0,
        "bos_token_id": eot, "eos_token_id": eot,
    })
}

/// The model's weights under their Hugging Face names (`transformer.` prefix).
pub fn hf_tensors(gpt: &Gpt) -> HashMap<String, Tensor> {
    gpt.params
        .vars
        .iter()
        .map(|(n, v)| (format!("transformer.{n}"), v.as_tensor().clone()))
        .collect()
}

/// Write `config` as `config.json` and `tensors` as `model.safetensors` into `dir` (each
/// to a temporary name, then renamed).
pub fn write_hf(
    dir: &Path,
    config: &serde_json::Value,
    tensors: &HashMap<String, Tensor>,
) -> Result<()> {
    files::ensure_dir(dir, "model directory")?;
    files::write_string_atomic(
        &dir.join("config.json"),
        &serde_json::to_string_pretty(config)?,
    )?;
    let tmp = dir.join(".model.safetensors.tmp");
    candle_core::safetensors::save(tensors, &tmp)?;
    std::fs::rename(&tmp, dir.join("model.safetensors"))
        .with_context(|| format!("cannot write weights into `{}`", dir.display()))?;
    Ok(())
}
