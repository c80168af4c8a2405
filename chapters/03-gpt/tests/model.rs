//! Gradients reach every parameter, the KV cache gives the uncached model's logits, and
//! sampling does what its settings say.

use candle_core::{Device, Tensor};
use ch03_gpt::cache::KvCache;
use ch03_gpt::sample::{Sampling, generate, generate_batch, sample};
use ch03_gpt::{Gpt, GptConfig, model};

fn tiny_model(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(37, 32), seed, &Device::Cpu).unwrap()
}

#[test]
fn every_parameter_receives_a_nonzero_gradient() {
    let gpt = tiny_model(1);
    let dev = Device::Cpu;
    let idx = Tensor::new(&[[1u32, 5, 9, 2, 7, 3], [4, 4, 0, 36, 8, 1]], &dev).unwrap();
    let inputs = idx.narrow(1, 0, 5).unwrap();
    let targets = idx.narrow(1, 1, 5).unwrap();
    let loss = Gpt::loss(&gpt.forward(&inputs, None).unwrap(), &targets).unwrap();
    // At initialisation the loss is close to ln V.
    let l = loss.to_scalar::<f32>().unwrap();
    assert!((l - 37f32.ln()).abs() < 0.1, "initial loss {l}");
    let grads = loss.backward().unwrap();
    for (name, var) in &gpt.params.vars {
        let g = grads
            .get(var)
            .unwrap_or_else(|| panic!("{name} has no gradient"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "{name} has an all-zero gradient");
    }
    assert_eq!(
        gpt.params.count(),
        37 * 32 + 32 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32
    );
}

#[test]
fn seeded_initialisation_is_deterministic() {
    let (a, b, c) = (tiny_model(3), tiny_model(3), tiny_model(4));
    let w = |g: &Gpt| {
        g.params
            .get("h.1.mlp.c_fc.weight")
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(w(&a), w(&b));
    assert_ne!(w(&a), w(&c));
}

#[test]
fn kv_cache_gives_the_uncached_logits() {
    let gpt = tiny_model(2);
    let dev = Device::Cpu;
    let seq: Vec<u32> = vec![3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3];
    let full: Vec<Vec<f32>> = gpt
        .forward(
            &Tensor::new(seq.as_slice(), &dev)
                .unwrap()
                .unsqueeze(0)
                .unwrap(),
            None,
        )
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap();
    // A prompt of 5 tokens at once, then one token at a time.
    let mut cache = KvCache::new(&gpt.cfg, 1, gpt.cfg.n_positions, &dev).unwrap();
    let mut rows: Vec<Vec<f32>> = gpt
        .forward(
            &Tensor::new(&seq[..5], &dev).unwrap().unsqueeze(0).unwrap(),
            Some(&mut cache),
        )
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap();
    for t in 5..seq.len() {
        let step = gpt
            .forward(
                &Tensor::new(&seq[t..t + 1], &dev)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap(),
                Some(&mut cache),
            )
            .unwrap();
        rows.extend(step.squeeze(0).unwrap().to_vec2::<f32>().unwrap());
    }
    assert_eq!(cache.len(), seq.len());
    let diff = rows
        .iter()
        .flatten()
        .zip(full.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "cached and uncached logits differ by {diff:e}");
    // Greedy generation: token for token the same.
    let mut rng = world::rng(0, 0);
    let a = generate(&gpt, &seq[..4], 20, &Sampling::GREEDY, &[], false, &mut rng).unwrap();
    let b = generate(&gpt, &seq[..4], 20, &Sampling::GREEDY, &[], true, &mut rng).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 20);
}

#[test]
fn sampling_follows_its_settings() {
    let logits = [2.0f32, 1.0, 0.5, -1.0, 3.0];
    let mut rng = world::rng(1, 0);
    assert_eq!(sample(&logits, &Sampling::GREEDY, &mut rng), 4);
    // top-k = 2 only ever picks the two most likely tokens.
    let k2 = Sampling {
        temperature: 1.0,
        top_k: 2,
        top_p: 1.0,
    };
    let picks: Vec<u32> = (0..500).map(|_| sample(&logits, &k2, &mut rng)).collect();
    assert!(picks.iter().all(|&p| p == 4 || p == 0) && picks.contains(&0) && picks.contains(&4));
    // top-p: p(4) = 0.61, p(0) = 0.22: top-p 0.5 keeps token 4 alone.
    let p5 = Sampling {
        temperature: 1.0,
        top_k: 0,
        top_p: 0.5,
    };
    assert!((0..100).all(|_| sample(&logits, &p5, &mut rng) == 4));
    // Temperature 1: frequencies follow the softmax.
    let t1 = Sampling {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
    };
    let n = 20_000;
    let freq4 = (0..n)
        .filter(|_| sample(&logits, &t1, &mut rng) == 4)
        .count() as f64
        / n as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
    assert!((freq4 - 3f64.exp() / z).abs() < 0.015, "{freq4}");
    // A low temperature is nearly greedy.
    let cold = Sampling {
        temperature: 0.05,
        top_k: 0,
        top_p: 1.0,
    };
    assert!((0..100).all(|_| sample(&logits, &cold, &mut rng) == 4));
    assert!(
        Sampling {
            temperature: -1.0,
            ..t1
        }
        .validate()
        .is_err()
    );
    assert!(Sampling { top_p: 0.0, ..t1 }.validate().is_err());
}

/// Logits of one sequence alone: (T, V).
fn alone(gpt: &Gpt, seq: &[u32]) -> Vec<Vec<f32>> {
    let idx = Tensor::new(seq, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    gpt.forward(&idx, None)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn padding_on_either_side_changes_no_real_token_logits() {
    let gpt = tiny_model(6);
    let dev = Device::Cpu;
    let seqs: [&[u32]; 3] = [&[5, 9, 2, 7, 3, 30, 1], &[4, 4, 8], &[11, 12, 13, 14, 15]];
    let width = 7;
    for left in [true, false] {
        let pad = |s: &[u32], fill: u32| -> Vec<u32> {
            let p = vec![fill; width - s.len()];
            if left {
                [p, s.to_vec()].concat()
            } else {
                [s.to_vec(), p].concat()
            }
        };
        // Padding id 17, a real token: only the mask may hide it.
        let idx = Tensor::new(seqs.iter().map(|s| pad(s, 17)).collect::<Vec<_>>(), &dev).unwrap();
        let mask = Tensor::new(
            seqs.iter()
                .map(|s| pad(&vec![1; s.len()], 0))
                .collect::<Vec<_>>(),
            &dev,
        )
        .unwrap();
        let logits: Vec<Vec<Vec<f32>>> = gpt
            .forward_padded(&idx, &mask, None)
            .unwrap()
            .to_vec3()
            .unwrap();
        for (row, s) in seqs.iter().enumerate() {
            let offset = if left { width - s.len() } else { 0 };
            for (t, want) in alone(&gpt, s).iter().enumerate() {
                let d = max_diff(&logits[row][offset + t], want);
                assert!(
                    d < 1e-5,
                    "left = {left}, row {row}, token {t}: differs by {d:e}"
                );
            }
        }
    }
}

#[test]
fn positions_count_real_tokens_and_the_mask_hides_padding() {
    let dev = Device::Cpu;
    let m = Tensor::new(&[[0u32, 0, 1, 1], [1, 1, 1, 0]], &dev).unwrap();
    let (pos, mask) = model::padded_positions_and_mask(&m, 2, 4, 0).unwrap();
    assert_eq!(
        pos.to_vec2::<u32>().unwrap(),
        vec![vec![0, 0, 0, 1], vec![0, 1, 2, 2]]
    );
    let mask: Vec<Vec<Vec<f32>>> = mask.squeeze(1).unwrap().to_vec3().unwrap();
    let open = |b: usize, i: usize| -> Vec<bool> { mask[b][i].iter().map(|&v| v == 0.0).collect() };
    assert_eq!(open(0, 3), [false, false, true, true]); // left padding hidden
    assert_eq!(open(0, 2), [false, false, true, false]); // and the future
    assert_eq!(open(1, 3), [true, true, true, false]); // right padding hidden
    assert_eq!(open(0, 0), [false; 4]); // a padding query sees nothing: finite, never NaN
    assert!(mask.iter().flatten().flatten().all(|v| v.is_finite()));
    // With two cached positions: positions continue, the mask covers the cache.
    let m = Tensor::new(&[[0u32, 1, 1, 1]], &dev).unwrap();
    let (pos, mask) = model::padded_positions_and_mask(&m, 1, 2, 2).unwrap();
    assert_eq!(pos.to_vec2::<u32>().unwrap(), vec![vec![1, 2]]);
    assert_eq!(mask.dims(), [1, 1, 2, 4]);
    assert!(model::padded_positions_and_mask(&m, 1, 3, 2).is_err());
}

#[test]
fn padded_loss_has_finite_gradients() {
    let gpt = tiny_model(7);
    let dev = Device::Cpu;
    let idx = Tensor::new(&[[0u32, 0, 3, 4, 5], [6, 7, 8, 9, 10]], &dev).unwrap();
    let mask = Tensor::new(&[[0u32, 0, 1, 1, 1], [1, 1, 1, 1, 1]], &dev).unwrap();
    let logits = gpt.forward_padded(&idx, &mask, None).unwrap();
    // Loss on real positions only: weight 0 on padding rows.
    let weights = mask
        .to_dtype(candle_core::DType::F32)
        .unwrap()
        .unsqueeze(2)
        .unwrap();
    let loss = logits
        .broadcast_mul(&weights)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in &gpt.params.vars {
        let g = grads
            .get(var)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(
            g.iter().all(|v| v.is_finite()),
            "{name} has a non-finite gradient"
        );
    }
}

#[test]
fn batched_generation_equals_one_prompt_at_a_time() {
    let gpt = tiny_model(8);
    let prompts: Vec<Vec<u32>> = vec![vec![3, 14, 15, 9, 26], vec![5], vec![35, 8, 9]];
    let mut rng = world::rng(0, 0);
    let one_by_one: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| generate(&gpt, p, 12, &Sampling::GREEDY, &[2], false, &mut rng).unwrap())
        .collect();
    for use_cache in [false, true] {
        let batched = generate_batch(
            &gpt,
            &prompts,
            12,
            &Sampling::GREEDY,
            &[2],
            use_cache,
            &mut rng,
        )
        .unwrap();
        assert_eq!(batched, one_by_one, "use_cache = {use_cache}");
    }
    assert!(one_by_one.iter().all(|r| !r.is_empty() && r.len() <= 12));
    // Stop token: a row ends with it or runs to the limit.
    assert!(
        one_by_one
            .iter()
            .all(|r| r.last() == Some(&2) || r.len() == 12 && !r.contains(&2))
    );
    assert!(generate_batch(&gpt, &[vec![]], 4, &Sampling::GREEDY, &[], true, &mut rng).is_err());
    assert!(
        generate_batch(
            &gpt,
            &[vec![1; 33]],
            4,
            &Sampling::GREEDY,
            &[],
            true,
            &mut rng
        )
        .is_err()
    );
    let err = generate_batch(
        &gpt,
        &[vec![1, 37]],
        4,
        &Sampling::GREEDY,
        &[],
        true,
        &mut rng,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("outside the model's vocabulary"),
        "{err}"
    );
}

/// Values and gradients of a fused kernel against the same function composed from
/// candle's differentiable operations.
fn check_fused(
    name: &str,
    fused: impl Fn(&Tensor) -> Tensor,
    composed: impl Fn(&Tensor) -> Tensor,
    x: Tensor,
) {
    let v = candle_core::Var::from_tensor(&x).unwrap();
    // A loss that weighs every output differently, so no gradient cancels by symmetry.
    let w = Tensor::arange(0f32, x.elem_count() as f32, &Device::Cpu)
        .unwrap()
        .reshape(x.shape())
        .unwrap()
        .sin()
        .unwrap();
    let run = |f: &dyn Fn(&Tensor) -> Tensor| {
        let y = f(v.as_tensor());
        let g = y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
        (
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            g.get(&v)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
        )
    };
    let (y1, g1) = run(&fused);
    let (y2, g2) = run(&composed);
    assert!(
        max_diff(&y1, &y2) < 1e-5,
        "{name}: values differ by {:e}",
        max_diff(&y1, &y2)
    );
    assert!(
        max_diff(&g1, &g2) < 1e-4,
        "{name}: gradients differ by {:e}",
        max_diff(&g1, &g2)
    );
}

#[test]
fn fused_kernels_match_the_composed_operations() {
    let dev = Device::Cpu;
    let x = (Tensor::randn(0f32, 1.0, (3, 5, 16), &dev).unwrap() * 3.0).unwrap();
    check_fused(
        "softmax",
        |x| model::softmax(x).unwrap(),
        |x| model::softmax_composed(x).unwrap(),
        x.clone(),
    );
    check_fused(
        "gelu",
        |x| model::gelu(x).unwrap(),
        |x| model::gelu_composed(x).unwrap(),
        x.clone(),
    );
    let (g, b) = (
        Tensor::randn(1f32, 0.1, 16, &dev).unwrap(),
        Tensor::randn(0f32, 0.1, 16, &dev).unwrap(),
    );
    check_fused(
        "layer norm",
        |x| model::layer_norm(x, &g, &b, 1e-5).unwrap(),
        |x| model::layer_norm_composed(x, &g, &b, 1e-5).unwrap(),
        x.clone(),
    );
    // Causally masked scores: −∞ in the upper triangle.
    let masked = x
        .narrow(2, 0, 5)
        .unwrap()
        .broadcast_add(&model::causal_mask(5, 0, &dev).unwrap())
        .unwrap();
    check_fused(
        "masked softmax",
        |x| model::softmax(x).unwrap(),
        |x| model::softmax_composed(x).unwrap(),
        masked,
    );
    // Non-contiguous input (a transpose) is handled.
    let xt = x.transpose(1, 2).unwrap();
    check_fused(
        "softmax of a transpose",
        |x| model::softmax(x).unwrap(),
        |x| model::softmax_composed(x).unwrap(),
        xt,
    );
}
