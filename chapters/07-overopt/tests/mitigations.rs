//! Mitigations: ensembles combine sample by sample, the length penalty charges per word,
//! and early stopping chooses n on the trusted prompts alone.

use ch07_overopt::mitigations::{early_stop, ensemble_mean, ensemble_min, length_penalised};
use ch07_overopt::study::Samples;
use world::{Family, Prompt, Target};

fn prompt(i: usize) -> Prompt {
    Prompt {
        family: Family::Harmful,
        text: format!("prompt {i}"),
        target: Target::Harmful { act: 0 },
    }
}

#[test]
fn ensembles_combine_each_sample() {
    let a = vec![vec![1.0, -1.0], vec![0.5, 2.0]];
    let b = vec![vec![3.0, 0.0], vec![0.5, -2.0]];
    assert_eq!(
        ensemble_mean(&[&a, &b]),
        vec![vec![2.0, -0.5], vec![0.5, 0.0]]
    );
    assert_eq!(
        ensemble_min(&[&a, &b]),
        vec![vec![1.0, -1.0], vec![0.5, -2.0]]
    );
    assert_eq!(ensemble_min(&[&a]), a, "an ensemble of one is the model");
}

#[test]
fn length_penalty_charges_every_word_of_the_answer() {
    let samples = Samples {
        prompts: vec![prompt(0)],
        responses: vec![vec![
            "I can't help with that.<|end|>".into(),
            "No.<|end|>".into(),
        ]],
        gold: vec![vec![3.0, 1.0]],
    };
    let p = length_penalised(&samples, &[vec![1.0, 1.0]], 0.25);
    assert_eq!(p, vec![vec![1.0 - 0.25 * 5.0, 1.0 - 0.25]]);
}

/// A proxy that is right on its lower half and wrong at its top: the gold of best-of-n
/// peaks at a middle n. The trusted prompts and the others agree, so the check finds it.
#[test]
fn early_stopping_chooses_n_on_the_trusted_prompts_only() {
    let n_samples = 8;
    let proxy_row: Vec<f64> = (0..n_samples).map(|j| j as f64).collect();
    // Gold rises with the proxy, except at the very top. Best-of-n's gold: 2.25 (n = 1),
    // 2.5 (n = 2), 1.2 (n = 4), −3 (n = 8).
    let gold_row: Vec<f64> = (0..n_samples)
        .map(|j| if j < 7 { j as f64 } else { -3.0 })
        .collect();
    let prompts: Vec<Prompt> = (0..10).map(prompt).collect();
    let samples = Samples {
        prompts,
        responses: vec![vec![String::new(); n_samples]; 10],
        gold: vec![gold_row; 10],
    };
    let proxy = vec![proxy_row; 10];
    let e = early_stop(&samples, &proxy, &[1, 2, 4, 8], 3);
    assert_eq!((e.trusted, e.evaluated), (3, 7));
    assert_eq!(e.best_n, 2, "{e:?}");
    assert_eq!(
        e.chosen_n, e.best_n,
        "the trusted prompts are like the others here"
    );
    assert!(
        (e.gain_chosen - 0.25).abs() < 1e-12 && (e.gain_largest + 5.25).abs() < 1e-12,
        "{e:?}"
    );
    assert_eq!(e.largest_n, 8);
}
