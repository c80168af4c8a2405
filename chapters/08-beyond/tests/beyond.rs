//! Chapter 8's equations and trainers on hand-computed values and tiny runs.

use candle_core::{Device, Tensor};
use ch03_gpt::{Gpt, GptConfig};
use ch05_reward::data::Pair;
use ch08_beyond::dpo::{self, EncodedPair};
use ch08_beyond::dpo_train::{self, Encoded};
use ch08_beyond::grpo::{easy_arithmetic, rloo_advantages, verifiable_reward};
use ch08_beyond::{DpoConfig, PreferenceLoss};
use world::phrases::Op;
use world::{Family, Prompt, Target};

fn gpt(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(29, 24), seed, &Device::Cpu).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() < tol
}

#[test]
fn sequence_logps_sum_the_response_tokens_whatever_the_padding() {
    let m = gpt(1);
    let prompts = vec![vec![1, 5, 2], vec![1, 2]];
    let responses = vec![vec![7, 3], vec![8, 9, 3]];
    let batched: Vec<f32> = dpo::sequence_logps(&m, &prompts, &responses)
        .unwrap()
        .to_vec1()
        .unwrap();
    for (i, (p, r)) in prompts.iter().zip(&responses).enumerate() {
        // Alone, unpadded: the log-softmax of each position's logits at the next token.
        let ids: Vec<u32> = p.iter().chain(r).copied().collect();
        let logits = m
            .forward(
                &Tensor::new(ids.as_slice(), &Device::Cpu)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap(),
                None,
            )
            .unwrap()
            .squeeze(0)
            .unwrap();
        let mut want = 0.0;
        for (j, &tok) in r.iter().enumerate() {
            let row: Vec<f32> = logits.get(p.len() - 1 + j).unwrap().to_vec1().unwrap();
            let z: f64 = row.iter().map(|&l| (l as f64).exp()).sum();
            want += row[tok as usize] as f64 - z.ln();
        }
        assert!(
            close(batched[i] as f64, want, 1e-4),
            "row {i}: {} vs {want}",
            batched[i]
        );
    }
}

