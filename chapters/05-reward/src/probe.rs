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
use crate::train::normalised_scores;
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
pub fn probe(
    world: &World,
    tok: &Tokenizer,
    rm: &RewardModel,
    prompts: &[Prompt],
    seed: u64,
) -> Result<Probe> {
    ensure!(!prompts.is_empty(), "probe: no prompts");
    let mut rng = world::rng(seed, 35);
    // Row i * K + j: prompt i with an answer of kind j.
    let (mut asked, mut answers, mut gold) = (Vec::new(), Vec::new(), Vec::new());
    for p in prompts {
        for kind in AnswerKind::ALL {
            let answer = world::chat::finished(&answer_of_kind(&world.entities, p, kind, &mut rng));
            gold.push(world.utility(p, &answer).total);
            asked.push(p.clone());
            answers.push(answer);
        }
    }
    let rm_scores = normalised_scores(rm, tok, &asked, &answers)?;
    let mut out = Probe::default();
    for fam in Family::ALL {
        let rows: Vec<usize> = (0..prompts.len())
            .filter(|&i| prompts[i].family == fam)
            .collect();
        if rows.is_empty() {
            continue;
        }
        for (j, kind) in AnswerKind::ALL.into_iter().enumerate() {
            let mean =
                |xs: &[f64]| rows.iter().map(|&i| xs[i * K + j]).sum::<f64>() / rows.len() as f64;
            out.cells.push(ProbeCell {
                family: fam,
                kind,
                rm: mean(&rm_scores),
                gold: mean(&gold),
                n: rows.len(),
            });
        }
        out.order_agreement
            .push((fam, order_agreement(&rows, &rm_scores, &gold)));
    }
    Ok(out)
}
// ANCHOR_END: probe

/// Kinds of answer per prompt.
const K: usize = AnswerKind::ALL.len();

/// Over the pairs of kinds of each of `rows`' prompts that the labeler does not rate equal,
/// the fraction the reward model orders as the labeler does.
fn order_agreement(rows: &[usize], rm: &[f64], gold: &[f64]) -> f64 {
    let (mut agree, mut total) = (0usize, 0usize);
    for &i in rows {
        for a in i * K..(i + 1) * K {
            for b in a + 1..(i + 1) * K {
                if gold[a] != gold[b] {
                    total += 1;
                    agree += usize::from((rm[a] > rm[b]) == (gold[a] > gold[b]));
                }
            }
        }
    }
    agree as f64 / total.max(1) as f64
}

impl Probe {
    /// The cell of `family` × `kind`, if that family was probed.
    pub fn cell(&self, family: Family, kind: AnswerKind) -> Option<&ProbeCell> {
        self.cells
            .iter()
            .find(|c| c.family == family && c.kind == kind)
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
