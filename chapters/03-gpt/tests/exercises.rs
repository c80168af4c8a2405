//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use candle_core::Device;
use ch03_gpt::ex;
use ch03_gpt::sample::Sampling;
use ch03_gpt::train::{AdamWConfig, TrainConfig};

#[test]
fn exercise_3_1_causal_mask() {
    let dev = Device::Cpu;
    let m: Vec<Vec<f32>> = ex::causal_mask(3, 0, &dev).unwrap().to_vec2().unwrap();
    let inf = f32::NEG_INFINITY;
    assert_eq!(
        m,
        vec![
            vec![0.0, inf, inf],
            vec![0.0, 0.0, inf],
            vec![0.0, 0.0, 0.0]
        ]
    );
    // Two new queries after three cached keys: they see the cache and their own past.
    let m: Vec<Vec<f32>> = ex::causal_mask(2, 3, &dev).unwrap().to_vec2().unwrap();
    assert_eq!(m, vec![vec![0.0, 0.0, 0.0, 0.0, inf], vec![0.0; 5]]);
    // One new query (a generation step) sees everything.
    let m: Vec<Vec<f32>> = ex::causal_mask(1, 6, &dev).unwrap().to_vec2().unwrap();
    assert_eq!(m, vec![vec![0.0; 7]]);
}

#[test]
fn exercise_3_2_lr_at() {
    let cfg = TrainConfig {
        steps: 110,
        adamw: AdamWConfig {
            warmup: 10,
            lr: 1e-3,
            min_lr: 1e-4,
            ..AdamWConfig::tiny()
        },
        ..TrainConfig::tiny()
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(
        close(ex::lr_at(&cfg, 0), 1e-4),
        "first warmup step: lr/warmup"
    );
    assert!(close(ex::lr_at(&cfg, 4), 5e-4));
    assert!(close(ex::lr_at(&cfg, 10), 1e-3), "peak right after warmup");
    assert!(
        close(ex::lr_at(&cfg, 60), 5.5e-4),
        "halfway: the mean of lr and min_lr"
    );
    assert!(close(ex::lr_at(&cfg, 110), 1e-4), "the last step: min_lr");
    assert!(
        close(ex::lr_at(&cfg, 500), 1e-4),
        "past the end: stays at min_lr"
    );
    let decay: Vec<f64> = (10..=110).map(|s| ex::lr_at(&cfg, s)).collect();
    assert!(
        decay.windows(2).all(|w| w[1] <= w[0]),
        "decays monotonically"
    );
}

#[test]
fn exercise_3_3_distribution() {
    let logits = [2.0f32, 1.0, 0.5, -1.0, 3.0];
    let greedy = ex::distribution(&logits, &Sampling::GREEDY);
    assert_eq!(greedy, vec![(4, 1.0)]);
    let all = ex::distribution(
        &logits,
        &Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        },
    );
    let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
    assert_eq!(
        all.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![4, 0, 1, 2, 3],
        "most likely first"
    );
    for &(id, p) in &all {
        assert!(
            (p - (logits[id as usize] as f64).exp() / z).abs() < 1e-9,
            "softmax at T = 1"
        );
    }
    // T = 2 halves the logits.
    let hot = ex::distribution(
        &logits,
        &Sampling {
            temperature: 2.0,
            top_k: 0,
            top_p: 1.0,
        },
    );
    let z2: f64 = logits.iter().map(|&l| (l as f64 / 2.0).exp()).sum();
    assert!((hot[0].1 - 1.5f64.exp() / z2).abs() < 1e-9);
    // top-k 2: two tokens, renormalised.
    let k2 = ex::distribution(
        &logits,
        &Sampling {
            temperature: 1.0,
            top_k: 2,
            top_p: 1.0,
        },
    );
    assert_eq!(k2.len(), 2);
    assert!((k2[0].1 - 3f64.exp() / (3f64.exp() + 2f64.exp())).abs() < 1e-9);
    // top-p 0.8: p(4) = 0.61 < 0.8, p(4) + p(0) = 0.84 ≥ 0.8: two tokens.
    let p8 = ex::distribution(
        &logits,
        &Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.8,
        },
    );
    assert_eq!(p8.iter().map(|p| p.0).collect::<Vec<_>>(), vec![4, 0]);
    assert!((p8.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn exercise_3_4_adamw_update() {
    use candle_core::Tensor;
    let cfg = AdamWConfig {
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        ..AdamWConfig::tiny()
    };
    let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap();
    let (theta, g) = (t(&[1.0, -2.0]), t(&[0.5, -0.1]));
    let (zeros_m, zeros_v) = (t(&[0.0, 0.0]), t(&[0.0, 0.0]));
    // Step 1 from zero moments: the bias corrections make m̂ = g and v̂ = g², so the update
    // is g/(|g| + ε) ≈ sign(g), plus the decay λθ.
    let (th, m, v) = ex::adamw_update(&theta, &zeros_m, &zeros_v, &g, 0.1, 1, 0.5, &cfg).unwrap();
    let (th, m, v) = (
        th.to_vec1::<f32>().unwrap(),
        m.to_vec1::<f32>().unwrap(),
        v.to_vec1::<f32>().unwrap(),
    );
    assert!(
        (m[0] - 0.05).abs() < 1e-6 && (v[0] - 0.0025).abs() < 1e-7,
        "{m:?} {v:?}"
    );
    assert!((th[0] - (1.0 - 0.1 * (1.0 + 0.5))).abs() < 1e-5, "{th:?}");
    assert!((th[1] - (-2.0 - 0.1 * (-1.0 - 1.0))).abs() < 1e-5, "{th:?}");
    // Step 2: the moments carry over, the corrections are 1 − β₁² and 1 − β₂².
    let (m1, v1) = (t(&[0.05, -0.01]), t(&[0.0025, 0.0001]));
    let (th2, _, _) = ex::adamw_update(&theta, &m1, &v1, &g, 0.1, 2, 0.0, &cfg).unwrap();
    let (mm, vv) = (0.9 * 0.05 + 0.1 * 0.5, 0.99 * 0.0025 + 0.01 * 0.25);
    let want = 1.0 - 0.1 * ((mm / (1.0 - 0.81)) / ((vv / (1.0 - 0.9801f64)).sqrt() + 1e-8));
    assert!((th2.to_vec1::<f32>().unwrap()[0] as f64 - want).abs() < 1e-5);
    // The results carry no graph: detached.
    let var = candle_core::Var::from_tensor(&theta).unwrap();
    let (th3, _, _) =
        ex::adamw_update(var.as_tensor(), &zeros_m, &zeros_v, &g, 0.1, 1, 0.0, &cfg).unwrap();
    assert!(
        th3.sum_all()
            .unwrap()
            .backward()
            .unwrap()
            .get(&var)
            .is_none(),
        "the update must be detached"
    );
}
