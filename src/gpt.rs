//! Chapter 3's commands: `rlhf pretrain` and `rlhf generate`.

use crate::args::{Preset, TrainInputs};
use crate::progress;
use anyhow::{Context, Result, ensure};
use ch03_gpt::GptConfig;
use ch03_gpt::sample::{Sampling, generate};
use ch03_gpt::train::{Record, TrainConfig, Trainer};
use clap::Args;
use plot::Chart;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct PretrainArgs {
    /// Output directory.
    #[arg(long, default_value = "runs/default/pretrain")]
    pub out: PathBuf,
    #[command(flatten)]
    pub input: TrainInputs,
    /// Continue the checkpoint in <out>/checkpoint instead of starting afresh.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// A checkpoint directory or a Hugging Face GPT-2 directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// The text to continue.
    #[arg(long)]
    pub prompt: String,
    /// Always take the most likely token.
    #[arg(long, conflicts_with_all = ["temperature", "top_k", "top_p"])]
    pub greedy: bool,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Sample only among the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Sample only among the most likely tokens that make up probability p.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object: prompt_ids, new_ids, text.
    #[arg(long)]
    pub json: bool,
    /// With --json: also the logits at the prompt's last position (`last_logits`), to compare
    /// with another implementation (scripts/check-export.py).
    #[arg(long, requires = "json")]
    pub logits: bool,
}

