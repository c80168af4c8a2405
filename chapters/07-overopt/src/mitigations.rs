//! Mitigations of over-optimisation, measured on the gold reward at matched KL: every curve
//! here is best-of-n from the same samples, and the same n is the same KL, ln n − (n − 1)/n.

use crate::bon::best_of_n;
use crate::study::Samples;
use serde::{Deserialize, Serialize};

// ANCHOR: ensembles
/// The mean of several reward models' normalised scores, sample by sample.
pub fn ensemble_mean(proxies: &[&[Vec<f64>]]) -> Vec<Vec<f64>> {
    combine(proxies, |xs| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The lowest of several reward models' normalised scores: the conservative ensemble
/// (Coste et al. 2023), which trusts a high score only where every member agrees.
pub fn ensemble_min(proxies: &[&[Vec<f64>]]) -> Vec<Vec<f64>> {
    combine(proxies, |xs| {
        xs.iter().copied().fold(f64::INFINITY, f64::min)
    })
}
// ANCHOR_END: ensembles

fn combine(proxies: &[&[Vec<f64>]], f: impl Fn(&[f64]) -> f64) -> Vec<Vec<f64>> {
    assert!(
        !proxies.is_empty(),
        "an ensemble needs at least one reward model"
    );
    (0..proxies[0].len())
        .map(|i| {
            (0..proxies[0][i].len())
                .map(|j| f(&proxies.iter().map(|p| p[i][j]).collect::<Vec<_>>()))
                .collect()
        })
        .collect()
}

// ANCHOR: length_penalty
/// The proxy minus `per_word` for every word of the answer.
pub fn length_penalised(samples: &Samples, proxy: &[Vec<f64>], per_word: f64) -> Vec<Vec<f64>> {
    samples
        .responses
        .iter()
        .zip(proxy)
        .map(|(rs, ps)| {
            rs.iter()
                .zip(ps)
                .map(|(r, p)| p - per_word * crate::hacking::words(r) as f64)
                .collect()
        })
        .collect()
}
// ANCHOR_END: length_penalty

/// Early stopping on a small trusted gold check: choose n on the gold of `trusted` prompts,
/// then measure that n on the other prompts, against the largest n and against the n that
/// would have been best there in hindsight. Gains are over a single sample (n = 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    pub trusted: usize,
    pub evaluated: usize,
    pub chosen_n: usize,
    pub gain_chosen: f64,
    pub largest_n: usize,
    pub gain_largest: f64,
    pub best_n: usize,
    pub gain_best: f64,
}

// ANCHOR: early_stop
/// [`EarlyStop`] for one proxy: the first `trusted` prompts are the gold check (the prompts
/// are in random order), the rest the evaluation.
pub fn early_stop(
    samples: &Samples,
    proxy: &[Vec<f64>],
    ns: &[usize],
    trusted: usize,
) -> EarlyStop {
    let n_prompts = samples.prompts.len();
    assert!(
        trusted > 0 && trusted < n_prompts,
        "the trusted check needs 0 < {trusted} < {n_prompts} prompts"
    );
    // Mean gold of best-of-n over a range of prompts.
    let gold = |n: usize, range: std::ops::Range<usize>| {
        let len = range.len() as f64;
        range
            .map(|i| best_of_n(&proxy[i], &samples.gold[i], n).1)
            .sum::<f64>()
            / len
    };
    let argmax = |f: &dyn Fn(usize) -> f64| {
        *ns.iter()
            .max_by(|&&a, &&b| f(a).total_cmp(&f(b)))
            .expect("at least one n")
    };
    let chosen_n = argmax(&|n| gold(n, 0..trusted));
    let rest = || trusted..n_prompts;
    let base = gold(1, rest());
    let best_n = argmax(&|n| gold(n, rest()));
    let largest_n = *ns.last().unwrap();
    EarlyStop {
        trusted,
        evaluated: n_prompts - trusted,
        chosen_n,
        gain_chosen: gold(chosen_n, rest()) - base,
        largest_n,
        gain_largest: gold(largest_n, rest()) - base,
        best_n,
        gain_best: gold(best_n, rest()) - base,
    }
}
// ANCHOR_END: early_stop

/// What the mitigations did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MitigationReport {
    /// Best-of-n with each proxy: the pipeline's reward model, ensembles, length penalties.
    pub curves: Vec<crate::study::Curve>,
    pub per_word: f64,
    /// Early stopping on a trusted gold check, with the pipeline's reward model.
    pub early_stop: EarlyStop,
}
