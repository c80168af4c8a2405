//! Every setting of the chapter's two trainers, with named presets.

use crate::dpo::PreferenceLoss;
use anyhow::{Result, ensure};
use ch03_gpt::train::AdamWConfig;
use serde::{Deserialize, Serialize};

/// DPO (or IPO) from the SFT model on the reward stage's comparisons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpoConfig {
    pub loss: PreferenceLoss,
    /// β: the strength of the KL leash the loss was derived with (DPO), or the inverse of
    /// twice the target margin (IPO).
    pub beta: f64,
    /// Optimiser steps, each on `batch` comparisons (the comparisons shuffled, epoch after epoch).
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub grad_clip: f64,
    /// Use at most this many training comparisons (0: all).
    pub max_pairs: usize,
    /// Measure the held-out comparisons every this many steps.
    pub eval_every: usize,
    pub seed: u64,
}

impl DpoConfig {
    /// For tests and the notebook.
    pub fn tiny() -> Self {
        DpoConfig {
            loss: PreferenceLoss::Dpo,
            beta: 0.1,
            steps: 30,
            batch: 16,
            lr: 1e-4,
            grad_clip: 1.0,
            max_pairs: 512,
            eval_every: 10,
            seed: 11,
        }
    }

    /// The CPU run of the book: 300 steps of 32 comparisons — 9600, about 40% of the reward
    /// model's (which saw each of its comparisons twice).
    pub fn small() -> Self {
        DpoConfig {
            steps: 300,
            batch: 32,
            lr: 5e-5,
            max_pairs: 0,
            eval_every: 50,
            ..Self::tiny()
        }
    }

    /// The optimiser: AdamW at the constant learning rate `lr`, without weight decay,
    /// gradients clipped to `grad_clip` (as PPO's, chapter 6).
    pub fn adamw(&self) -> AdamWConfig {
        AdamWConfig::constant(self.lr, self.grad_clip)
    }

    /// The configuration of a run's preset: `tiny` or `small` (the GPU run ends at PPO,
    /// chapter 9).
    pub fn preset(p: world::Preset) -> Result<Self> {
        p.tiny_or_small("DPO", Self::tiny, Self::small)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.beta > 0.0 && self.beta.is_finite(),
            "DPO's β must be positive, got {}",
            self.beta
        );
        ensure!(
            self.steps > 0 && self.batch > 0,
            "DPO needs steps and a batch"
        );
        ensure!(self.lr > 0.0, "DPO's learning rate must be positive");
        ensure!(self.eval_every > 0, "DPO's eval_every must be positive");
        Ok(())
    }
}

/// GRPO from the SFT model on the world's arithmetic prompts, rewarded by a checker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrpoConfig {
    pub iterations: usize,
    /// Prompts per iteration, and G responses sampled for each.
    pub prompts: usize,
    pub group: usize,
    pub temperature: f64,
    pub max_new_tokens: usize,
    /// β of the k3 KL penalty in the loss.
    pub kl_coef: f64,
    pub clip_range: f64,
    /// Passes over each iteration's samples, in minibatches of `minibatch` responses.
    pub epochs: usize,
    pub minibatch: usize,
    pub lr: f64,
    pub grad_clip: f64,
    /// RLOO's leave-one-out baseline instead of GRPO's standardised group advantage.
    pub rloo: bool,
    /// Train on [`crate::grpo::easy_arithmetic`] with operands up to this (0: on the world's
    /// own arithmetic training prompts).
    pub max_operand: u32,
    pub seed: u64,
}

impl GrpoConfig {
    /// For tests and the notebook.
    pub fn tiny() -> Self {
        GrpoConfig {
            iterations: 10,
            prompts: 8,
            group: 8,
            temperature: 1.0,
            max_new_tokens: 16,
            kl_coef: 0.04,
            clip_range: 0.2,
            epochs: 1,
            minibatch: 32,
            lr: 5e-5,
            grad_clip: 1.0,
            rloo: false,
            max_operand: 5,
            seed: 13,
        }
    }

    /// The CPU run of the book.
    pub fn small() -> Self {
        GrpoConfig {
            iterations: 60,
            prompts: 16,
            group: 8,
            max_new_tokens: 16,
            ..Self::tiny()
        }
    }

    /// The optimiser: AdamW at the constant learning rate `lr`, without weight decay,
    /// gradients clipped to `grad_clip` (as PPO's, chapter 6).
    pub fn adamw(&self) -> AdamWConfig {
        AdamWConfig::constant(self.lr, self.grad_clip)
    }

    /// The configuration of a run's preset: `tiny` or `small` (the GPU run ends at PPO,
    /// chapter 9).
    pub fn preset(p: world::Preset) -> Result<Self> {
        p.tiny_or_small("GRPO", Self::tiny, Self::small)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.group >= 2,
            "GRPO needs a group of at least 2 responses per prompt, got {}",
            self.group
        );
        ensure!(
            self.iterations > 0 && self.prompts > 0,
            "GRPO needs iterations and prompts"
        );
        ensure!(
            self.minibatch > 0 && self.epochs > 0,
            "GRPO needs minibatches and epochs"
        );
        ensure!(
            self.temperature > 0.0,
            "GRPO's temperature must be positive"
        );
        ensure!(self.kl_coef >= 0.0, "GRPO's β must be ≥ 0");
        Ok(())
    }
}
