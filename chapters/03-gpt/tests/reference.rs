//! The candle GPT against the references: Hugging Face `transformers` (fixtures/gpt2-tiny)
//! and chapter 2's hand-written model on the same weights.

use candle_core::{DType, Device, Tensor};
use ch03_gpt::{Gpt, GptConfig, model};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gpt2-tiny")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap())
        .unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn batched_logits_and_loss_match_transformers() {
    let dev = Device::Cpu;
    let gpt = ch03_gpt::load_hf(&fixture(), &dev).unwrap();
    let e = expected();
    let seqs: Vec<Vec<u32>> = e["input_ids"].as_array().unwrap().iter().map(ids).collect();
    let idx = Tensor::new(seqs.clone(), &dev).unwrap(); // (2, 16): both sequences in one batch
    let logits = gpt.forward(&idx, None).unwrap();
    let ours: Vec<Vec<Vec<f32>>> = logits.to_vec3().unwrap();
    let mut max_diff: f64 = 0.0;
    for (s, seq) in e["logits"].as_array().unwrap().iter().enumerate() {
        for (t, row) in seq.as_array().unwrap().iter().enumerate() {
            for (v, want) in row.as_array().unwrap().iter().enumerate() {
                max_diff = max_diff.max((ours[s][t][v] as f64 - want.as_f64().unwrap()).abs());
            }
        }
    }
    assert!(
        max_diff < 1e-4,
        "logits differ from transformers' by up to {max_diff:e}"
    );
    let inputs = idx.narrow(1, 0, 15).unwrap();
    let targets = idx.narrow(1, 1, 15).unwrap();
    let loss = Gpt::loss(&gpt.forward(&inputs, None).unwrap(), &targets)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (loss as f64 - e["loss"].as_f64().unwrap()).abs() < 1e-4,
        "loss {loss} vs {}",
        e["loss"]
    );
}

#[test]
fn greedy_continuation_matches_transformers_with_and_without_cache() {
    let gpt = ch03_gpt::load_hf(&fixture(), &Device::Cpu).unwrap();
    let e = expected();
    let prompt = ids(&e["greedy_prompt"]);
    let want = ids(&e["greedy_output"]);
    let n = want.len() - prompt.len();
    let mut rng = world::rng(0, 0);
    for use_cache in [false, true] {
        let new = ch03_gpt::sample::generate(
            &gpt,
            &prompt,
            n,
            &ch03_gpt::sample::Sampling::GREEDY,
            &[],
            use_cache,
            &mut rng,
        )
        .unwrap();
        assert_eq!(
            [prompt.clone(), new].concat(),
            want,
            "use_cache = {use_cache}"
        );
    }
}

#[test]
fn same_forward_as_chapter_2_on_the_same_weights() {
    // Chapter 2's model with random (not initial) weights, copied into chapter 3's.
    let cfg2 = ch02_attention::model::Config {
        vocab_size: 23,
        n_positions: 12,
        n_embd: 16,
        n_head: 4,
        n_layer: 3,
    };
    let mut rng = world::rng(5, 0);
    let mut p2 = ch02_attention::model::Params::init(cfg2, &mut rng);
    for (i, (_, mut t)) in p2.named_mut().into_iter().enumerate() {
        t.iter_mut()
            .enumerate()
            .for_each(|(j, v)| *v += 0.1 * (((i * 31 + j * 17) % 13) as f64 / 6.0 - 1.0));
    }
    let dev = Device::Cpu;
    let tensors: BTreeMap<String, Tensor> = p2
        .named()
        .into_iter()
        .map(|(n, a)| {
            (
                n,
                Tensor::from_vec(a.iter().copied().collect::<Vec<f64>>(), a.shape(), &dev).unwrap(),
            )
        })
        .collect();
    let cfg3 = GptConfig {
        vocab_size: 23,
        n_positions: 12,
        n_embd: 16,
        n_head: 4,
        n_layer: 3,
        layer_norm_epsilon: 1e-5,
    };
    let gpt = Gpt::new(cfg3, model::from_tensors(&cfg3, &tensors, &dev).unwrap());
    let seq: Vec<usize> = vec![4, 8, 15, 16, 22, 0, 1, 9, 9, 3];
    let (ours2, _) = ch02_attention::model::forward(&p2, &seq);
    let idx = Tensor::new(seq.iter().map(|&i| i as u32).collect::<Vec<u32>>(), &dev)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let ours3: Vec<Vec<f32>> = gpt
        .forward(&idx, None)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2()
        .unwrap();
    let diff = ours3
        .iter()
        .flatten()
        .zip(ours2.iter())
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-4, "chapter 2 and chapter 3 differ by {diff:e}");
}

#[test]
fn unprefixed_layout_and_bad_checkpoints() {
    let dev = Device::Cpu;
    let raw = candle_core::safetensors::load(fixture().join("model.safetensors"), &dev).unwrap();
    let cfg = GptConfig::from_hf_file(&fixture().join("config.json")).unwrap();
    // The original GPT-2 layout: no `transformer.` prefix, plus mask buffers to ignore.
    let mut unprefixed: BTreeMap<String, Tensor> = raw
        .iter()
        .map(|(k, v)| (k.trim_start_matches("transformer.").to_string(), v.clone()))
        .collect();
    unprefixed.insert(
        "h.0.attn.bias".into(),
        Tensor::ones((1, 1, 32, 32), DType::F32, &dev).unwrap(),
    );
    unprefixed.insert(
        "h.0.attn.masked_bias".into(),
        Tensor::new(-1e4f32, &dev).unwrap(),
    );
    let a = Gpt::new(cfg, model::from_tensors(&cfg, &unprefixed, &dev).unwrap());
    let b = ch03_gpt::load_hf(&fixture(), &dev).unwrap();
    let idx = Tensor::new(&[[1u32, 2, 3]], &dev).unwrap();
    let (la, lb) = (
        a.forward(&idx, None).unwrap(),
        b.forward(&idx, None).unwrap(),
    );
    assert_eq!(la.to_vec3::<f32>().unwrap(), lb.to_vec3::<f32>().unwrap());

    unprefixed.remove("ln_f.bias");
    let err = format!(
        "{:#}",
        model::from_tensors(&cfg, &unprefixed, &dev).unwrap_err()
    );
    assert!(err.contains("missing tensor `ln_f.bias`"), "{err}");
    let wrong = GptConfig { n_embd: 64, ..cfg };
    let err = format!(
        "{:#}",
        model::from_tensors(&wrong, &raw.into_iter().collect(), &dev).unwrap_err()
    );
    assert!(
        err.contains("has shape") && err.contains("expected"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        ch03_gpt::load_hf(std::path::Path::new("/no/such/dir"), &dev).unwrap_err()
    );
    assert!(err.contains("/no/such/dir/config.json"), "{err}");
    // A context too long for the model is an error, not a panic.
    let long = Tensor::zeros((1, 33), DType::U32, &dev).unwrap();
    assert!(
        b.forward(&long, None)
            .unwrap_err()
            .to_string()
            .contains("longer than the model's context")
    );
}
