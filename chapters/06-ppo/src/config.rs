//! Every implementation detail of PPO for RLHF as a named field with its default — the
//! checklist of "The N implementation details of RLHF with PPO" (Huang et al., 2023) and
//! of Ziegler et al. (2019). The book explains each.

use crate::core::KlEstimator;
use anyhow::{Result, ensure};
use ch03_gpt::train::AdamWConfig;
use serde::{Deserialize, Serialize};

/// β: fixed, or adapted to keep the KL near a target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum KlControl {
    Fixed,
    /// Ziegler et al.'s proportional controller: target KL (nats per response) and horizon
    /// (in responses).
    Adaptive {
        target: f64,
        horizon: f64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PpoConfig {
    // --- rollouts ---
    /// PPO iterations (rollout, then updates).
    pub iterations: usize,
    /// Prompts (one response each) per rollout.
    pub rollout_batch: usize,
    pub max_new_tokens: usize,
    /// Sampling temperature. Every log-probability (policy, old policy, reference) is
    /// computed from the logits divided by it, so the ratios compare the distribution that
    /// was actually sampled.
    pub temperature: f64,
    /// The score of a response that stopped without `<|end|>` (it hit `max_new_tokens`, or
    /// ended the document), in place of the reward model's. The reward model only learned
    /// to score finished answers; its score for an unfinished one is an extrapolation that
    /// PPO finds and exploits (rambling filler that never ends scored +2.9 on world 1234).
    /// On the normalised scale (the SFT policy's samples: mean 0, standard deviation 1), −3
    /// is below nearly every finished answer. Huang et al. (2024), "The N+ implementation
    /// details of RLHF with PPO", replace such scores by a constant in the same way.
    pub missing_end_score: f64,
    // --- reward ---
    /// β, the KL coefficient (its initial value when adaptive).
    pub kl_coef: f64,
    pub kl_control: KlControl,
    /// Per-token KL estimator in the reward (k1 by default).
    pub kl_estimator: KlEstimator,
    /// Scale the per-token rewards of a batch to unit variance (the mean is kept).
    pub whiten_rewards: bool,
    /// Subtract from each response's score the reward model's score of the reference
    /// model's greedy answer to the same prompt ([`crate::baseline`]).
    #[serde(default)]
    pub prompt_baseline: bool,
    // --- advantages ---
    /// Discount γ (1: the episode is one short response).
    pub gamma: f64,
    /// GAE's λ.
    pub lambda: f64,
    /// Whiten advantages over the batch's tokens (mean 0, std 1).
    pub whiten_advantages: bool,
    // --- losses ---
    /// ε of the clipped surrogate.
    pub clip_range: f64,
    /// ε of the clipped value loss (in the reward's units).
    pub value_clip_range: f64,
    /// Weight of the value loss in the total loss.
    pub vf_coef: f64,
    /// Weight of the entropy bonus (0: none).
    pub entropy_coef: f64,
    /// γ of PPO-ptx (InstructGPT): the weight of the pretraining language-model loss added
    /// to every update, on `ptx_batch` random windows of 64 corpus tokens (0: plain PPO).
    #[serde(default)]
    pub ptx_coef: f64,
    #[serde(default)]
    pub ptx_batch: usize,
    /// The share of PPO-ptx's text that is the SFT demonstrations (in the chat template,
    /// each ending with `<|end|>`) rather than pretraining corpus ([`crate::train::ptx_stream`]):
    /// the corpus alone teaches that a sum is followed by another sum, not by the end of the
    /// answer. 0: the corpus alone, as InstructGPT.
    #[serde(default)]
    pub ptx_demo_share: f64,
    // --- optimisation ---
    /// Passes over each rollout batch.
    pub ppo_epochs: usize,
    pub minibatch: usize,
    /// AdamW's learning rate, constant, and the global gradient-norm clip: the optimiser is
    /// [`PpoConfig::adamw`].
    pub lr: f64,
    pub grad_clip: f64,
    /// Stop a rollout's updates early when the approx-KL between the policy before and
    /// after them exceeds this (None: never).
    pub target_approx_kl: Option<f64>,
    pub seed: u64,
    // --- evaluation ---
    /// n of the capability table's best-of-n column (chapter 7: n samples of the SFT model
    /// at `temperature`, the one the reward model ranks first; 0: no column). The CPU
    /// pipeline's 4 is chosen by KL, not by gold: ln 4 − 3/4 = 0.64 nats at most to the SFT
    /// model, the order of the KL PPO ends at (0.8–1.6 nats per response on the tuning
    /// worlds), so both columns moved about as far.
    #[serde(default)]
    pub best_of_n: usize,
}

impl PpoConfig {
    /// For tests and the notebook.
    pub fn tiny() -> Self {
        PpoConfig {
            iterations: 20,
            rollout_batch: 32,
            max_new_tokens: 24,
            temperature: 1.0,
            missing_end_score: -3.0,
            kl_coef: 0.05,
            kl_control: KlControl::Fixed,
            kl_estimator: KlEstimator::K1,
            whiten_rewards: false,
            prompt_baseline: false,
            gamma: 1.0,
            lambda: 0.95,
            whiten_advantages: true,
            clip_range: 0.2,
            value_clip_range: 0.2,
            vf_coef: 0.1,
            entropy_coef: 0.0,
            ptx_coef: 0.0,
            ptx_batch: 16,
            ptx_demo_share: 0.0,
            ppo_epochs: 4,
            minibatch: 16,
            lr: 1e-4,
            grad_clip: 1.0,
            target_approx_kl: None,
            seed: 9,
            best_of_n: 2,
        }
    }

    /// The CPU pipeline's PPO: 128 rollouts per iteration sampled at temperature 1 — the
    /// policy itself, so the KL that β = 0.2 charges is the KL the capability table reports
    /// (chapter 6, "Across worlds": on the tuning worlds the gold gain rose from +0.19 and
    /// +0.10, with 64 rollouts at 0.7, to +0.32 and +0.18) — and PPO-ptx with γ = 1 on text that
    /// is a quarter SFT demonstrations: without the pretraining term the policy forgot
    /// held-out facts while it learned from a reward model that cannot check them; with the
    /// corpus alone its greedy answers to sums ran on into more sums, as the corpus's lines do.
    pub fn small() -> Self {
        PpoConfig {
            iterations: 40,
            rollout_batch: 128,
            ppo_epochs: 2,
            lr: 5e-5,
            kl_coef: 0.2,
            temperature: 1.0,
            ptx_coef: 1.0,
            ptx_demo_share: 0.25,
            best_of_n: 4,
            ..Self::tiny()
        }
    }

    /// The GPU pipeline's PPO (GPT-2-sized policy): bigger rollout batches, a smaller
    /// learning rate.
    pub fn gpu() -> Self {
        PpoConfig {
            iterations: 30,
            rollout_batch: 128,
            minibatch: 32,
            lr: 1e-5,
            ..Self::small()
        }
    }

    /// The optimiser: AdamW at a constant learning rate, without weight decay (as TRL's
    /// PPO), gradients clipped to `grad_clip` — two numbers, as TRL's `PPOConfig` has.
    pub fn adamw(&self) -> AdamWConfig {
        AdamWConfig::constant(self.lr, self.grad_clip)
    }

    /// The configuration of a run's preset.
    pub fn preset(p: world::Preset) -> Self {
        match p {
            world::Preset::Tiny => Self::tiny(),
            world::Preset::Small => Self::small(),
            world::Preset::Gpu => Self::gpu(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.iterations > 0
                && self.rollout_batch > 0
                && self.minibatch > 0
                && self.ppo_epochs > 0,
            "iterations, rollout_batch, minibatch and ppo_epochs must be positive"
        );
        ensure!(
            self.temperature > 0.0,
            "temperature must be positive (PPO samples)"
        );
        ensure!(self.max_new_tokens > 0, "max_new_tokens must be positive");
        ensure!(
            (0.0..=1.0).contains(&self.gamma) && (0.0..=1.0).contains(&self.lambda),
            "gamma and lambda must be in [0, 1]"
        );
        ensure!(
            self.clip_range > 0.0 && self.value_clip_range > 0.0,
            "clip ranges must be positive"
        );
        ensure!(self.kl_coef >= 0.0, "kl_coef must be ≥ 0");
        ensure!(
            self.best_of_n != 1,
            "best_of_n must be 0 (no best-of-n column) or at least 2, got 1"
        );
        ensure!(
            (0.0..1.0).contains(&self.ptx_demo_share),
            "ptx_demo_share must be in [0, 1), got {}",
            self.ptx_demo_share
        );
        Ok(())
    }
}
