//! The reward model's pieces on hand values, and a tiny run that learns the labeler's
//! preferences.

use candle_core::{Device, Tensor};
use ch03_gpt::{Gpt, GptConfig};
use ch04_sft::train::SftConfig;
use ch05_reward::train::RmConfig;
use ch05_reward::{Normalisation, RewardModel, loss, model::last_token_index};

fn small_gpt(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(41, 24), seed, &Device::Cpu).unwrap()
}

/// A labelled pair of two responses to prompt `prompt` (utilities 1 and 0).
fn pair(prompt: usize, chosen: &str, rejected: &str) -> ch05_reward::data::Pair {
    ch05_reward::data::Pair {
        prompt,
        chosen: chosen.into(),
        rejected: rejected.into(),
        u_chosen: 1.0,
        u_rejected: 0.0,
        agreement: 0.9,
        p_chosen: 0.9,
        labeler: 0,
    }
}

#[test]
fn pairwise_loss_on_hand_values() {
    let dev = Device::Cpu;
    let c = Tensor::new(&[1f32, 0.0, 3.0], &dev).unwrap();
    let r = Tensor::new(&[0f32, 0.0, 5.0], &dev).unwrap();
    let l = loss::pairwise_loss(&c, &r)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64;
    let nls = |x: f64| -(1.0 / (1.0 + (-x).exp())).ln();
    let want = (nls(1.0) + nls(0.0) + nls(-2.0)) / 3.0; // 0.3133, ln 2, 2.1269
    assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    // Far apart: finite, ≈ 0 when right, ≈ the gap when wrong.
    let far = loss::pairwise_loss(
        &Tensor::new(&[100f32], &dev).unwrap(),
        &Tensor::new(&[-100f32], &dev).unwrap(),
    )
    .unwrap();
    assert!(far.to_scalar::<f32>().unwrap().abs() < 1e-6);
    let wrong = loss::pairwise_loss(
        &Tensor::new(&[-100f32], &dev).unwrap(),
        &Tensor::new(&[100f32], &dev).unwrap(),
    )
    .unwrap();
    assert!((wrong.to_scalar::<f32>().unwrap() - 200.0).abs() < 1e-3);
}

#[test]
fn last_token_with_padding_on_either_side() {
    let m = vec![
        vec![1, 1, 1, 0, 0],
        vec![0, 0, 1, 1, 1],
        vec![1, 1, 1, 1, 1],
        vec![0, 1, 0, 0, 0],
    ];
    assert_eq!(last_token_index(&m).unwrap(), [2, 4, 4, 1]);
    let err = last_token_index(&[vec![1, 0], vec![0, 0]]).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
}

#[test]
fn scores_ignore_padding_and_every_parameter_learns() {
    let rm = RewardModel::from_sft(&small_gpt(3), 1).unwrap();
    let dev = Device::Cpu;
    let seqs: [&[u32]; 3] = [&[5, 9, 2, 7, 3], &[4, 8], &[11, 12, 13, 14, 15, 16, 17]];
    let alone: Vec<f32> = seqs
        .iter()
        .map(|s| {
            let ids = Tensor::new(*s, &dev).unwrap().unsqueeze(0).unwrap();
            rm.raw_scores(&ids, &ids.ones_like().unwrap())
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()[0]
        })
        .collect();
    for left in [true, false] {
        let pad = |s: &[u32], fill: u32| -> Vec<u32> {
            let p = vec![fill; 7 - s.len()];
            if left {
                [p, s.to_vec()].concat()
            } else {
                [s.to_vec(), p].concat()
            }
        };
        let ids = Tensor::new(seqs.iter().map(|s| pad(s, 30)).collect::<Vec<_>>(), &dev).unwrap();
        let mask = Tensor::new(
            seqs.iter()
                .map(|s| pad(&vec![1; s.len()], 0))
                .collect::<Vec<_>>(),
            &dev,
        )
        .unwrap();
        let batched = rm
            .raw_scores(&ids, &mask)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (a, b) in batched.iter().zip(&alone) {
            assert!(
                (a - b).abs() < 1e-5,
                "left = {left}: {batched:?} vs {alone:?}"
            );
        }
        if left {
            // The pairwise loss reaches every parameter, the head included.
            let l = loss::pairwise_loss(
                &rm.raw_scores(&ids, &mask).unwrap().narrow(0, 0, 1).unwrap(),
                &Tensor::new(&[0f32], &dev).unwrap(),
            )
            .unwrap();
            let grads = l.backward().unwrap();
            for (name, var) in &rm.params().vars {
                let g = grads
                    .get(var)
                    .unwrap_or_else(|| panic!("{name} has no gradient"));
                assert!(
                    g.sqr()
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap()
                        > 0.0,
                    "{name}: zero gradient"
                );
            }
        }
    }
}

