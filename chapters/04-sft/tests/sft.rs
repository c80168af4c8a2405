//! The SFT data and loss on hand-built examples, and fine-tuning that teaches the format.

use candle_core::{Device, Tensor};
use ch04_sft::data::{Example, collate};
use ch04_sft::train::SftConfig;
use ch04_sft::{EvalConfig, loss, quick};

#[test]
fn the_loss_mask_covers_exactly_the_response_tokens() {
    // <|user|> q q <|assistant|> | r r <|end|>  and a longer one, right-padded to it.
    let a = Example {
        prompt: vec![1, 10, 11, 2],
        response: vec![20, 21, 3],
        demo: 0,
    };
    let b = Example {
        prompt: vec![1, 12, 13, 14, 15, 2],
        response: vec![22, 3],
        demo: 1,
    };
    let batch = collate(&[&a, &b], &Device::Cpu).unwrap();
    let w: Vec<Vec<f32>> = batch.weights.to_vec2().unwrap();
    let y: Vec<Vec<u32>> = batch.targets.to_vec2().unwrap();
    let m: Vec<Vec<u32>> = batch.attention_mask.to_vec2().unwrap();
    // Width 8 tokens → 7 inputs and 7 targets. Row a: targets 10 11 2 20 21 3 pad.
    assert_eq!(y[0], [10, 11, 2, 20, 21, 3, 0]);
    assert_eq!(w[0], [0., 0., 0., 1., 1., 1., 0.]);
    assert_eq!(m[0], [1; 7], "the inputs are tokens 0..7, all real");
    assert_eq!(y[1], [12, 13, 14, 15, 2, 22, 3]);
    assert_eq!(w[1], [0., 0., 0., 0., 0., 1., 1.]);
    // The weighted targets are the responses, end token included, nothing else.
    for (row, e) in [(0, &a), (1, &b)] {
        let picked: Vec<u32> = y[row]
            .iter()
            .zip(&w[row])
            .filter(|(_, w)| **w == 1.0)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(picked, e.response);
    }
}

#[test]
fn real_demonstrations_mask_their_response_text() {
    let w = world::World::generate(&world::WorldConfig::tiny()).unwrap();
    let texts: Vec<String> = w
        .corpus(|_| {})
        .into_iter()
        .take(200)
        .map(|d| d.text)
        .collect();
    let views: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tok = ch01_tokenizer::library::train(&views, 400).unwrap();
    let (ex, too_long) = ch04_sft::data::examples(&tok, &w.demonstrations[..20], 128).unwrap();
    assert_eq!((ex.len(), too_long), (20, 0));
    let refs: Vec<&Example> = ex.iter().collect();
    let batch = collate(&refs, &Device::Cpu).unwrap();
    let (y, wt): (Vec<Vec<u32>>, Vec<Vec<f32>>) = (
        batch.targets.to_vec2().unwrap(),
        batch.weights.to_vec2().unwrap(),
    );
    for (i, d) in w.demonstrations[..20].iter().enumerate() {
        let picked: Vec<u32> = y[i]
            .iter()
            .zip(&wt[i])
            .filter(|(_, w)| **w == 1.0)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(
            ch01_tokenizer::library::decode(&tok, &picked).unwrap(),
            d.response
        );
        assert!(d.response.ends_with(world::chat::END));
    }
    // Too long for a tiny context: counted, not kept.
    let (ex, too_long) = ch04_sft::data::examples(&tok, &w.demonstrations[..20], 8).unwrap();
    assert_eq!(ex.len() + too_long, 20);
    assert!(too_long > 0);
}

#[test]
fn masked_loss_equals_a_hand_computation() {
    // B = 1, T = 3, V = 2: logits (0, 0), (1, 0), (0, 2); targets 0, 0, 1; weights 0, 1, 1.
    let logits = Tensor::new(&[[[0f32, 0.], [1., 0.], [0., 2.]]], &Device::Cpu).unwrap();
    let targets = Tensor::new(&[[0u32, 0, 1]], &Device::Cpu).unwrap();
    let weights = Tensor::new(&[[0f32, 1., 1.]], &Device::Cpu).unwrap();
    let l = loss::masked_cross_entropy(&logits, &targets, &weights)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64;
    // −log σ-style by hand: position 1: −log(e¹/(e¹+1)), position 2: −log(e²/(e²+1)).
    let by_hand =
        (-(1f64.exp() / (1f64.exp() + 1.0)).ln() - (2f64.exp() / (2f64.exp() + 1.0)).ln()) / 2.0;
    assert!((l - by_hand).abs() < 1e-6, "{l} vs {by_hand}");
    // Position 0 is ignored however wrong it is.
    let worse = Tensor::new(&[[[0f32, 50.], [1., 0.], [0., 2.]]], &Device::Cpu).unwrap();
    let l2 = loss::masked_cross_entropy(&worse, &targets, &weights)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64;
    assert!((l2 - by_hand).abs() < 1e-6);
    assert!(loss::masked_cross_entropy(&logits, &targets, &weights.zeros_like().unwrap()).is_err());
}

#[test]
fn sft_teaches_the_format_on_the_tiny_preset() {
    let (w, tok, base) = quick::base_model(120).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = ch04_sft::run(
        &w,
        &tok,
        &base,
        &SftConfig::tiny(),
        &EvalConfig::default(),
        dir.path(),
        |_| {},
    )
    .unwrap();
    let (before, after) = (
        r.history[0].heldout.unwrap(),
        r.history.last().unwrap().heldout.unwrap(),
    );
    println!(
        "held-out response loss {before:.2} → {after:.2}; format {:.2} → {:.2}; helpful {:.2} → {:.2}",
        r.base.instruction_format, r.sft.instruction_format, r.base.helpfulness, r.sft.helpfulness
    );
    assert!(
        after < before - 1.0,
        "SFT must lower the held-out response loss by a nat: {before:.2} → {after:.2}"
    );
    assert!(
        r.sft.instruction_format >= r.base.instruction_format + 0.5,
        "SFT must raise format compliance by 50 points: {:.2} → {:.2}",
        r.base.instruction_format,
        r.sft.instruction_format
    );
    for f in [
        "loss.svg",
        "format_by_family.svg",
        "right_by_family.svg",
        "samples.md",
        "sft_report.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} not written");
    }
}
