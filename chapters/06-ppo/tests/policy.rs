//! The policy's per-token outputs: layout, consistency with the reference at the start,
//! temperature, and gradients.

use candle_core::{Device, Tensor};
use ch03_gpt::{Gpt, GptConfig};
use ch06_ppo::core::{masked_mean, policy_loss, value_loss};
use ch06_ppo::policy::{Policy, reference_logp};
use ch06_ppo::rollout::layout;

fn gpt(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(29, 24), seed, &Device::Cpu).unwrap()
}

#[test]
fn layout_pads_prompts_left_and_responses_right() {
    let (ids, mask, p, rmask) = layout(
        &[vec![1, 5, 2], vec![1, 2]],
        &[vec![7, 3], vec![8, 9, 3]],
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(p, 3);
    assert_eq!(
        ids.to_vec2::<u32>().unwrap(),
        vec![vec![1, 5, 2, 7, 3, 0], vec![0, 1, 2, 8, 9, 3]]
    );
    assert_eq!(
        mask.to_vec2::<u32>().unwrap(),
        vec![vec![1, 1, 1, 1, 1, 0], vec![0, 1, 1, 1, 1, 1]]
    );
    assert_eq!(
        rmask.to_vec2::<f32>().unwrap(),
        vec![vec![1., 1., 0.], vec![1., 1., 1.]]
    );
}

#[test]
fn outputs_read_the_right_positions_at_the_right_temperature() {
    let sft = gpt(1);
    let policy = Policy::from_sft(&sft).unwrap();
    let (ids, mask, p, rmask) = layout(
        &[vec![1, 5, 2], vec![1, 2]],
        &[vec![7, 3], vec![8, 9, 3]],
        &Device::Cpu,
    )
    .unwrap();
    for temperature in [1.0, 0.7] {
        let out = policy.outputs(&ids, &mask, p, temperature).unwrap();
        // A copy of the SFT model: the same log-probabilities as the reference, exactly.
        let reference = reference_logp(&sft, &ids, &mask, p, temperature).unwrap();
        assert_eq!(
            out.logp.to_vec2::<f32>().unwrap(),
            reference.to_vec2::<f32>().unwrap()
        );
        // By hand for row 1, response token 0 (id 8): the logits after the prompt, / T.
        let alone = sft
            .forward(&Tensor::new(&[[1u32, 2]], &Device::Cpu).unwrap(), None)
            .unwrap();
        let last: Vec<f32> = alone.squeeze(0).unwrap().get(1).unwrap().to_vec1().unwrap();
        let z: f64 = last.iter().map(|&l| (l as f64 / temperature).exp()).sum();
        let want = last[8] as f64 / temperature - z.ln();
        let got = out.logp.to_vec2::<f32>().unwrap()[1][0] as f64;
        assert!(
            (got - want).abs() < 1e-4,
            "T = {temperature}: {got} vs {want}"
        );
        // Zero value head: values 0; entropy positive, at most ln V.
        assert!(
            out.values
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .all(|&v| v == 0.0)
        );
        let e = masked_mean(&out.entropy, &rmask)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(e > 0.0 && e <= 29f32.ln() + 1e-4, "{e}");
    }
    // The copy is independent: changing the policy leaves the SFT model alone.
    let w = policy.gpt.params.vars["wte.weight"].clone();
    w.set(&w.as_tensor().zeros_like().unwrap()).unwrap();
    assert!(
        sft.params
            .get("wte.weight")
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0
    );
}

#[test]
fn the_ppo_loss_reaches_every_parameter_and_the_value_head() {
    let policy = Policy::from_sft(&gpt(2)).unwrap();
    // A non-zero value head, so the value loss reaches the trunk too.
    policy
        .v_weight
        .set(&Tensor::ones((32, 1), candle_core::DType::F32, &Device::Cpu).unwrap())
        .unwrap();
    let (ids, mask, p, rmask) = layout(
        &[vec![1, 5, 2], vec![1, 2]],
        &[vec![7, 3], vec![8, 9, 3]],
        &Device::Cpu,
    )
    .unwrap();
    let out = policy.outputs(&ids, &mask, p, 1.0).unwrap();
    let old = (out.logp.detach() - 0.05).unwrap();
    let adv = Tensor::new(&[[1f32, -0.5, 0.0], [0.3, 0.7, -1.0]], &Device::Cpu).unwrap();
    let (pl, _) = policy_loss(&out.logp, &old, &adv, &rmask, 0.2).unwrap();
    let vl = value_loss(&out.values, &out.values.detach(), &adv, &rmask, 0.2).unwrap();
    let loss = (pl + (vl * 0.1).unwrap()).unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in &policy.params().vars {
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

#[test]
fn the_ptx_term_is_the_language_model_loss_on_corpus_windows_and_trains_the_trunk() {
    use ch06_ppo::PpoConfig;
    use ch06_ppo::train::{PTX_SEQ, ptx_loss};
    let t = PTX_SEQ.min(24); // the test model's context
    let policy = Policy::from_sft(&gpt(5)).unwrap();
    let corpus: Vec<u32> = (0..400).map(|i| (i * 7 % 29) as u32).collect();
    let cfg = PpoConfig {
        ptx_coef: 1.0,
        ptx_batch: 3,
        ..PpoConfig::tiny()
    };
    let loss = ptx_loss(&policy, &corpus, &cfg, &mut world::rng(3, 0)).unwrap();
    // The same windows by hand: three random starts from the same generator.
    use rand::Rng;
    let mut rng = world::rng(3, 0);
    let starts: Vec<usize> = (0..3)
        .map(|_| rng.random_range(0..corpus.len() - t - 1))
        .collect();
    let rows: Vec<u32> = starts
        .iter()
        .flat_map(|&s| corpus[s..s + t + 1].to_vec())
        .collect();
    let all = Tensor::from_vec(rows, (3, t + 1), &Device::Cpu).unwrap();
    let (x, y) = (all.narrow(1, 0, t).unwrap(), all.narrow(1, 1, t).unwrap());
    let want = Gpt::loss(&policy.gpt.forward(&x, None).unwrap(), &y).unwrap();
    let (l, w) = (
        loss.to_scalar::<f32>().unwrap(),
        want.to_scalar::<f32>().unwrap(),
    );
    assert!(
        (l - w).abs() < 1e-6 && (l - (29f32).ln()).abs() < 1.0,
        "{l} vs {w}"
    );
    // Its gradient reaches the transformer's weights (not the value head: it plays no part).
    let store = loss.backward().unwrap();
    let params = policy.params();
    let (_, wte) = params.vars.iter().find(|(k, _)| k.contains("wte")).unwrap();
    let g = store.get(wte).expect("a gradient for wte");
    assert!(
        g.abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0
    );
}
