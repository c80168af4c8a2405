//! Whose preferences? A reward model trained on the comparisons of labelers who disagree —
//! here about length, in unequal numbers — and how well it agrees with each group.

use crate::study::RmPoint;
use anyhow::Result;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use ch05_reward::RewardModel;
use ch05_reward::data::{PairSet, label_pairs, sample_responses};
use ch05_reward::train::RmConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;
use world::{BradleyTerry, Population, World};

/// One group of labelers, and how often two reward models agree with its held-out labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupAgreement {
    pub share: f64,
    pub bias_per_word: f64,
    /// The pipeline's reward model (one unbiased labeler) and the population's.
    pub pipeline_rm: f64,
    pub population_rm: f64,
    /// This group's own agreement with the gold order, in expectation (its ceiling).
    pub ceiling: f64,
}

/// What the population study measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationReport {
    pub groups: Vec<GroupAgreement>,
    /// The population's reward model against the population's held-out labels.
    pub rm: RmPoint,
    /// The population's reward model: score per extra word, over the best-of-n samples
    /// that ended ([`crate::hacking::length_slope`]).
    pub slope: f64,
}

// ANCHOR: population_study
/// Train a reward model exactly as chapter 5 does, on comparisons from a population whose
/// members add `bias_per_word` per word with probability `share` (`groups`: (share, bias)),
/// then label the same held-out responses by each group alone and ask both reward models —
/// the pipeline's and the population's — how often they agree with each.
pub fn study(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    rm_cfg: &RmConfig,
    pipeline_rm: &RewardModel,
    groups: &[(f64, f64)],
    out: &Path,
) -> Result<(RewardModel, PopulationReport)> {
    let member = |bias: f64| BradleyTerry {
        bias_per_word: bias,
        ..rm_cfg.labeler
    };
    let population = Population::new(groups.iter().map(|&(w, b)| (w, member(b))).collect())?;
    let (rm, report) = ch05_reward::run_with(world, tok, sft, rm_cfg, &population, out, |_| {})?;
    // The held-out responses chapter 5 drew (its own stream), labelled by each group alone.
    let s = Sampling {
        temperature: rm_cfg.sample_temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let prompts = &world.prompts.heldout;
    let mut rng = world::rng(rm_cfg.seed, 33);
    let responses = sample_responses(
        sft,
        tok,
        prompts,
        ch05_reward::HELDOUT_K,
        &s,
        rm_cfg.max_new_tokens,
        &mut rng,
    )?;
    let mut agreements = Vec::new();
    for (i, &(share, bias)) in groups.iter().enumerate() {
        let pairs = label_pairs(
            world,
            &member(bias),
            prompts,
            &responses,
            &mut world::rng(rm_cfg.seed, 80 + i as u64),
        )?;
        let set = || PairSet {
            prompts,
            pairs: &pairs,
        };
        let (p, q) = (
            ch05_reward::train::evaluate(pipeline_rm, tok, set())?,
            ch05_reward::train::evaluate(&rm, tok, set())?,
        );
        agreements.push(GroupAgreement {
            share,
            bias_per_word: bias,
            pipeline_rm: p.accuracy,
            population_rm: q.accuracy,
            ceiling: p.ceiling,
        });
    }
    let point = crate::rm_point(1.0, &(&report).into());
    Ok((
        rm,
        PopulationReport {
            groups: agreements,
            rm: point,
            slope: f64::NAN,
        },
    ))
}
// ANCHOR_END: population_study