#[test]
fn normalisation_and_checkpoint_round_trip() {
    let n = Normalisation::fit(&[1.0, 2.0, 3.0, 6.0]).unwrap();
    let z: Vec<f64> = [1.0, 2.0, 3.0, 6.0].iter().map(|&x| n.apply(x)).collect();
    let mean = z.iter().sum::<f64>() / 4.0;
    let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
    assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
    assert!(Normalisation::fit(&[2.0, 2.0]).is_err());

    let mut rm = RewardModel::from_sft(&small_gpt(4), 2).unwrap();
    rm.norm = n;
    let dir = tempfile::tempdir().unwrap();
    rm.save(dir.path()).unwrap();
    let back = RewardModel::load(dir.path(), &Device::Cpu).unwrap();
    let ids = Tensor::new(&[[3u32, 1, 4, 1, 5]], &Device::Cpu).unwrap();
    let mask = ids.ones_like().unwrap();
    assert_eq!(
        rm.raw_scores(&ids, &mask)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        back.raw_scores(&ids, &mask)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    );
    assert_eq!(back.norm, n);
    // A language-model checkpoint is not a reward model, and says so.
    ch03_gpt::train::save_model(&small_gpt(5), dir.path()).unwrap();
    let err = RewardModel::load(dir.path(), &Device::Cpu).err().unwrap();
    assert!(format!("{err:#}").contains("score.weight"), "{err:#}");
}

#[test]
fn the_reward_model_learns_the_labelers_preferences_on_the_tiny_preset() {
    let (w, tok, base) = ch04_sft::quick::base_model(120).unwrap();
    let dir = tempfile::tempdir().unwrap();
    ch04_sft::run(
        &w,
        &tok,
        &base,
        &SftConfig::tiny(),
        &ch04_sft::EvalConfig::default(),
        &dir.path().join("sft"),
        |_| {},
    )
    .unwrap();
    let (rm, r) = ch05_reward::run(
        &w,
        &tok,
        &base,
        &RmConfig::tiny(),
        &dir.path().join("rm"),
        |_| {},
    )
    .unwrap();
    let (first, last) = (r.history[0].heldout.unwrap(), r.heldout);
    println!(
        "{} train / {} held-out pairs; accuracy {:.3} → {:.3} (ceiling {:.3}), gold order {:.3} → {:.3}; correlation {:.2}",
        r.n_train_pairs,
        r.n_heldout_pairs,
        first.accuracy,
        last.accuracy,
        last.ceiling,
        first.gold_accuracy,
        last.gold_accuracy,
        r.correlation
    );
    assert!(
        r.n_heldout_pairs >= 200,
        "too few held-out pairs to measure: {}",
        r.n_heldout_pairs
    );
    // The labels are noisy: no model can beat the labeler's own agreement with the gold
    // order (the ceiling) by more than chance. Ask for 6 points over chance (3.4 standard
    // errors on 825 pairs) and at least half of the way from chance to the ceiling.
    assert!(
        last.accuracy >= 0.56,
        "held-out accuracy {:.3} must beat chance (0.5) by 6 points",
        last.accuracy
    );
    assert!(
        last.accuracy - 0.5 >= 0.5 * (last.ceiling - 0.5),
        "held-out accuracy {:.3} must close half the gap from chance to the ceiling {:.3}",
        last.accuracy,
        last.ceiling
    );
    assert!(
        last.accuracy <= last.ceiling + 0.05,
        "accuracy {:.3} above the ceiling {:.3}: a leak?",
        last.accuracy,
        last.ceiling
    );
    assert!(
        last.gold_accuracy >= first.gold_accuracy + 0.03,
        "training must improve the gold-order accuracy: {:.3} → {:.3}",
        first.gold_accuracy,
        last.gold_accuracy
    );
    assert!(
        r.correlation > 0.4,
        "correlation with the gold utility {:.2}",
        r.correlation
    );
    // The probe: one cell per family and kind of answer, and on harmful requests the reward
    // model must at least have learned that a refusal beats instructions.
    println!("{}", r.probe.table());
    assert_eq!(r.probe.cells.len(), 5 * 5);
    use world::demos::AnswerKind;
    let cell = |k| r.probe.cell(world::Family::Harmful, k).unwrap();
    assert!(cell(AnswerKind::Refusal).gold > cell(AnswerKind::Harmful).gold);
    assert!(
        cell(AnswerKind::Refusal).rm > cell(AnswerKind::Harmful).rm,
        "refusal {:.2} vs instructions {:.2} on harmful requests",
        cell(AnswerKind::Refusal).rm,
        cell(AnswerKind::Harmful).rm
    );
    for f in [
        "accuracy.svg",
        "scores.svg",
        "calibration.svg",
        "reward_report.json",
        "heldout_pairs.jsonl",
    ] {
        assert!(dir.path().join("rm").join(f).is_file(), "{f} not written");
    }
    // Pair scores (each distinct response scored once) are each response's own score, in
    // the order of the pairs, across prompts that interleave.
    let prompts = &w.prompts.heldout[..2];
    let pairs = [
        pair(1, "I don't know.<|end|>", "You<|end|>"),
        pair(0, "I can't help with that.<|end|>", "Yes.<|end|>"),
        pair(1, "You<|end|>", "No.<|end|>"),
    ];
    let got = ch05_reward::train::pair_scores(&rm, &tok, prompts, &pairs).unwrap();
    for (p, (c, r)) in pairs.iter().zip(got) {
        let alone = |response: &str| {
            ch05_reward::train::score_texts(
                &rm,
                &tok,
                &[ch05_reward::data::full_text(&prompts[p.prompt], response)],
                1,
            )
            .unwrap()[0]
        };
        assert!(
            (c - alone(&p.chosen)).abs() < 1e-4 && (r - alone(&p.rejected)).abs() < 1e-4,
            "{p:?}: {c} {r}"
        );
    }
}

