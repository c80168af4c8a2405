//! The generated world: determinism, the split, the corpus's contents, demonstrations,
//! the preference sampler and the evaluation metrics.

use std::collections::BTreeSet;
use world::preference::sigmoid;
use world::{BradleyTerry, DocKind, Family, Target, World, WorldConfig, chat, demos};

fn tiny() -> World {
    World::generate(&WorldConfig::tiny()).unwrap()
}

#[test]
fn same_seed_gives_byte_identical_output() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    for dir in [&dir_a, &dir_b] {
        let w = tiny();
        w.write_to(dir.path(), &w.corpus(|_| {})).unwrap();
    }
    for name in [
        "world.json",
        "facts.tsv",
        "prompts_train.jsonl",
        "prompts_heldout.jsonl",
        "demonstrations.jsonl",
        "samples.md",
        "corpus.txt",
    ] {
        let a = std::fs::read(dir_a.path().join(name)).unwrap();
        let b = std::fs::read(dir_b.path().join(name)).unwrap();
        assert!(!a.is_empty(), "{name} is empty");
        assert!(a == b, "{name} differs between two runs with the same seed");
    }
    // A different seed gives a different world.
    let other = World::generate(&WorldConfig {
        seed: 99,
        ..WorldConfig::tiny()
    })
    .unwrap();
    assert_ne!(other.entities, tiny().entities);
}

#[test]
fn corpus_size_does_not_change_the_prompts() {
    let mut cfg = WorldConfig::tiny();
    cfg.corpus.bytes *= 2;
    assert_eq!(World::generate(&cfg).unwrap().prompts, tiny().prompts);
}

#[test]
fn world_has_a_few_hundred_facts() {
    let w = World::generate(&WorldConfig::small()).unwrap();
    let facts = w.facts();
    assert_eq!(facts.len(), 30 * 4 + 60 * 3);
    assert_eq!(facts.iter().collect::<BTreeSet<_>>().len(), facts.len());
    // Unknown names really belong to nothing.
    for name in w
        .entities
        .unknown_towns
        .iter()
        .chain(&w.entities.unknown_people)
    {
        assert!(
            facts
                .iter()
                .all(|f| &f.subject != name && &f.object != name),
            "{name} is known"
        );
    }
}

#[test]
fn train_and_heldout_share_no_prompt_and_no_fact() {
    let w = World::generate(&WorldConfig::small()).unwrap();
    let train: BTreeSet<&str> = w.prompts.train.iter().map(|p| p.text.as_str()).collect();
    let held: BTreeSet<&str> = w.prompts.heldout.iter().map(|p| p.text.as_str()).collect();
    assert!(train.is_disjoint(&held));
    // Split by item: no fact is asked about on both sides (only rephrased).
    let fact_key = |t: &Target| match t {
        Target::Fact {
            subject, relation, ..
        } => Some((subject.clone(), *relation)),
        _ => None,
    };
    let train_facts: BTreeSet<_> = w
        .prompts
        .train
        .iter()
        .filter_map(|p| fact_key(&p.target))
        .collect();
    let held_facts: BTreeSet<_> = w
        .prompts
        .heldout
        .iter()
        .filter_map(|p| fact_key(&p.target))
        .collect();
    assert!(train_facts.is_disjoint(&held_facts));
    // Every family is on both sides; about a fifth is held out.
    for fam in Family::ALL {
        let n_train = w.prompts.train.iter().filter(|p| p.family == fam).count();
        let n_held = w.prompts.heldout.iter().filter(|p| p.family == fam).count();
        assert!(
            n_train > 0 && n_held > 0,
            "{fam:?}: {n_train} train, {n_held} held out"
        );
        let frac = n_held as f64 / (n_train + n_held) as f64;
        assert!(
            (0.1..0.3).contains(&frac),
            "{fam:?}: held-out fraction {frac}"
        );
    }
    // Demonstrations only for training prompts.
    assert!(
        w.demonstrations
            .iter()
            .all(|d| train.contains(d.prompt.text.as_str()))
    );
}

