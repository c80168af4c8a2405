//! The process's device and precision, chosen once by `--device` and `--precision`.

use anyhow::Result;
use ch03_gpt::Gpt;
use ch09_gpu::Compute;
use std::sync::OnceLock;

static COMPUTE: OnceLock<Compute> = OnceLock::new();

/// Choose the device and precision for every command of this process.
pub fn init(device: &str, precision: &str) -> Result<()> {
    let c = Compute::new(device, precision)?;
    if !c.device.is_cpu() {
        println!(
            "compute: {}{}",
            c.describe(),
            ch09_gpu::gpu_name()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default()
        );
    }
    let _ = COMPUTE.set(c);
    Ok(())
}

/// The chosen device and precision (CPU, f32 when none was chosen).
pub fn get() -> &'static Compute {
    COMPUTE.get_or_init(|| Compute::CPU)
}

/// The device models and batches go to.
pub fn device() -> &'static candle_core::Device {
    &get().device
}

/// `gpt`, computing in the chosen precision.
pub fn prepare(gpt: Gpt) -> Result<Gpt> {
    gpt.with_dtype(get().precision.dtype())
}

/// Load a checkpoint onto the chosen device, in the chosen precision.
pub fn load(dir: &std::path::Path) -> Result<Gpt> {
    prepare(ch03_gpt::load_hf(dir, device())?)
}

/// A checkpoint directory's model and its `tokenizer.json`, checked to fit each other;
/// errors name `flag` (`--model`, `--sft`, …).
pub fn load_with_tokenizer(
    model: &std::path::Path,
    flag: &str,
) -> Result<(Gpt, ch01_tokenizer::tokenizers::Tokenizer)> {
    use anyhow::Context;
    let gpt = load(model).with_context(|| format!("{flag} `{}`", model.display()))?;
    let tok = tokenizer_for(model, gpt.cfg.vocab_size)?;
    Ok((gpt, tok))
}

/// The `tokenizer.json` beside a model with `vocab_size` embedding rows, checked to fit it
/// (every token id has a row).
pub fn tokenizer_for(
    model: &std::path::Path,
    vocab_size: usize,
) -> Result<ch01_tokenizer::tokenizers::Tokenizer> {
    let path = model.join("tokenizer.json");
    let tok = ch01_tokenizer::library::load(&path)?;
    anyhow::ensure!(
        tok.get_vocab_size(true) <= vocab_size,
        "tokenizer `{}` has {} tokens but the model only {vocab_size}",
        path.display(),
        tok.get_vocab_size(true),
    );
    Ok(tok)
}

/// The reward model in `dir`, on the chosen device and precision, checked to share the
/// vocabulary of `policy` (the model whose responses it will score); errors name `flag`.
pub fn load_reward_for(
    dir: &std::path::Path,
    policy: &Gpt,
    flag: &str,
) -> Result<ch05_reward::RewardModel> {
    use anyhow::Context;
    let mut rm = ch05_reward::RewardModel::load(dir, device())
        .with_context(|| format!("{flag} `{}`", dir.display()))?;
    anyhow::ensure!(
        rm.gpt.cfg.vocab_size == policy.cfg.vocab_size,
        "{flag} `{}`: the reward model's vocabulary ({}) differs from the SFT model's ({})",
        dir.display(),
        rm.gpt.cfg.vocab_size,
        policy.cfg.vocab_size
    );
    rm.gpt = prepare(rm.gpt)?;
    Ok(rm)
}