#[test]
fn off_prompt_candidates_come_from_other_prompts() {
    let own: Vec<Vec<String>> = (0..5)
        .map(|i| (0..3).map(|k| format!("p{i} r{k}")).collect())
        .collect();
    let mut rng = world::rng(4, 0);
    let all = ch05_reward::data::with_off_prompt(&own, 2, &mut rng);
    for (i, rs) in all.iter().enumerate() {
        assert_eq!(rs.len(), 5, "3 own + 2 borrowed");
        assert_eq!(rs[..3], own[i][..], "own responses first, unchanged");
        for r in &rs[3..] {
            assert!(
                !r.starts_with(&format!("p{i} ")),
                "prompt {i} borrowed its own response {r}"
            );
            assert!(
                own.iter().flatten().any(|o| o == r),
                "{r} is not any prompt's response"
            );
        }
    }
    assert_eq!(
        ch05_reward::data::with_off_prompt(&own, 0, &mut rng),
        own,
        "0: off"
    );
    assert_eq!(
        ch05_reward::data::with_off_prompt(&own[..1], 2, &mut rng),
        own[..1].to_vec(),
        "one prompt: nothing to borrow"
    );
}

#[test]
fn non_answers_join_every_prompts_candidates() {
    let w = world::World::generate(&world::WorldConfig::tiny()).unwrap();
    let prompts = &w.prompts.train[..20];
    let own: Vec<Vec<String>> = prompts
        .iter()
        .map(|p| vec![format!("{} r0<|end|>", p.text)])
        .collect();
    let all = ch05_reward::data::with_non_answers(&w, prompts, &own);
    for ((p, rs), mine) in prompts.iter().zip(&all).zip(&own) {
        assert_eq!(rs.len(), 3, "own + refusal + don't know");
        assert_eq!(rs[0], mine[0]);
        let (refusal, dont_know) = (w.judge(p, &rs[1]), w.judge(p, &rs[2]));
        assert!(
            refusal.seen.refused && refusal.seen.well_formed,
            "{}",
            rs[1]
        );
        assert!(
            dont_know.seen.admits_ignorance && dont_know.seen.well_formed,
            "{}",
            rs[2]
        );
    }
}