#[test]
fn corpus_has_every_document_kind_and_its_flaws() {
    let w = tiny();
    let docs = w.corpus(|_| {});
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    assert!(bytes >= w.config.corpus.bytes && bytes < w.config.corpus.bytes + 2_000);
    for kind in DocKind::ALL {
        let n = docs.iter().filter(|d| d.kind == kind).count();
        assert!(n > 20, "{kind:?}: only {n} documents");
    }
    let all = world::corpus_text(&docs);
    assert!(
        all.contains("cut the chain with pliers"),
        "no harmful replies"
    );
    assert!(
        world::phrases::INSULTS.iter().any(|i| all.contains(i)),
        "no rude replies"
    );
    assert!(all.contains("Forum thread by") && all.contains("Once upon a time"));
    // No chat template in the web text: the base model must not already follow instructions.
    assert!(
        !all.contains(chat::USER) && !all.contains(chat::ASSISTANT) && !all.contains(chat::END)
    );
    assert_eq!(world::split_corpus(&all).len(), docs.len());
}

#[test]
fn encyclopedia_rumours_are_about_the_stated_fraction() {
    let mut cfg = WorldConfig::tiny();
    cfg.corpus.mix = [1.0, 0.0, 0.0, 0.0];
    let w = World::generate(&cfg).unwrap();
    let docs = w.corpus(|_| {});
    let (mut true_n, mut false_n) = (0, 0);
    for f in w.facts() {
        let canonical = |o: &str| world::phrases::fact_sentences(&f.subject, f.relation, o);
        for d in &docs {
            for v in w.entities.domain(f.relation) {
                let n: usize = canonical(&v)
                    .iter()
                    .map(|s| d.text.matches(s.as_str()).count())
                    .sum();
                if v == f.object {
                    true_n += n
                } else {
                    false_n += n
                }
            }
        }
    }
    let frac = false_n as f64 / (true_n + false_n) as f64;
    assert!(
        (0.06..0.14).contains(&frac),
        "rumour fraction {frac}, configured 0.1"
    );
}

#[test]
fn demonstrations_are_imperfect_by_design() {
    let w = World::generate(&WorldConfig::small()).unwrap();
    let n = w.demonstrations.len() as f64;
    let coverage = n / w.prompts.train.len() as f64;
    assert!((0.5..0.7).contains(&coverage), "coverage {coverage}");
    let mut ideal = 0.0;
    for d in &w.demonstrations {
        let u = w.utility(&d.prompt, &d.response).total;
        match d.quality {
            demos::Quality::Ideal => {
                assert_eq!(u, 3.0, "{:?} -> {}", d.prompt.text, d.response);
                ideal += 1.0;
            }
            _ => assert!(u < 3.0, "{:?} -> {} scored {u}", d.prompt.text, d.response),
        }
    }
    assert!(
        (0.7..0.85).contains(&(ideal / n)),
        "ideal fraction {}",
        ideal / n
    );
}

#[test]
fn bradley_terry_rate_matches_the_sigmoid() {
    // P(a ≻ b) = σ((u_a − u_b)/T). With 20 000 draws, the standard error of a rate is at
    // most 0.0036; we allow 0.015 (about 4 standard errors).
    let w = tiny();
    let p = w
        .prompts
        .train
        .iter()
        .find(|p| p.family == Family::Fact)
        .unwrap();
    let Target::Fact {
        subject,
        relation,
        object,
    } = &p.target
    else {
        unreachable!()
    };
    let right = chat::finished(&world::phrases::fact_sentences(subject, *relation, object)[0]);
    let vague = chat::finished("I don't know.");
    let (ua, ub) = (w.utility(p, &right).total, w.utility(p, &vague).total);
    assert_eq!((ua, ub), (3.0, 1.0));
    let mut rng = world::rng(7, 0);
    for t in [0.5, 1.0, 2.0, 4.0] {
        let labeler = BradleyTerry::new(t).unwrap();
        let n = 20_000;
        let wins = (0..n)
            .filter(|_| {
                labeler
                    .compare(&w, p, &right, &vague, &mut rng)
                    .unwrap()
                    .chosen
                    == right
            })
            .count();
        let rate = wins as f64 / n as f64;
        let expected = sigmoid((ua - ub) / t);
        assert!(
            (rate - expected).abs() < 0.015,
            "T = {t}: rate {rate}, sigmoid {expected}"
        );
        assert!((labeler.agreement(ua, ub) - expected).abs() < 1e-12);
    }
    // A labeler biased towards length prefers the verbose answer more often.
    let verbose = chat::finished(&format!(
        "{} {}",
        chat::answer_part(&right),
        world::phrases::FILLER[0]
    ));
    let fair = BradleyTerry::new(1.0).unwrap();
    let biased = BradleyTerry {
        bias_per_word: 0.3,
        ..fair
    };
    let p_fair = fair.p_prefers(
        fair.perceived(&w, p, &verbose),
        fair.perceived(&w, p, &right),
    );
    let p_biased = biased.p_prefers(
        biased.perceived(&w, p, &verbose),
        biased.perceived(&w, p, &right),
    );
    assert!(
        p_fair < 0.5 && p_biased > 0.5,
        "fair {p_fair}, biased {p_biased}"
    );
    assert!(BradleyTerry::new(0.0).is_err() && BradleyTerry::new(f64::NAN).is_err());
}

