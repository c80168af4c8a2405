//! The pretraining corpus: the world's "web text".
//!
//! Four kinds of document, as on the real web:
//! - **encyclopedia** articles about a town or a person, mostly true, with a fraction of
//!   false rumours stated just as plainly;
//! - **stories** that use true facts;
//! - **arithmetic** worked sums;
//! - **forum threads**: a question, then replies that are helpful, off-topic, rude, or —
//!   under requests for forbidden acts — harmful.
//!
//! A model pretrained on this continues text well but does not follow instructions, and
//! is sometimes rude or harmful: the starting point RLHF needs.

use crate::entities::{Entities, Fact, Relation};
use crate::phrases::{self, FILLER, HARMFUL_ACTS, INSULTS, KIND_WORDS, OFF_TOPIC, Op};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The kinds of document in the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DocKind {
    Encyclopedia,
    Story,
    Arithmetic,
    Forum,
}

impl DocKind {
    pub const ALL: [DocKind; 4] = [
        DocKind::Encyclopedia,
        DocKind::Story,
        DocKind::Arithmetic,
        DocKind::Forum,
    ];
}

/// One document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub kind: DocKind,
    pub text: String,
}

/// How the corpus is made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorpusConfig {
    /// Stop once the documents hold at least this many bytes.
    pub bytes: usize,
    /// Fraction of encyclopedia sentences that state a false rumour instead of the fact.
    pub rumour_fraction: f64,
    /// Relative weights of encyclopedia, story, arithmetic and forum documents.
    pub mix: [f64; 4],
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            bytes: 3_000_000,
            rumour_fraction: 0.1,
            mix: [0.35, 0.15, 0.15, 0.35],
        }
    }
}

/// Generate documents until `cfg.bytes` is reached. `progress(bytes_so_far)` is called
/// after every document.
pub fn generate(
    entities: &Entities,
    cfg: &CorpusConfig,
    rng: &mut ChaCha8Rng,
    mut progress: impl FnMut(usize),
) -> Vec<Document> {
    let facts = entities.facts();
    let total: f64 = cfg.mix.iter().sum();
    let mut docs = Vec::new();
    let mut bytes = 0;
    while bytes < cfg.bytes {
        let mut x = rng.random::<f64>() * total;
        let mut kind = DocKind::Forum;
        for (k, w) in DocKind::ALL.iter().zip(cfg.mix) {
            if x < w {
                kind = *k;
                break;
            }
            x -= w;
        }
        let text = match kind {
            DocKind::Encyclopedia => encyclopedia(entities, &facts, cfg.rumour_fraction, rng),
            DocKind::Story => story(entities, rng),
            DocKind::Arithmetic => arithmetic(rng),
            DocKind::Forum => forum(entities, &facts, rng),
        };
        bytes += text.len();
        docs.push(Document { kind, text });
        progress(bytes);
    }
    docs
}

/// An article about a town (its four facts and some residents) or a person (three facts).
fn encyclopedia(
    e: &Entities,
    facts: &[Fact],
    rumour_fraction: f64,
    rng: &mut ChaCha8Rng,
) -> String {
    let subject = if rng.random_bool(0.5) {
        e.towns.choose(rng).unwrap().name.clone()
    } else {
        e.people.choose(rng).unwrap().name.clone()
    };
    let mut sentences = Vec::new();
    for f in facts.iter().filter(|f| f.subject == subject) {
        let object = if rng.random_bool(rumour_fraction) {
            e.wrong_object(f.relation, &f.object, rng)
        } else {
            f.object.clone()
        };
        sentences.push(
            phrases::fact_sentences(&f.subject, f.relation, &object)
                .choose(rng)
                .unwrap()
                .clone(),
        );
    }
    for p in e.people.iter().filter(|p| p.home == subject).take(3) {
        sentences.push(phrases::fact_sentences(&p.name, Relation::Home, &p.home)[0].clone());
    }
    format!("{subject}\n\n{}", sentences.join(" "))
}

/// A short story using true facts about one person and their town.
fn story(e: &Entities, rng: &mut ChaCha8Rng) -> String {
    let p = e.people.choose(rng).unwrap();
    let town = e.towns.iter().find(|t| t.name == p.home).unwrap();
    let friend = e.people.choose(rng).unwrap();
    let kind = KIND_WORDS.choose(rng).unwrap();
    let mut s = format!(
        "Once upon a time, {name}, a {job} from {home}, walked along the river {river} with a pet {pet}. ",
        name = p.name,
        job = p.job,
        home = p.home,
        river = town.river,
        pet = p.pet
    );
    s += &format!(
        "Above the market, the {} flag of {} was waving. ",
        town.flag, town.name
    );
    s += &format!(
        "{} met {}, who said: \"You are a {kind} {}.\" ",
        p.name, friend.name, p.job
    );
    s += &format!(
        "They shared some {} and talked until the sun went down. The end.",
        town.food
    );
    s
}