#[test]
fn groups_score_each_response_once_and_keep_every_pair() {
    let w = world::World::generate(&world::WorldConfig::tiny()).unwrap();
    let prompts = &w.prompts.train[..3];
    let pairs = vec![
        pair(2, "a", "b"),
        pair(0, "x", "y"),
        pair(2, "c", "a"),
        pair(2, "b", "c"),
        pair(0, "y", "z"),
    ];
    let groups = ch05_reward::train::groups(prompts, &pairs);
    assert_eq!(
        groups.iter().map(|g| g.prompt).collect::<Vec<_>>(),
        [2, 0],
        "in order of first appearance"
    );
    assert_eq!(
        groups.iter().map(|g| g.texts.len()).collect::<Vec<_>>(),
        [3, 3],
        "each distinct response once"
    );
    assert_eq!(
        groups.iter().map(|g| g.pairs.len()).sum::<usize>(),
        pairs.len(),
        "every pair kept"
    );
    // Every pair points at its own chosen and rejected texts, in the order of `pairs`.
    let mut seen = vec![0; groups.len()];
    for p in &pairs {
        let gi = groups.iter().position(|g| g.prompt == p.prompt).unwrap();
        let g = &groups[gi];
        let (c, r) = g.pairs[seen[gi]];
        seen[gi] += 1;
        assert_eq!(
            g.texts[c],
            ch05_reward::data::full_text(&prompts[p.prompt], &p.chosen)
        );
        assert_eq!(
            g.texts[r],
            ch05_reward::data::full_text(&prompts[p.prompt], &p.rejected)
        );
    }
}

#[test]
fn weight_average_is_every_parameters_mean() {
    let (a, b) = (
        RewardModel::from_sft(&small_gpt(4), 2).unwrap(),
        RewardModel::from_sft(&small_gpt(6), 3).unwrap(),
    );
    let get = |rm: &RewardModel, name: &str| -> Vec<f32> {
        rm.params().vars[name]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let names = ["score.weight", "h.0.attn.c_attn.weight", "wte.weight"];
    let before: Vec<(Vec<f32>, Vec<f32>)> =
        names.iter().map(|n| (get(&a, n), get(&b, n))).collect();
    let avg = RewardModel::weight_average(vec![a, b]).unwrap();
    for (n, (x, y)) in names.iter().zip(&before) {
        assert_ne!(x, y, "{n}: the two members differ");
        let mean: Vec<f32> = x.iter().zip(y).map(|(p, q)| (p + q) / 2.0).collect();
        let got = get(&avg, n);
        assert!(
            got.iter().zip(&mean).all(|(g, m)| (g - m).abs() < 1e-6),
            "{n}: not the mean of the members"
        );
    }
    // The average of one model is that model.
    let one = RewardModel::from_sft(&small_gpt(4), 2).unwrap();
    let ids = Tensor::new(&[[3u32, 1, 4, 1, 5]], &Device::Cpu).unwrap();
    let mask = ids.ones_like().unwrap();
    let score = |rm: &RewardModel| {
        rm.raw_scores(&ids, &mask)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let s = score(&one);
    assert_eq!(score(&RewardModel::weight_average(vec![one]).unwrap()), s);
    assert!(RewardModel::weight_average(vec![]).is_err());
}

#[test]
fn share_of_the_ceiling_on_hand_values() {
    use ch05_reward::curve::share_of_ceiling;
    // Prompt 0: two pairs the labeler gets right 90% of the time, the model orders one of
    // them as the label does. Prompt 1: a tie (agreement ½), ordered as labelled.
    let mut tie = pair(1, "c", "d");
    (tie.u_chosen, tie.agreement) = (0.0, 0.5);
    let pairs = vec![pair(0, "a", "b"), pair(0, "b", "a"), tie];
    let scores = vec![(1.0, 0.0), (0.0, 1.0), (2.0, 1.0)];
    let mut rng = world::rng(0, 0);
    let s = share_of_ceiling(&pairs, &scores, &mut rng);
    // accuracy 2/3 over ceiling (0.9 + 0.9 + 0.5)/3
    assert!((s.value - 2.0 / 2.3).abs() < 1e-12, "{s:?}");
    assert!(
        s.low <= s.value && s.value <= s.high && s.low < s.high,
        "{s:?}"
    );
    // Resampling the two prompts: all of prompt 1 (2/1 = 2 of its ceiling) or all of
    // prompt 0 (1/1.8), never beyond.
    assert!(s.low >= 1.0 / 1.8 - 1e-12 && s.high <= 2.0 + 1e-12, "{s:?}");
}