#[test]
fn a_population_of_labelers_votes_by_share() {
    // Two groups with strong opposite tastes for length, 3 : 1. Each labels the verbose
    // answer of a pair almost always one way, so the verbose answer wins about 75% of the
    // comparisons: the population's vote, not either group's.
    use world::{Labeler, Population};
    let w = tiny();
    let p = w
        .prompts
        .train
        .iter()
        .find(|p| p.family == Family::Fact)
        .unwrap();
    let Target::Fact {
        subject,
        relation,
        object,
    } = &p.target
    else {
        unreachable!()
    };
    let right = chat::finished(&world::phrases::fact_sentences(subject, *relation, object)[0]);
    let verbose = chat::finished(&format!(
        "{} {}",
        chat::answer_part(&right),
        world::phrases::FILLER[0]
    ));
    let member = |bias| BradleyTerry {
        bias_per_word: bias,
        ..BradleyTerry::new(0.1).unwrap()
    };
    let crowd = Population::new(vec![(3.0, member(2.0)), (1.0, member(-2.0))]).unwrap();
    let mut rng = world::rng(8, 0);
    let n = 20_000;
    let votes: Vec<_> = (0..n)
        .map(|_| crowd.compare(&w, p, &verbose, &right, &mut rng).unwrap())
        .collect();
    let share = |f: &dyn Fn(&world::preference::Comparison) -> bool| {
        votes.iter().filter(|c| f(c)).count() as f64 / n as f64
    };
    let rate = share(&|c| c.chosen == verbose);
    assert!(
        (rate - 0.75).abs() < 0.015,
        "the verbose answer wins {rate} of the votes"
    );
    // Each comparison records which member made it, and each member votes its own taste.
    let first = share(&|c| c.labeler == 0);
    assert!(
        (first - 0.75).abs() < 0.015,
        "member 0 made {first} of the votes"
    );
    assert!(
        votes
            .iter()
            .all(|c| (c.chosen == verbose) == (c.labeler == 0))
    );
    let d = crowd.describe();
    assert_eq!(d["members"][1]["share"], 0.25);
    assert_eq!(d["members"][1]["bias_per_word"], -2.0);
    // Its agreement with the gold order is the members' agreement, weighted.
    let (a, b) = (
        member(2.0).agreement(3.0, 1.0),
        member(-2.0).agreement(3.0, 1.0),
    );
    assert!((crowd.agreement(3.0, 1.0) - (0.75 * a + 0.25 * b)).abs() < 1e-12);
    let e = Population::new(vec![(0.0, member(0.0))])
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight must be positive"), "{e}");
    assert!(Population::new(vec![]).is_err());
}

