//! Gradients reach every parameter, the KV cache gives the uncached model's logits, and
//! sampling does what its settings say.

use candle_core::{Device, Tensor};
use ch03_gpt::cache::KvCache;
use ch03_gpt::sample::{Sampling, generate, sample};
use ch03_gpt::{Gpt, GptConfig, model};

fn tiny_model(seed: u64) -> Gpt {
    let cfg = GptConfig { vocab_size: 37, n_positions: 32, n_embd: 32, n_head: 4, n_layer: 2, layer_norm_epsilon: 1e-5 };
    Gpt::new(cfg, model::init(&cfg, &mut world::rng(seed, 0), &Device::Cpu).unwrap())
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
        let g = grads.get(var).unwrap_or_else(|| panic!("{name} has no gradient"));
        let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(norm > 0.0, "{name} has an all-zero gradient");
    }
    assert_eq!(gpt.params.count(), 37 * 32 + 32 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32);
}

#[test]
fn seeded_initialisation_is_deterministic() {
    let (a, b, c) = (tiny_model(3), tiny_model(3), tiny_model(4));
    let w = |g: &Gpt| g.params.get("h.1.mlp.c_fc.weight").unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(w(&a), w(&b));
    assert_ne!(w(&a), w(&c));
}

#[test]
fn kv_cache_gives_the_uncached_logits() {
    let gpt = tiny_model(2);
    let dev = Device::Cpu;
    let seq: Vec<u32> = vec![3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3];
    let full: Vec<Vec<f32>> =
        gpt.forward(&Tensor::new(seq.as_slice(), &dev).unwrap().unsqueeze(0).unwrap(), None).unwrap().squeeze(0).unwrap().to_vec2().unwrap();
    // A prompt of 5 tokens at once, then one token at a time.
    let mut cache = KvCache::new(&gpt.cfg, 1, gpt.cfg.n_positions, &dev).unwrap();
    let mut rows: Vec<Vec<f32>> =
        gpt.forward(&Tensor::new(&seq[..5], &dev).unwrap().unsqueeze(0).unwrap(), Some(&mut cache)).unwrap().squeeze(0).unwrap().to_vec2().unwrap();
    for t in 5..seq.len() {
        let step = gpt.forward(&Tensor::new(&seq[t..t + 1], &dev).unwrap().unsqueeze(0).unwrap(), Some(&mut cache)).unwrap();
        rows.extend(step.squeeze(0).unwrap().to_vec2::<f32>().unwrap());
    }
    assert_eq!(cache.len(), seq.len());
    let diff = rows.iter().flatten().zip(full.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-5, "cached and uncached logits differ by {diff:e}");
    // Greedy generation: token for token the same.
    let mut rng = world::rng(0, 0);
    let a = generate(&gpt, &seq[..4], 20, &Sampling::GREEDY, None, false, &mut rng).unwrap();
    let b = generate(&gpt, &seq[..4], 20, &Sampling::GREEDY, None, true, &mut rng).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 20);
}

#[test]
fn sampling_follows_its_settings() {
    let logits = [2.0f32, 1.0, 0.5, -1.0, 3.0];
    let mut rng = world::rng(1, 0);
    assert_eq!(sample(&logits, &Sampling::GREEDY, &mut rng), 4);
    // top-k = 2 only ever picks the two most likely tokens.
    let k2 = Sampling { temperature: 1.0, top_k: 2, top_p: 1.0 };
    let picks: Vec<u32> = (0..500).map(|_| sample(&logits, &k2, &mut rng)).collect();
    assert!(picks.iter().all(|&p| p == 4 || p == 0) && picks.contains(&0) && picks.contains(&4));
    // top-p: p(4) = 0.61, p(0) = 0.22: top-p 0.5 keeps token 4 alone.
    let p5 = Sampling { temperature: 1.0, top_k: 0, top_p: 0.5 };
    assert!((0..100).all(|_| sample(&logits, &p5, &mut rng) == 4));
    // Temperature 1: frequencies follow the softmax.
    let t1 = Sampling { temperature: 1.0, top_k: 0, top_p: 1.0 };
    let n = 20_000;
    let freq4 = (0..n).filter(|_| sample(&logits, &t1, &mut rng) == 4).count() as f64 / n as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
    assert!((freq4 - 3f64.exp() / z).abs() < 0.015, "{freq4}");
    // A low temperature is nearly greedy.
    let cold = Sampling { temperature: 0.05, top_k: 0, top_p: 1.0 };
    assert!((0..100).all(|_| sample(&logits, &cold, &mut rng) == 4));
    assert!(Sampling { temperature: -1.0, ..t1 }.validate().is_err());
    assert!(Sampling { top_p: 0.0, ..t1 }.validate().is_err());
}
