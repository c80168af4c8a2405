//! Comparisons as a human labeler gives them: noisy, Bradley–Terry style.
//!
//! Given two responses a and b to the same prompt, the labeler prefers a with probability
//!
//! ```text
//! P(a ≻ b) = σ((u'_a − u'_b) / T),    u' = u + bias_per_word · words
//! ```
//!
//! where u is the gold utility, T > 0 the labeler's temperature (higher: noisier), and
//! `bias_per_word` an optional liking for long answers, to show what biased feedback
//! teaches a reward model. With bias 0 the labeler is noisy but unbiased.

use crate::World;
use crate::prompts::Prompt;
use anyhow::{Result, ensure};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The logistic function σ(x) = 1 / (1 + e^(−x)).
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A simulated labeler.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BradleyTerry {
    /// T in σ((u'_a − u'_b) / T). Must be positive.
    pub temperature: f64,
    /// Added to the utility per word of the answer: 0 for an unbiased labeler.
    pub bias_per_word: f64,
}

impl Default for BradleyTerry {
    fn default() -> Self {
        BradleyTerry {
            temperature: 0.5,
            bias_per_word: 0.0,
        }
    }
}

/// The outcome of one comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub chosen: String,
    pub rejected: String,
    /// P(chosen ≻ rejected) under the labeler's model.
    pub p_chosen: f64,
    /// Gold utilities, for evaluation only (a reward model must not train on them).
    pub u_chosen: f64,
    pub u_rejected: f64,
    /// Which labeler made it: the member of a [`Population`], 0 for a single labeler.
    #[serde(default)]
    pub labeler: usize,
}

impl BradleyTerry {
    /// A labeler with this temperature and no bias.
    pub fn new(temperature: f64) -> Result<Self> {
        let b = BradleyTerry {
            temperature,
            bias_per_word: 0.0,
        };
        b.check()?;
        Ok(b)
    }

    fn check(&self) -> Result<()> {
        ensure!(
            self.temperature.is_finite() && self.temperature > 0.0,
            "labeler temperature must be a positive number, got {}",
            self.temperature
        );
        ensure!(
            self.bias_per_word.is_finite(),
            "labeler bias must be finite, got {}",
            self.bias_per_word
        );
        Ok(())
    }

    // ANCHOR: bradley_terry
    /// The utility as this labeler perceives it: u + bias_per_word · words.
    pub fn perceived(&self, world: &World, prompt: &Prompt, response: &str) -> f64 {
        let j = world.judge(prompt, response);
        j.utility.total + self.bias_per_word * j.seen.words as f64
    }

    /// P(a ≻ b) = σ((u'_a − u'_b) / T) for perceived utilities u'_a, u'_b.
    pub fn p_prefers(&self, ua: f64, ub: f64) -> f64 {
        sigmoid((ua - ub) / self.temperature)
    }

    /// Ask the labeler which of two responses it prefers.
    pub fn compare<R: Rng>(
        &self,
        world: &World,
        prompt: &Prompt,
        a: &str,
        b: &str,
        rng: &mut R,
    ) -> Result<Comparison> {
        self.check()?;
        let (ua, ub) = (
            self.perceived(world, prompt, a),
            self.perceived(world, prompt, b),
        );
        let p_a = self.p_prefers(ua, ub);
        let gold = |r: &str| world.utility(prompt, r).total;
        Ok(if rng.random_bool(p_a) {
            Comparison {
                chosen: a.into(),
                rejected: b.into(),
                p_chosen: p_a,
                u_chosen: gold(a),
                u_rejected: gold(b),
                labeler: 0,
            }
        } else {
            Comparison {
                chosen: b.into(),
                rejected: a.into(),
                p_chosen: 1.0 - p_a,
                u_chosen: gold(b),
                u_rejected: gold(a),
                labeler: 0,
            }
        })
    }
    // ANCHOR_END: bradley_terry

    /// How often this labeler agrees with the noiseless gold order on a pair with gold
    /// utilities `ua != ub`: the ceiling a reward model trained on its labels can reach.
    pub fn agreement(&self, ua: f64, ub: f64) -> f64 {
        let p = self.p_prefers(ua, ub);
        if ua >= ub { p } else { 1.0 - p }
    }
}

/// Anything that labels comparisons: one simulated human ([`BradleyTerry`]), or a
/// [`Population`] of them who disagree.
pub trait Labeler {
    /// Ask which of two responses to `prompt` is preferred.
    fn compare<R: Rng>(
        &self,
        world: &World,
        prompt: &Prompt,
        a: &str,
        b: &str,
        rng: &mut R,
    ) -> Result<Comparison>;
    /// How often the labels agree with the noiseless gold order on a pair with gold
    /// utilities `ua != ub`, in expectation: the ceiling of a reward model's accuracy.
    fn agreement(&self, ua: f64, ub: f64) -> f64;
    /// Who this is, as data: recorded with the comparisons it labels.
    fn describe(&self) -> serde_json::Value;
}

impl Labeler for BradleyTerry {
    fn compare<R: Rng>(
        &self,
        world: &World,
        prompt: &Prompt,
        a: &str,
        b: &str,
        rng: &mut R,
    ) -> Result<Comparison> {
        BradleyTerry::compare(self, world, prompt, a, b, rng)
    }
    fn agreement(&self, ua: f64, ub: f64) -> f64 {
        BradleyTerry::agreement(self, ua, ub)
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": "Bradley–Terry",
            "temperature": self.temperature,
            "bias_per_word": self.bias_per_word,
        })
    }
}

// ANCHOR: population
/// Labelers who disagree: each comparison is made by one member, drawn with probability
/// proportional to its weight — a crowd of raters, each with their own taste.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// (weight, labeler); weights need not sum to 1.
    pub members: Vec<(f64, BradleyTerry)>,
}

impl Population {
    /// A population; every weight positive and finite, every labeler valid.
    pub fn new(members: Vec<(f64, BradleyTerry)>) -> Result<Self> {
        ensure!(
            !members.is_empty(),
            "a population of labelers needs at least one member"
        );
        for (w, l) in &members {
            ensure!(
                w.is_finite() && *w > 0.0,
                "a labeler's weight must be positive, got {w}"
            );
            l.check()?;
        }
        Ok(Population { members })
    }

    fn total(&self) -> f64 {
        self.members.iter().map(|m| m.0).sum()
    }
}

impl Labeler for Population {
    fn compare<R: Rng>(
        &self,
        world: &World,
        prompt: &Prompt,
        a: &str,
        b: &str,
        rng: &mut R,
    ) -> Result<Comparison> {
        let mut x = rng.random::<f64>() * self.total();
        let mut member = self.members.len() - 1;
        for (i, (w, _)) in self.members.iter().enumerate() {
            if x < *w {
                member = i;
                break;
            }
            x -= w;
        }
        let c = self.members[member].1.compare(world, prompt, a, b, rng)?;
        Ok(Comparison {
            labeler: member,
            ..c
        })
    }

    /// The members' agreements, weighted.
    fn agreement(&self, ua: f64, ub: f64) -> f64 {
        self.members
            .iter()
            .map(|(w, l)| w * l.agreement(ua, ub))
            .sum::<f64>()
            / self.total()
    }

    /// Each member (its index is `labeler` in the comparisons) with its share of the labels.
    fn describe(&self) -> serde_json::Value {
        let members: Vec<serde_json::Value> = self
            .members
            .iter()
            .map(|(w, l)| {
                let mut m = l.describe();
                m["share"] = serde_json::json!(w / self.total());
                m
            })
            .collect();
        serde_json::json!({ "kind": "population", "members": members })
    }
}
// ANCHOR_END: population
