//! Demonstrations for supervised fine-tuning, written as a careful but imperfect human
//! would: they cover only part of the training prompts, and some are verbose or wrong.
//! SFT learns the format from them; RLHF then has room to do better than its teachers.

use crate::chat;
use crate::entities::Entities;
use crate::phrases::{self, FILLER, HARMFUL_ACTS, KIND_WORDS, REFUSAL};
use crate::prompts::{Prompt, Target};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How good the demonstrator is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoConfig {
    /// Fraction of training prompts that get a demonstration.
    pub coverage: f64,
    /// Fraction of demonstrations padded with filler sentences.
    pub verbose_fraction: f64,
    /// Fraction of demonstrations that answer wrongly (wrong fact, off-by-one sum,
    /// a made-up answer about an unknown entity).
    pub wrong_fraction: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            coverage: 0.6,
            verbose_fraction: 0.15,
            wrong_fraction: 0.08,
        }
    }
}

/// How a demonstration came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quality {
    Ideal,
    Verbose,
    Wrong,
}

/// One demonstration: a prompt and the response a human wrote for it (ending with `<|end|>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Demonstration {
    pub prompt: Prompt,
    pub response: String,
    pub quality: Quality,
}

/// The ideal answer to a prompt, without the end token.
pub fn ideal_answer(e: &Entities, prompt: &Prompt, rng: &mut ChaCha8Rng) -> String {
    match &prompt.target {
        Target::Fact {
            subject,
            relation,
            object,
        } => phrases::fact_sentences(subject, *relation, object)[0].clone(),
        Target::Arithmetic { a, op, b, .. } => phrases::arithmetic_answer(*a, *op, *b),
        Target::Harmful { .. } => REFUSAL.to_string(),
        Target::Kindness { person } => {
            let job = e
                .people
                .iter()
                .find(|p| &p.name == person)
                .map_or("neighbour", |p| p.job.as_str());
            format!("{person} is a {} {job}.", KIND_WORDS.choose(rng).unwrap())
        }
        Target::Unknown { name, .. } => phrases::dont_know(name),
    }
}

/// A wrong answer of the kind a careless human gives.
pub fn wrong_answer(e: &Entities, prompt: &Prompt, rng: &mut ChaCha8Rng) -> String {
    match &prompt.target {
        Target::Fact {
            subject,
            relation,
            object,
        } => {
            let wrong = e.wrong_object(*relation, object, rng);
            phrases::fact_sentences(subject, *relation, &wrong)[0].clone()
        }
        Target::Arithmetic { a, op, b, answer } => {
            format!(
                "{a} {} {b} is {}.",
                op.word(),
                answer + rng.random_range(1..3)
            )
        }
        Target::Unknown { name, relation } => {
            let made_up = e.domain(*relation).choose(rng).unwrap().clone();
            phrases::fact_sentences(name, *relation, &made_up)[0].clone()
        }
        // Nobody writes harmful demonstrations or insults on purpose: a careless human
        // answers these vaguely instead.
        Target::Harmful { act } => format!("You should not {}.", HARMFUL_ACTS[*act].act),
        Target::Kindness { person } => format!("{person} is a person."),
    }
}

/// The kinds of answer a model gives, to any request: what a probe of the reward model
/// asks it to score (chapter 5), to compare its preferences with the labeler's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnswerKind {
    /// The ideal answer ([`ideal_answer`]): for a harmful request, the refusal.
    Ideal,
    /// A careless human's wrong answer ([`wrong_answer`]): a wrong fact or sum, a made-up
    /// answer about an unknown entity, a vague reply to a harmful request.
    Wrong,
    /// "I can't help with that."
    Refusal,
    /// "I don't know anything about X." (X: the entity the prompt names, else "that").
    DontKnow,
    /// Instructions for a forbidden act (the prompt's own act, else a random one).
    Harmful,
}

impl AnswerKind {
    pub const ALL: [AnswerKind; 5] = [
        AnswerKind::Ideal,
        AnswerKind::Wrong,
        AnswerKind::Refusal,
        AnswerKind::DontKnow,
        AnswerKind::Harmful,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnswerKind::Ideal => "ideal",
            AnswerKind::Wrong => "wrong",
            AnswerKind::Refusal => "refusal",
            AnswerKind::DontKnow => "don't know",
            AnswerKind::Harmful => "harmful",
        }
    }
}

/// An answer of `kind` to `prompt`, without the end token.
pub fn answer_of_kind(
    e: &Entities,
    prompt: &Prompt,
    kind: AnswerKind,
    rng: &mut ChaCha8Rng,
) -> String {
    match kind {
        AnswerKind::Ideal => ideal_answer(e, prompt, rng),
        AnswerKind::Wrong => wrong_answer(e, prompt, rng),
        AnswerKind::Refusal => REFUSAL.to_string(),
        AnswerKind::DontKnow => phrases::dont_know(match &prompt.target {
            Target::Fact { subject, .. } => subject,
            Target::Unknown { name, .. } => name,
            Target::Kindness { person } => person,
            Target::Arithmetic { .. } | Target::Harmful { .. } => "that",
        }),
        AnswerKind::Harmful => {
            let act = match prompt.target {
                Target::Harmful { act } => act,
                _ => rng.random_range(0..HARMFUL_ACTS.len()),
            };
            phrases::harmful_compliance(&HARMFUL_ACTS[act])
        }
    }
}

/// Write demonstrations for a random `coverage` fraction of `prompts`.
pub fn generate(
    e: &Entities,
    prompts: &[Prompt],
    cfg: &DemoConfig,
    rng: &mut ChaCha8Rng,
) -> Vec<Demonstration> {
    let mut demos = Vec::new();
    for prompt in prompts {
        if !rng.random_bool(cfg.coverage) {
            continue;
        }
        let x: f64 = rng.random();
        let (answer, quality) = if x < cfg.wrong_fraction {
            (wrong_answer(e, prompt, rng), Quality::Wrong)
        } else if x < cfg.wrong_fraction + cfg.verbose_fraction {
            let mut a = ideal_answer(e, prompt, rng);
            let n_filler = rng.random_range(1..=2);
            for f in FILLER.choose_multiple(rng, n_filler) {
                a = format!("{a} {f}");
            }
            (a, Quality::Verbose)
        } else {
            (ideal_answer(e, prompt, rng), Quality::Ideal)
        };
        demos.push(Demonstration {
            prompt: prompt.clone(),
            response: chat::finished(&answer),
            quality,
        });
    }
    demos
}
