//! A pipeline run's directory: where each stage writes, in one place.

use std::path::{Path, PathBuf};

/// `runs/<name>/`, with one directory per stage: `world/`, `tokenizer/`, `attention/`,
/// `pretrain/`, `sft/`, `reward/`, `ppo/`, and those of the later studies (`overopt/`,
/// `dpo/`, `grpo/`, …). Each model stage keeps its model in `<stage>/checkpoint/`.
#[derive(Clone, Debug)]
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunDir(dir.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A stage's directory, `<run>/<stage>`.
    pub fn stage(&self, stage: &str) -> PathBuf {
        self.0.join(stage)
    }

    /// A model stage's checkpoint, `<run>/<stage>/checkpoint`.
    pub fn checkpoint(&self, stage: &str) -> PathBuf {
        self.stage(stage).join("checkpoint")
    }

    pub fn world(&self) -> PathBuf {
        self.stage("world")
    }

    pub fn corpus(&self) -> PathBuf {
        self.world().join(world::CORPUS_FILE)
    }

    pub fn tokenizer(&self) -> PathBuf {
        self.stage("tokenizer").join("tokenizer.json")
    }

    pub fn pretrained(&self) -> PathBuf {
        self.checkpoint("pretrain")
    }

    pub fn sft(&self) -> PathBuf {
        self.checkpoint("sft")
    }

    pub fn reward_model(&self) -> PathBuf {
        self.checkpoint("reward")
    }

    pub fn report(&self) -> PathBuf {
        self.0.join("report.md")
    }
}
