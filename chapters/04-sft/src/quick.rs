//! A base model in seconds, for tests and notebooks: the tiny world, a 512-token
//! tokenizer, and chapter 3's `tiny` GPT pretrained on the corpus. (The pipeline makes
//! the real one with `rlhf pretrain`.)

use anyhow::Result;
use candle_core::Device;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::train::{TrainConfig, Trainer};
use ch03_gpt::{Gpt, GptConfig};
use world::{World, WorldConfig};

/// The tiny world, its tokenizer, and a base model pretrained for `steps` steps.
pub fn base_model(steps: usize) -> Result<(World, Tokenizer, Gpt)> {
    let w = World::generate(&WorldConfig::tiny())?;
    let texts: Vec<String> = w.corpus(|_| {}).into_iter().map(|d| d.text).collect();
    let views: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tok = ch01_tokenizer::library::train(&views, 512)?;
    let ids = ch01_tokenizer::library::encode_documents(&tok, &views)?;
    let split = ids.len() * 9 / 10;
    let cfg = TrainConfig {
        steps,
        ..TrainConfig::tiny()
    };
    let mut trainer = Trainer::new(GptConfig::tiny(tok.get_vocab_size(true)), cfg, &Device::Cpu)?;
    trainer.run(&ids[..split], &ids[split..], steps, |_| {})?;
    Ok((w, tok, trainer.gpt))
}
