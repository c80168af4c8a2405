//! Parity with the reference implementation: a random GPT-2 saved by Hugging Face
//! `transformers`, and the logits, loss and greedy continuation it computed
//! (fixtures/gpt2-tiny). The hand-written forward must reproduce them.

use ch02_attention::{hf, model, ops};
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gpt2-tiny")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap())
        .unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn logits_and_loss_match_transformers() {
    let p = hf::load(&fixture()).unwrap();
    let e = expected();
    let mut loss = 0.0;
    let mut max_diff: f64 = 0.0;
    let seqs = e["input_ids"].as_array().unwrap();
    for (s, seq) in seqs.iter().enumerate() {
        let idx = ids(seq);
        let (logits, _) = model::forward(&p, &idx);
        for (t, row) in e["logits"][s].as_array().unwrap().iter().enumerate() {
            for (v, want) in row.as_array().unwrap().iter().enumerate() {
                max_diff = max_diff.max((logits[[t, v]] - want.as_f64().unwrap()).abs());
            }
        }
        loss += ops::cross_entropy_forward(
            &logits.slice(ndarray::s![..idx.len() - 1, ..]).to_owned(),
            &idx[1..],
        )
        .0;
    }
    assert!(
        max_diff < 1e-4,
        "logits differ from transformers' by up to {max_diff:e}"
    );
    let loss = loss / seqs.len() as f64;
    assert!(
        (loss - e["loss"].as_f64().unwrap()).abs() < 1e-4,
        "loss {loss} vs {}",
        e["loss"]
    );
}

#[test]
fn greedy_continuation_matches_transformers() {
    let p = hf::load(&fixture()).unwrap();
    let e = expected();
    let mut seq = ids(&e["greedy_prompt"]);
    let want = ids(&e["greedy_output"]);
    while seq.len() < want.len() {
        let (logits, _) = model::forward(&p, &seq);
        let last = logits.row(seq.len() - 1);
        let next = (0..last.len())
            .max_by(|&a, &b| last[a].total_cmp(&last[b]))
            .unwrap();
        seq.push(next);
    }
    assert_eq!(seq, want);
}

#[test]
fn unprefixed_layout_and_bad_files() {
    // The original GPT-2 checkpoint names tensors without `transformer.`: rewrite the
    // fixture that way and load it again.
    let bytes = std::fs::read(fixture().join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let renamed: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n.trim_start_matches("transformer.").to_string(), t))
        .collect();
    let unprefixed = safetensors::serialize(renamed, None).unwrap();
    let config = hf::read_config(&fixture().join("config.json")).unwrap();
    let a = hf::from_safetensors(&unprefixed, config).unwrap();
    assert_eq!(a, hf::load(&fixture()).unwrap());

    let small = ch02_attention::model::Config {
        n_embd: 16,
        ..config
    };
    let err = format!("{:#}", hf::from_safetensors(&bytes, small).unwrap_err());
    assert!(
        err.contains("has shape") && err.contains("expected"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        hf::from_safetensors(b"garbage", config).unwrap_err()
    );
    assert!(err.contains("not a safetensors file"), "{err}");
    let err = format!(
        "{:#}",
        hf::load(std::path::Path::new("/no/such/model")).unwrap_err()
    );
    assert!(err.contains("/no/such/model/config.json"), "{err}");
}
