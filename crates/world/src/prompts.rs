//! Instruction prompts, in five families, split into a training set and a held-out set
//! that share no prompt.
//!
//! The split is by *item* (a fact, a sum, a forbidden act with one phrasing, a person, an
//! unknown name), never by phrasing alone, so a held-out fact question asks about a fact
//! that no training prompt asks about: the model must have learned it in pretraining.

use crate::entities::{Entities, Relation};
use crate::phrases::{self, HARMFUL_ACTS, Op};
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The kind of request a prompt makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Family {
    /// A question about a fact of the world.
    Fact,
    /// A small sum, difference or product.
    Arithmetic,
    /// A request to do a forbidden act: the right answer is a refusal.
    Harmful,
    /// "Say something kind about P."
    Kindness,
    /// A question about a town or person that does not exist: the right answer is "I don't know".
    Unknown,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Fact,
        Family::Arithmetic,
        Family::Harmful,
        Family::Kindness,
        Family::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Fact => "fact",
            Family::Arithmetic => "arithmetic",
            Family::Harmful => "harmful",
            Family::Kindness => "kindness",
            Family::Unknown => "unknown",
        }
    }
}

/// What a prompt asks about: everything the labeler needs to judge an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Fact {
        subject: String,
        relation: Relation,
        object: String,
    },
    Arithmetic {
        a: u32,
        op: Op,
        b: u32,
        answer: u32,
    },
    Harmful {
        act: usize,
    },
    Kindness {
        person: String,
    },
    Unknown {
        name: String,
        relation: Relation,
    },
}

/// One instruction prompt: the user's message (without the chat template) and its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub family: Family,
    pub text: String,
    pub target: Target,
}

impl Prompt {
    /// The prompt in the chat template, ready for a model to continue.
    pub fn chat(&self) -> String {
        crate::chat::prompt_text(&self.text)
    }
}

/// Training and held-out prompts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptSplit {
    pub train: Vec<Prompt>,
    pub heldout: Vec<Prompt>,
}

/// Build every family's prompts and split them: a fraction `heldout_fraction` of each
/// family's items goes to the held-out set.
pub fn generate(entities: &Entities, heldout_fraction: f64, rng: &mut ChaCha8Rng) -> PromptSplit {
    // Each family is a list of items, each item a list of prompts (its phrasings): items are
    // split between training and held out, so no phrasing of a held-out item is trained on.
    // (The families draw from `rng` in this order.)
    let families = vec![
        fact_items(entities, rng),
        arithmetic_items(rng),
        harmful_items(),
        kindness_items(entities, rng),
        unknown_items(entities, rng),
    ];
    split_items(families, heldout_fraction, rng)
}

/// A family's items: each item is the prompts (phrasings) of one question.
type Items = Vec<Vec<Prompt>>;

/// Fact: one item per fact; two of its phrasings become prompts.
fn fact_items(entities: &Entities, rng: &mut ChaCha8Rng) -> Items {
    entities
        .facts()
        .into_iter()
        .map(|f| {
            let target = Target::Fact {
                subject: f.subject.clone(),
                relation: f.relation,
                object: f.object.clone(),
            };
            pick(
                phrases::fact_questions(&f.subject, f.relation),
                2,
                Family::Fact,
                &target,
                rng,
            )
        })
        .collect()
}

/// Arithmetic: sums and differences up to 20, products up to 9 × 9; 240 of them.
fn arithmetic_items(rng: &mut ChaCha8Rng) -> Items {
    let mut sums = Vec::new();
    for op in Op::ALL {
        let max = if op == Op::Times { 9 } else { 20 };
        for a in 0..=max {
            for b in 0..=max {
                if op == Op::Minus && b > a {
                    continue;
                }
                sums.push((a, op, b));
            }
        }
    }
    sums.shuffle(rng);
    sums.truncate(240);
    sums.sort();
    sums.into_iter()
        .map(|(a, op, b)| {
            let target = Target::Arithmetic {
                a,
                op,
                b,
                answer: op.apply(a, b),
            };
            pick(
                phrases::arithmetic_questions(a, op, b),
                1,
                Family::Arithmetic,
                &target,
                rng,
            )
        })
        .collect()
}

/// Harmful: one item per (act, phrasing): new phrasings of known acts are held out.
fn harmful_items() -> Items {
    HARMFUL_ACTS
        .iter()
        .enumerate()
        .flat_map(|(i, h)| {
            phrases::harmful_requests(h.act)
                .into_iter()
                .map(move |text| {
                    vec![Prompt {
                        family: Family::Harmful,
                        text,
                        target: Target::Harmful { act: i },
                    }]
                })
        })
        .collect()
}

/// Kindness: one item per person.
fn kindness_items(entities: &Entities, rng: &mut ChaCha8Rng) -> Items {
    entities
        .people
        .iter()
        .map(|p| {
            let target = Target::Kindness {
                person: p.name.clone(),
            };
            pick(
                phrases::kindness_questions(&p.name),
                2,
                Family::Kindness,
                &target,
                rng,
            )
        })
        .collect()
}

/// Unknown: names that belong to nothing, asked about like real ones. Half of the spare
/// names stay out of the prompts (the corpus's forum chatter uses those).
fn unknown_items(entities: &Entities, rng: &mut ChaCha8Rng) -> Items {
    let n_towns = entities.unknown_towns.len() / 2;
    let n_people = entities.unknown_people.len() / 2;
    let mut unknown = Vec::new();
    for name in entities.unknown_towns.iter().take(n_towns.min(60)) {
        let relation = *Relation::TOWN.choose(rng).unwrap();
        unknown.push((name.clone(), relation));
    }
    for name in entities.unknown_people.iter().take(n_people.min(60)) {
        let relation = *Relation::PERSON.choose(rng).unwrap();
        unknown.push((name.clone(), relation));
    }
    unknown
        .into_iter()
        .map(|(name, relation)| {
            let target = Target::Unknown {
                name: name.clone(),
                relation,
            };
            pick(
                phrases::fact_questions(&name, relation),
                1,
                Family::Unknown,
                &target,
                rng,
            )
        })
        .collect()
}

/// Each family's items shuffled, the first `heldout_fraction` of them (at least one) held
/// out, and both sets shuffled.
fn split_items(families: Vec<Items>, heldout_fraction: f64, rng: &mut ChaCha8Rng) -> PromptSplit {
    let mut split = PromptSplit {
        train: Vec::new(),
        heldout: Vec::new(),
    };
    for mut items in families {
        items.shuffle(rng);
        let n_held = ((items.len() as f64) * heldout_fraction).round().max(1.0) as usize;
        for (i, item) in items.into_iter().enumerate() {
            if i < n_held {
                split.heldout.extend(item)
            } else {
                split.train.extend(item)
            }
        }
    }
    split.train.shuffle(rng);
    split.heldout.shuffle(rng);
    split
}

/// `n` distinct phrasings of one item, as prompts.
fn pick(
    mut texts: Vec<String>,
    n: usize,
    family: Family,
    target: &Target,
    rng: &mut ChaCha8Rng,
) -> Vec<Prompt> {
    texts.shuffle(rng);
    texts
        .into_iter()
        .take(n.max(1))
        .map(|text| Prompt {
            family,
            text,
            target: target.clone(),
        })
        .collect()
}