#[test]
fn ipo_pulls_the_margin_to_one_over_two_beta() {
    let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap();
    // Margins h = (−1 − (−2)) − (−3 − (−2)) = 2 and 0; β = 0.25: target 2.
    let l = dpo::ipo_loss(
        &t(&[-1.0, -2.0]),
        &t(&[-3.0, -2.0]),
        &t(&[-2.0, -2.0]),
        &t(&[-2.0, -2.0]),
        0.25,
    )
    .unwrap()
    .to_scalar::<f32>()
    .unwrap();
    assert!(close(l as f64, (0.0 + 4.0) / 2.0, 1e-6), "{l}");
    // Past the target the loss rises again, where DPO's keeps falling.
    let at = |h: f32, kind| {
        let (c, r, z) = (t(&[h]), t(&[0.0]), t(&[0.0]));
        let logps = dpo::PairLogps {
            chosen: c,
            rejected: r,
        };
        let refs = dpo::PairLogps {
            chosen: z.clone(),
            rejected: z,
        };
        dpo::preference_loss(kind, &logps, &refs, 0.25)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    assert!(at(4.0, PreferenceLoss::Ipo) > at(2.0, PreferenceLoss::Ipo));
    assert!(at(4.0, PreferenceLoss::Dpo) < at(2.0, PreferenceLoss::Dpo));
}

#[test]
fn rloo_is_grpo_without_the_std_and_with_g_over_g_minus_one() {
    let r = [1.0, 0.0, 0.0, 0.0];
    let a = rloo_advantages(&r);
    // r_0 − mean of the others = 1 − 0; r_1 − (1 + 0 + 0)/3.
    assert!(
        close(a[0], 1.0, 1e-12) && close(a[1], -1.0 / 3.0, 1e-12),
        "{a:?}"
    );
    assert!(close(a.iter().sum::<f64>(), 0.0, 1e-12));
    let mean = 0.25;
    for (x, ri) in a.iter().zip(r) {
        assert!(close(*x, 4.0 / 3.0 * (ri - mean), 1e-12));
    }
    let g = ch08_beyond::grpo::group_advantages(&r, 0.0);
    assert!(
        close(g.iter().sum::<f64>(), 0.0, 1e-12),
        "GRPO's advantages sum to zero too"
    );
}

fn sum(a: u32, b: u32) -> Prompt {
    Prompt {
        family: Family::Arithmetic,
        text: format!("What is {a} plus {b}?"),
        target: Target::Arithmetic {
            a,
            op: Op::Plus,
            b,
            answer: a + b,
        },
    }
}

#[test]
fn the_checker_reads_the_last_number_of_a_finished_answer() {
    let p = sum(3, 4);
    assert_eq!(verifiable_reward(&p, "3 plus 4 is 7.<|end|>"), Some(1.0));
    assert_eq!(verifiable_reward(&p, "7<|end|>"), Some(1.0));
    assert_eq!(verifiable_reward(&p, "3 plus 4 is 8.<|end|>"), Some(0.0));
    assert_eq!(
        verifiable_reward(&p, "3 plus 4 is 7."),
        Some(0.0),
        "unfinished"
    );
    assert_eq!(verifiable_reward(&p, "17<|end|>"), Some(0.0), "17 is not 7");
    assert_eq!(verifiable_reward(&p, "I don't know.<|end|>"), Some(0.0));
    let q = Prompt {
        family: Family::Kindness,
        text: "Say something kind about Ada.".into(),
        target: Target::Kindness {
            person: "Ada".into(),
        },
    };
    assert_eq!(
        verifiable_reward(&q, "Ada is kind.<|end|>"),
        None,
        "nothing to check"
    );
}

#[test]
fn easy_arithmetic_holds_out_whole_problems() {
    let (train, heldout) = easy_arithmetic(5);
    // 36 sums and 21 differences, three phrasings each.
    assert_eq!(train.len() + heldout.len(), 3 * (36 + 21));
    let key = |p: &Prompt| format!("{:?}", p.target);
    let held: std::collections::HashSet<String> = heldout.iter().map(key).collect();
    assert!(
        train.iter().all(|p| !held.contains(&key(p))),
        "a held-out problem is trained on"
    );
    assert!(
        train
            .iter()
            .chain(&heldout)
            .all(|p| verifiable_reward(p, "").is_some())
    );
}

/// A preference a tiny model can learn: the chosen response ends with token 5, the
/// rejected one with token 6, after the same random first tokens.
fn synthetic(n: usize, seed: u64) -> Vec<EncodedPair> {
    use rand::Rng;
    let mut rng = world::rng(seed, 5);
    (0..n)
        .map(|_| {
            let prompt: Vec<u32> = (0..3).map(|_| rng.random_range(10..29)).collect();
            let body: Vec<u32> = (0..2).map(|_| rng.random_range(10..29)).collect();
            let with = |t: u32| body.iter().copied().chain([t]).collect();
            EncodedPair {
                prompt,
                chosen: with(5),
                rejected: with(6),
            }
        })
        .collect()
}

fn encoded(reference: &Gpt, pairs: Vec<EncodedPair>) -> Encoded {
    let n = pairs.len();
    Encoded {
        reference: dpo::all_pair_logps(reference, &pairs, 64).unwrap(),
        source: (0..n)
            .map(|i| Pair {
                prompt: i,
                chosen: String::new(),
                rejected: String::new(),
                u_chosen: 1.0,
                u_rejected: 0.0,
                agreement: 1.0,
                p_chosen: 1.0,
                labeler: 0,
            })
            .collect(),
        pairs,
    }
}

#[test]
fn a_tiny_dpo_run_learns_the_preference_and_every_parameter_moves() {
    let sft = gpt(2);
    let (train, heldout) = (
        encoded(&sft, synthetic(256, 1)),
        encoded(&sft, synthetic(64, 2)),
    );
    let before = dpo_train::heldout(&sft, &heldout).unwrap();
    assert_eq!(
        before.accuracy, 0.0,
        "policy = reference: every margin is 0, none is > 0"
    );
    let cfg = DpoConfig {
        steps: 40,
        batch: 16,
        lr: 1e-3,
        beta: 0.5,
        eval_every: 20,
        max_pairs: 0,
        ..DpoConfig::tiny()
    };
    let (policy, history) = dpo_train::train(&sft, &train, &heldout, &cfg, None, |_| {}).unwrap();
    let h = history.last().unwrap().heldout.unwrap();
    assert!(
        h.accuracy > 0.9,
        "the implicit reward orders held-out pairs: {h:?}"
    );
    assert!(h.gold_accuracy > 0.9, "{h:?}");
    let last = history.last().unwrap().loss;
    assert!(
        last < 0.5 * 2f64.ln(),
        "the loss falls well below ln 2: {last}"
    );
    // Every parameter tensor moved away from the reference's.
    for (name, v) in &policy.params.vars {
        let d = (v.as_tensor() - sft.params.get(name).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d > 0.0, "`{name}` never moved");
    }
    // Deterministic: the same seed, the same run.
    let (_, again) = dpo_train::train(&sft, &train, &heldout, &cfg, None, |_| {}).unwrap();
    assert_eq!(history, again);
}

#[test]
fn a_batch_too_wide_for_the_context_is_split_not_refused() {
    let m = gpt(3); // context 24
    // Each row fits (20 + 2, 2 + 20), but padded together they would need 20 + 20.
    let prompts = vec![vec![1u32; 20], vec![2u32; 2]];
    let responses = vec![vec![3u32; 2], vec![4u32; 20]];
    let both: Vec<f32> = dpo::sequence_logps(&m, &prompts, &responses)
        .unwrap()
        .to_vec1()
        .unwrap();
    for i in 0..2 {
        let alone: Vec<f32> = dpo::sequence_logps(&m, &prompts[i..=i], &responses[i..=i])
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(close(both[i] as f64, alone[0] as f64, 1e-4), "row {i}");
    }
}
