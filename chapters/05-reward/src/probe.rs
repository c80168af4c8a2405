//! What the reward model believes about each *kind* of answer, next to what the labeler
//! thinks of it.
//!
//! Held-out accuracy says how often the reward model agrees with the labeler on the pairs
//! the policy happened to sample. PPO does not stay on those pairs: it looks for whatever
//! the reward model scores highest. A probe asks the reward model directly: for every
//! held-out prompt, score one answer of each kind (the ideal answer, a wrong one, a
//! refusal, "I don't know", harmful instructions) and compare the means with the gold
//! utility. Where the reward model ranks a kind higher than the labeler does — "I don't
//! know" above a refusal on a harmful request, say — PPO will find it.

use crate::model::RewardModel;
use crate::train::raw_scores;
use crate::data::full_text;
use anyhow::{Result, ensure};
use ch01_tokenizer::tokenizers::Tokenizer;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use world::demos::{AnswerKind, answer_of_kind};
use world::{Family, Prompt, World};

/// One family × kind cell: mean normalised reward-model score and mean gold utility.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeCell {
    pub family: Family,
    pub kind: AnswerKind,
    pub rm: f64,
    pub gold: f64,
    pub n: usize,
}

/// The probe's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub cells: Vec<ProbeCell>,
    /// Per family: over each prompt's pairs of kinds with different gold utilities, the
    /// fraction the reward model orders as the labeler does.
    pub order_agreement: Vec<(Family, f64)>,
}

// ANCHOR: probe
/// Score one answer of every [`AnswerKind`] to each of `prompts` with `rm` (normalised)
/// and with the gold labeler, and aggregate per family and kind.
pub fn probe(world: &World, tok: &Tokenizer, rm: &RewardModel, prompts: &[Prompt], seed: u64) -> Result<Probe> {
    ensure!(!prompts.is_empty(), "probe: no prompts");
    let mut rng = world::rng(seed, 35);
    let kinds = AnswerKind::ALL;
    let answers: Vec<Vec<String>> = prompts
        .iter()
        .map(|p| kinds.iter().map(|&k| world::chat::finished(&answer_of_kind(&world.entities, p, k, &mut rng))).collect())
        .collect();
    let texts: Vec<String> =
        prompts.iter().zip(&answers).flat_map(|(p, rs)| rs.iter().map(move |r| full_text(p, r))).collect();
    let rm_scores: Vec<f64> = raw_scores(rm, tok, &texts, 128)?.into_iter().map(|x| rm.norm.apply(x)).collect();
    let gold: Vec<f64> =
        prompts.iter().zip(&answers).flat_map(|(p, rs)| rs.iter().map(move |r| world.utility(p, r).total)).collect();
    let k = kinds.len();
    let mut cells = Vec::new();
    let mut order_agreement = Vec::new();
    for fam in Family::ALL {
        let rows: Vec<usize> = (0..prompts.len()).filter(|&i| prompts[i].family == fam).collect();
        if rows.is_empty() {
            continue;
        }
        for (j, &kind) in kinds.iter().enumerate() {
            let mean = |xs: &[f64]| rows.iter().map(|&i| xs[i * k + j]).sum::<f64>() / rows.len() as f64;
            cells.push(ProbeCell { family: fam, kind, rm: mean(&rm_scores), gold: mean(&gold), n: rows.len() });
        }
        let (mut agree, mut total) = (0usize, 0usize);
        for &i in &rows {
            for a in 0..k {
                for b in a + 1..k {
                    let (ga, gb) = (gold[i * k + a], gold[i * k + b]);
                    if ga != gb {
                        total += 1;
                        agree += usize::from((rm_scores[i * k + a] > rm_scores[i * k + b]) == (ga > gb));
                    }
                }
            }
        }
        order_agreement.push((fam, agree as f64 / total.max(1) as f64));
    }
    Ok(Probe { cells, order_agreement })
}
// ANCHOR_END: probe

impl Probe {
    /// The cell of `family` × `kind`, if that family was probed.
    pub fn cell(&self, family: Family, kind: AnswerKind) -> Option<&ProbeCell> {
        self.cells.iter().find(|c| c.family == family && c.kind == kind)
    }

    /// Markdown: one row per family, one column per kind, "RM score (gold utility)", and
    /// the order agreement.
    pub fn table(&self) -> String {
        let mut s = String::from("| family |");
        for k in AnswerKind::ALL {
            write!(s, " {} |", k.name()).unwrap();
        }
        s.push_str(" same order as the labeler |\n|---|");
        s.push_str(&"---|".repeat(AnswerKind::ALL.len() + 1));
        s.push('\n');
        for (fam, agreement) in &self.order_agreement {
            write!(s, "| {} |", fam.name()).unwrap();
            for k in AnswerKind::ALL {
                let c = self.cell(*fam, k).unwrap();
                write!(s, " {:+.2} ({:+.1}) |", c.rm, c.gold).unwrap();
            }
            writeln!(s, " {:.0}% |", 100.0 * agreement).unwrap();
        }
        s
    }
}