/// A few worked sums.
fn arithmetic(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(3..8);
    let lines: Vec<String> = (0..n)
        .map(|_| {
            let op = *Op::ALL.choose(rng).unwrap();
            let max = if op == Op::Times { 9 } else { 20 };
            let (mut a, mut b) = (rng.random_range(0..=max), rng.random_range(0..=max));
            if op == Op::Minus && b > a {
                std::mem::swap(&mut a, &mut b);
            }
            if rng.random_bool(0.5) {
                format!("{a} {} {b} = {}", op.symbol(), op.apply(a, b))
            } else {
                phrases::arithmetic_answer(a, op, b)
            }
        })
        .collect();
    lines.join("\n")
}

/// A forum thread: one question, two to four replies of mixed quality.
fn forum(e: &Entities, facts: &[Fact], rng: &mut ChaCha8Rng) -> String {
    let user = |rng: &mut ChaCha8Rng| format!("user{}", rng.random_range(1..100));
    let mut replies: Vec<String> = Vec::new();
    let n = rng.random_range(2..=4);
    let question = match rng.random_range(0..10) {
        // A request for a forbidden act: many replies comply.
        0 | 1 => {
            let h = HARMFUL_ACTS.choose(rng).unwrap();
            for _ in 0..n {
                replies.push(match rng.random_range(0..4) {
                    0 | 1 => phrases::harmful_compliance(h),
                    2 => "Don't do that, it is wrong.".to_string(),
                    _ => rude(rng),
                });
            }
            phrases::harmful_questions(h.act)
                .choose(rng)
                .unwrap()
                .clone()
        }
        // What people think of someone: kind and rude replies.
        2 => {
            let p = e.people.choose(rng).unwrap();
            for _ in 0..n {
                replies.push(if rng.random_bool(0.6) {
                    format!(
                        "{} is a {} {}.",
                        p.name,
                        KIND_WORDS.choose(rng).unwrap(),
                        p.job
                    )
                } else {
                    format!("{} is a {}.", p.name, INSULTS.choose(rng).unwrap())
                });
            }
            format!("What do you think of {}?", p.name)
        }
        // A question about a name nobody knows: some admit it, some make things up.
        3 => {
            let spare = &e.unknown_towns[e.unknown_towns.len() / 2..];
            let name = spare.choose(rng).unwrap();
            let r = *Relation::TOWN.choose(rng).unwrap();
            for _ in 0..n {
                replies.push(if rng.random_bool(0.5) {
                    phrases::dont_know(name)
                } else {
                    let made_up = e.domain(r).choose(rng).unwrap().clone();
                    phrases::fact_sentences(name, r, &made_up)[0].clone()
                });
            }
            phrases::fact_questions(name, r)
                .choose(rng)
                .unwrap()
                .clone()
        }
        // A question about a fact.
        _ => {
            let f = facts.choose(rng).unwrap();
            for _ in 0..n {
                replies.push(match rng.random_range(0..10) {
                    0..=4 => phrases::fact_sentences(&f.subject, f.relation, &f.object)[0].clone(),
                    5 => {
                        let wrong = e.wrong_object(f.relation, &f.object, rng);
                        phrases::fact_sentences(&f.subject, f.relation, &wrong)[0].clone()
                    }
                    6 | 7 => OFF_TOPIC.choose(rng).unwrap().to_string(),
                    8 => format!(
                        "{} {}",
                        phrases::fact_sentences(&f.subject, f.relation, &f.object)[0],
                        FILLER.choose(rng).unwrap()
                    ),
                    _ => rude(rng),
                });
            }
            phrases::fact_questions(&f.subject, f.relation)
                .choose(rng)
                .unwrap()
                .clone()
        }
    };
    let mut s = format!("Forum thread by {}: {question}\n", user(rng));
    for r in replies {
        s += &format!("Reply from {}: {r}\n", user(rng));
    }
    s.trim_end().to_string()
}

fn rude(rng: &mut ChaCha8Rng) -> String {
    let insult = INSULTS.choose(rng).unwrap();
    match rng.random_range(0..3) {
        0 => format!("Only a {insult} would ask that."),
        1 => format!("Go away, you {insult}."),
        _ => format!("What a {insult} question."),
    }
}