#[test]
fn evaluation_metrics_of_ideal_and_bad_responders() {
    let w = World::generate(&WorldConfig::small()).unwrap();
    let prompts = &w.prompts.heldout;
    let mut rng = world::rng(0, 0);
    let ideal: Vec<String> = prompts
        .iter()
        .map(|p| chat::finished(&demos::ideal_answer(&w.entities, p, &mut rng)))
        .collect();
    let c = w.evaluate(prompts, &ideal).unwrap();
    for (name, x) in [
        ("format", c.instruction_format),
        ("helpfulness", c.helpfulness),
        ("harmlessness", c.harmlessness),
        ("truthfulness", c.truthfulness),
        ("toxicity avoidance", c.toxicity_avoidance),
    ] {
        assert_eq!(x, 1.0, "{name}");
    }
    assert_eq!(c.gold_reward, 3.0);
    assert_eq!(c.families.len(), 5);

    // A rude base model that rambles on without ending.
    let rude: Vec<String> = prompts
        .iter()
        .map(|_| "Only a fool would ask that.".to_string())
        .collect();
    let c = w.evaluate(prompts, &rude).unwrap();
    assert_eq!(
        (
            c.instruction_format,
            c.helpfulness,
            c.harmlessness,
            c.toxicity_avoidance
        ),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert!(c.gold_reward < -3.0);
    let table = world::eval::capability_table(&[
        ("base", &c),
        ("ideal", &w.evaluate(prompts, &ideal).unwrap()),
    ]);
    assert!(table.contains("| helpfulness | 0% | 100% |"), "{table}");

    assert!(
        w.evaluate(prompts, &rude[1..])
            .unwrap_err()
            .to_string()
            .contains("one response per prompt")
    );

    // "I don't know" to everything is truthful on facts but not informative.
    let mut rng = world::rng(0, 0);
    let dont_know: Vec<String> = prompts
        .iter()
        .map(|p| {
            chat::finished(&demos::answer_of_kind(
                &w.entities,
                p,
                demos::AnswerKind::DontKnow,
                &mut rng,
            ))
        })
        .collect();
    let c = w.evaluate(prompts, &dont_know).unwrap();
    assert_eq!(
        (c.truthfulness, c.helpfulness, c.harmlessness),
        (1.0, 0.0, 0.0)
    );
    let facts = prompts
        .iter()
        .filter(|p| p.family == world::Family::Fact)
        .count() as f64;
    let unknown = prompts
        .iter()
        .filter(|p| p.family == world::Family::Unknown)
        .count() as f64;
    assert!(
        (c.truthful_informative - unknown / (facts + unknown)).abs() < 1e-12,
        "{}",
        c.truthful_informative
    );
    // The per-prompt values average to the table's numbers.
    let values =
        world::eval::per_prompt(&w.config.labeler, &w.entities, prompts, &dont_know).unwrap();
    for (m, v) in world::Metric::ALL.iter().zip(&values) {
        let (x, y) = (world::eval::mean_counted(v), m.get(&c));
        assert!(
            (x - y).abs() < 1e-12 || (x.is_nan() && y.is_nan()),
            "{}: {x} vs {y}",
            m.name()
        );
    }
}

#[test]
fn every_family_is_large_enough_to_measure() {
    // A capability measured on a handful of prompts cannot tell 75% from 100%: every family
    // has at least 24 held-out prompts, harmful requests 40 (20 phrasings of 10 acts).
    let w = World::generate(&WorldConfig::small()).unwrap();
    for fam in world::Family::ALL {
        let n = w.prompts.heldout.iter().filter(|p| p.family == fam).count();
        assert!(n >= 24, "{}: only {n} held-out prompts", fam.name());
    }
    let harmful = |ps: &[world::Prompt]| {
        ps.iter()
            .filter(|p| p.family == world::Family::Harmful)
            .count()
    };
    assert_eq!(
        (harmful(&w.prompts.train), harmful(&w.prompts.heldout)),
        (160, 40)
    );
}

#[test]
fn answers_of_each_kind_are_judged_as_their_kind() {
    use demos::AnswerKind::*;
    let w = World::generate(&WorldConfig::small()).unwrap();
    for p in w.prompts.heldout.iter().take(100) {
        let judge = |k| {
            w.judge(
                p,
                &chat::finished(&demos::answer_of_kind(
                    &w.entities,
                    p,
                    k,
                    &mut world::rng(1, 0),
                )),
            )
        };
        assert!(
            judge(Refusal).seen.refused
                && judge(DontKnow).seen.admits_ignorance
                && judge(Harmful).seen.harmful
        );
        assert_eq!(judge(Ideal).utility.total, 3.0, "{}", p.text);
        // Instructions can name a right answer by chance ("… hurt a dog …" to a question whose
        // answer is a dog), never more than cancel the harm.
        assert!(
            judge(Wrong).utility.total < 3.0 && judge(Harmful).utility.total <= 0.0,
            "{}",
            p.text
        );
    }
}

#[test]
fn bad_configs_are_named() {
    let mut cfg = WorldConfig::tiny();
    cfg.n_towns = 1000;
    let err = format!("{:#}", World::generate(&cfg).unwrap_err());
    assert!(err.contains("n_towns"), "{err}");
    let mut cfg = WorldConfig::tiny();
    cfg.demos.coverage = 1.5;
    assert!(format!("{:#}", World::generate(&cfg).unwrap_err()).contains("demos.coverage"));
    assert!(
        "huge"
            .parse::<world::Preset>()
            .unwrap_err()
            .to_string()
            .contains("huge")
    );
}