impl GenerateArgs {
    /// The sampler the flags ask for.
    fn sampling(&self) -> Sampling {
        if self.greedy {
            Sampling::GREEDY
        } else {
            Sampling {
                temperature: self.temperature,
                top_k: self.top_k,
                top_p: self.top_p,
            }
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A checkpoint of the project (pretrain, sft, reward or ppo `checkpoint/`) or any GPT-2 directory with tokenizer.json.
    #[arg(long)]
    pub model: PathBuf,
    /// The directory to write (replaced only once complete).
    #[arg(long)]
    pub out: PathBuf,
}

/// What `rlhf pretrain` reports.
pub struct PretrainSummary {
    pub parameters: usize,
    pub steps: usize,
    pub first_heldout: f64,
    pub last_heldout: f64,
    pub tokens_per_s: f64,
    /// Tokens per training sequence.
    pub seq_len: usize,
}

/// The model and its pretraining, for a run's preset.
fn presets(preset: Preset, vocab: usize) -> (GptConfig, TrainConfig) {
    match preset {
        Preset::Tiny => (GptConfig::tiny(vocab), TrainConfig::tiny()),
        Preset::Small => (GptConfig::small(vocab), TrainConfig::small()),
        Preset::Gpu => (GptConfig::gpt2_body(vocab), TrainConfig::gpu()),
    }
}

const SAMPLE_PROMPTS: [&str; 3] = [
    "The flag of",
    "Forum thread by user1: What is",
    "Once upon a time,",
];

/// `rlhf pretrain`: train chapter 3's GPT on the corpus, checkpointing into `out/checkpoint`
/// (a Hugging Face GPT-2 directory with the tokenizer). With `resume`, continue the
/// checkpoint there.
pub fn pretrain_command(a: &PretrainArgs) -> Result<PretrainSummary> {
    let (out, i) = (&a.out, &a.input);
    let tok = ch01_tokenizer::library::load(&i.tokenizer)?;
    let (model_cfg, mut train_cfg) = presets(i.preset, tok.get_vocab_size(true));
    if let Some(s) = i.steps {
        train_cfg.steps = s;
        train_cfg.adamw.warmup = train_cfg.adamw.warmup.min(s / 5);
    }
    let ids = corpus_ids(&tok, &i.corpus)?;
    files::ensure_dir(out, "--out")?;
    let split = pretraining_split(ids.len());
    let (train, heldout) = ids.split_at(split);
    let ckpt = out.join("checkpoint");
    let mut t = start_or_resume(&ckpt, a.resume, model_cfg, train_cfg, i.preset)?;
    let total = t.cfg.steps;
    let bar = progress::steps(total as u64);
    bar.set_position(t.step() as u64);
    let mut samples = String::new();
    while t.step() < total {
        let next_eval = ((t.step() / t.cfg.eval_every) + 1) * t.cfg.eval_every;
        t.run(train, heldout, next_eval, |r: &Record| {
            bar.set_position(r.step as u64);
            bar.set_message(format!("loss {:.3}, {:.0} tok/s", r.loss, r.tokens_per_s));
        })?;
        t.save(&ckpt)?;
        ch01_tokenizer::library::save_in_model_dir(&tok, &ckpt)?;
        if t.step() == total || t.step() == t.cfg.eval_every || t.step() == total / 2 {
            samples += &greedy_samples(&t, &tok)?;
        }
    }
    bar.finish_and_clear();
    ch03_gpt::plots::loss_curve(&t.history).save_svg(&out.join("loss.svg"))?;
    files::write_string_atomic(&out.join("samples.md"), &samples)?;
    let s = summary(&t);
    println!(
        "pretrain: {} parameters, {} steps, held-out loss {:.2} (first evaluation) → {:.2}, {:.0} tokens/s → {}",
        s.parameters,
        s.steps,
        s.first_heldout,
        s.last_heldout,
        s.tokens_per_s,
        ckpt.display()
    );
    Ok(s)
}

/// A fresh trainer for `model_cfg`/`train_cfg`, or with `resume` the one checkpointed in
/// `ckpt` (which must be the same model), on the chosen device.
fn start_or_resume(
    ckpt: &Path,
    resume: bool,
    model_cfg: GptConfig,
    train_cfg: TrainConfig,
    preset: Preset,
) -> Result<Trainer> {
    if resume && ckpt.join("trainer.json").is_file() {
        let mut t = Trainer::resume_on(ckpt, crate::compute::device())?;
        t.gpt = crate::compute::prepare(t.gpt)?;
        ensure!(
            t.gpt.cfg == model_cfg,
            "checkpoint `{}` is a different model than preset `{preset}`",
            ckpt.display()
        );
        println!("pretrain: resuming at step {}", t.step());
        Ok(t)
    } else {
        let mut t = Trainer::new(model_cfg, train_cfg, crate::compute::device())?;
        t.gpt = crate::compute::prepare(t.gpt)?;
        Ok(t)
    }
}

/// The model's greedy continuations of [`SAMPLE_PROMPTS`] at this step, as Markdown.
fn greedy_samples(t: &Trainer, tok: &ch01_tokenizer::tokenizers::Tokenizer) -> Result<String> {
    let mut samples = format!("\n**Step {}**\n\n", t.step());
    for prompt in SAMPLE_PROMPTS {
        let ids: Vec<u32> = ch01_tokenizer::library::encode(tok, prompt)?;
        let mut rng = world::rng(7, 0);
        let stop = [world::chat::ENDOFTEXT_ID];
        let new = generate(&t.gpt, &ids, 40, &Sampling::GREEDY, &stop, true, &mut rng)?;
        let text = ch01_tokenizer::library::decode(tok, &new)?;
        writeln!(
            samples,
            "- `{}`→ `{}`",
            prompt,
            text.replace('\n', "⏎").replace('`', "'")
        )
        .unwrap();
    }
    Ok(samples)
}

/// What pretraining reached: held-out loss at the first and last evaluation, mean speed.
fn summary(t: &Trainer) -> PretrainSummary {
    let evals: Vec<(f64, f64)> = t
        .history
        .iter()
        .filter_map(|r| r.heldout.map(|h| (r.step as f64, h)))
        .collect();
    let speeds: Vec<f64> = t.history.iter().skip(1).map(|r| r.tokens_per_s).collect();
    PretrainSummary {
        parameters: t.gpt.params.count(),
        steps: t.step(),
        first_heldout: evals.first().map_or(f64::NAN, |e| e.1),
        last_heldout: evals.last().map_or(f64::NAN, |e| e.1),
        tokens_per_s: speeds.iter().sum::<f64>() / speeds.len().max(1) as f64,
        seq_len: t.cfg.seq_len,
    }
}

/// `rlhf generate`: continue a prompt with any checkpoint of the project or any Hugging
/// Face GPT-2 directory (`config.json`, `model.safetensors`, `tokenizer.json`).
pub fn generate_command(a: &GenerateArgs) -> Result<()> {
    let (model, prompt, max_new, seed) = (&a.model, a.prompt.as_str(), a.max_new_tokens, a.seed);
    let sampling = a.sampling();
    sampling.validate()?;
    let (gpt, tok) = crate::compute::load_with_tokenizer(model, "--model")?;
    let prompt_ids = ch01_tokenizer::library::encode(&tok, prompt)?;
    ensure!(!prompt_ids.is_empty(), "--prompt is empty");
    ensure!(
        prompt_ids.len() < gpt.cfg.n_positions,
        "--prompt is {} tokens, the model's context is {}",
        prompt_ids.len(),
        gpt.cfg.n_positions
    );
    let stop: Vec<u32> = [world::chat::END, world::chat::ENDOFTEXT]
        .iter()
        .filter_map(|t| tok.token_to_id(t))
        .collect();
    let new_ids = generate(
        &gpt,
        &prompt_ids,
        max_new,
        &sampling,
        &stop,
        true,
        &mut world::rng(seed, 0),
    )?;
    let text =
        ch01_tokenizer::library::decode(&tok, &new_ids).context("decoding the continuation")?;
    if a.json {
        let mut v =
            serde_json::json!({ "prompt_ids": prompt_ids, "new_ids": new_ids, "text": text });
        if a.logits {
            let ids = candle_core::Tensor::new(prompt_ids.as_slice(), crate::compute::device())?
                .unsqueeze(0)?; // (1, T)
            let last: Vec<f32> = gpt
                .forward(&ids, None)?
                .squeeze(0)?
                .get(prompt_ids.len() - 1)?
                .to_vec1()?; // (V)
            v["last_logits"] = serde_json::json!(last);
        }
        println!("{v}");
    } else {
        println!("{prompt}{text}");
    }
    Ok(())
}

/// The report's pretraining section.
pub fn report_section(pre: &PretrainSummary) -> String {
    let mut s = String::from("## Pretraining\n\n<!-- ANCHOR: pretrain -->\n");
    writeln!(
        s,
        "The candle GPT ({} parameters) pretrained for {} steps: held-out loss {:.2} at the first evaluation, \
         {:.2} at the end; {:.0} training tokens per second. Greedy samples in `pretrain/samples.md`; the \
         checkpoint in `pretrain/checkpoint/` (a Hugging Face GPT-2 directory).",
        pre.parameters, pre.steps, pre.first_heldout, pre.last_heldout, pre.tokens_per_s
    )
    .unwrap();
    s += "<!-- ANCHOR_END: pretrain -->\n\n![loss](pretrain/loss.svg)\n\n";
    s
}

/// `rlhf export`: write a checkpoint as a Hugging Face directory that transformers loads
/// with no code of this project. A language model (any checkpoint of the project, or a
/// GPT-2 directory) becomes a `GPT2LMHeadModel`: `config.json`, `model.safetensors`
/// (`transformer.*` names, the head tied to `wte`), `generation_config.json` (generation
/// stops at `<|end|>` or `<|endoftext|>`). A reward model (a directory with `reward.json`)
/// becomes a `GPT2ForSequenceClassification` with one label whose logit is the raw score
/// ([`ch05_reward::RewardModel::save`]). Both carry `tokenizer.json` and
/// `tokenizer_config.json` with the chat template.
pub fn export_command(a: &ExportArgs) -> Result<()> {
    let (model, out) = (a.model.as_path(), a.out.as_path());
    if model.join("reward.json").is_file() {
        return export_reward_model(model, out);
    }
    let (gpt, tok) = crate::compute::load_with_tokenizer(model, "--model")?;
    let stops = ch04_sft::chat::stop_tokens(&tok);
    files::write_dir_atomic(out, |dir| {
        ch03_gpt::train::save_model(&gpt, dir)?;
        ch01_tokenizer::library::save_in_model_dir(&tok, dir)?;
        files::write_string_atomic(
            &dir.join("generation_config.json"),
            &serde_json::to_string_pretty(&serde_json::json!({
                "eos_token_id": stops,
                "pad_token_id": world::chat::PAD_ID,
            }))?,
        )
    })
    .context("exported model")?;
    println!(
        "export: GPT2LMHeadModel, {} parameters → {}",
        gpt.params.count(),
        out.display()
    );
    Ok(())
}

fn export_reward_model(model: &Path, out: &Path) -> Result<()> {
    let rm = ch05_reward::RewardModel::load(model, crate::compute::device())
        .with_context(|| format!("--model `{}` (a reward model)", model.display()))?;
    ensure!(
        rm.knowledge.is_none(),
        "--model `{}` is a reward model with the SFT model's knowledge as a second input \
         (`knowledge.json`): GPT2ForSequenceClassification has no place for it; export a reward \
         model trained without --knowledge",
        model.display()
    );
    let tok = crate::compute::tokenizer_for(model, rm.gpt.cfg.vocab_size)?;
    files::write_dir_atomic(out, |dir| {
        rm.save(dir)?;
        ch01_tokenizer::library::save_in_model_dir(&tok, dir)
    })
    .context("exported reward model")?;
    println!(
        "export: GPT2ForSequenceClassification (one label, the raw reward; r = {:.4} · raw {:+.4}), {} parameters → {}",
        rm.norm.gain,
        rm.norm.bias,
        rm.params().count(),
        out.display()
    );
    Ok(())
}

/// Where the corpus's tokens split: pretraining learns from the first nine tenths and
/// measures its held-out loss on the last tenth; PPO-ptx keeps to the same nine tenths.
pub fn pretraining_split(tokens: usize) -> usize {
    tokens * 9 / 10
}

/// The corpus file as token ids, each document followed by `<|endoftext|>`.
pub fn corpus_ids(tok: &ch01_tokenizer::tokenizers::Tokenizer, corpus: &Path) -> Result<Vec<u32>> {
    let text = world::read_corpus(corpus)?;
    let docs = world::split_corpus(&text);
    ch01_tokenizer::library::encode_documents(tok, &docs)
}
