//! Pretraining on the world's text: the loss falls below a stated bound, checkpoints
//! load back as Hugging Face GPT-2 directories, and a resumed run continues exactly.

use candle_core::Device;
use ch03_gpt::train::{AdamWConfig, TrainConfig, Trainer};
use ch03_gpt::{GptConfig, load_hf};
use std::sync::OnceLock;

/// The tiny world's corpus as token ids (chapter 1's tokenizer, 512 tokens), 90% / 10%.
fn tokens() -> &'static (Vec<u32>, Vec<u32>) {
    static T: OnceLock<(Vec<u32>, Vec<u32>)> = OnceLock::new();
    T.get_or_init(|| {
        let w = world::World::generate(&world::WorldConfig::tiny()).unwrap();
        let docs: Vec<String> = w.corpus(|_| {}).into_iter().map(|d| d.text).collect();
        let views: Vec<&str> = docs.iter().map(|s| s.as_str()).collect();
        let tok = ch01_tokenizer::library::train(&views, 512).unwrap();
        let ids = ch01_tokenizer::library::encode_documents(&tok, &views).unwrap();
        let split = ids.len() * 9 / 10;
        (ids[..split].to_vec(), ids[split..].to_vec())
    })
}

#[test]
fn tiny_preset_reaches_the_heldout_bound() {
    let (train, heldout) = tokens();
    let mut t = Trainer::new(GptConfig::tiny(512), TrainConfig::tiny(), &Device::Cpu).unwrap();
    t.run(train, heldout, usize::MAX, |_| {}).unwrap();
    let evals: Vec<f64> = t.history.iter().filter_map(|r| r.heldout).collect();
    let last = *evals.last().unwrap();
    // ln 512 = 6.24 at the start; the bound is what 120 steps reach with room to spare.
    assert!(
        last < 3.5,
        "held-out loss after {} steps: {last} ({evals:?})",
        t.step()
    );
    assert!(
        t.history
            .iter()
            .all(|r| r.grad_norm.is_finite() && r.loss.is_finite())
    );
}

#[test]
fn learning_rate_warms_up_then_decays() {
    let c = TrainConfig {
        steps: 100,
        adamw: AdamWConfig {
            warmup: 10,
            lr: 1.0,
            min_lr: 0.1,
            ..AdamWConfig::tiny()
        },
        ..TrainConfig::tiny()
    };
    assert!((c.lr_at(0) - 0.1).abs() < 1e-12);
    assert!((c.lr_at(9) - 1.0).abs() < 1e-12);
    assert!((c.lr_at(10) - 1.0).abs() < 1e-12);
    assert!(
        (c.lr_at(55) - 0.55).abs() < 1e-12,
        "halfway down the cosine"
    );
    assert!((c.lr_at(100) - 0.1).abs() < 1e-12);
    let lrs: Vec<f64> = (10..100).map(|s| c.lr_at(s)).collect();
    assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
}

#[test]
fn resume_continues_bit_for_bit() {
    let (train, heldout) = tokens();
    let cfg = TrainConfig {
        steps: 12,
        eval_every: 4,
        ..TrainConfig::tiny()
    };
    let model = GptConfig {
        n_layer: 1,
        ..GptConfig::tiny(512)
    };
    let mut straight = Trainer::new(model, cfg.clone(), &Device::Cpu).unwrap();
    straight.run(train, heldout, usize::MAX, |_| {}).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint");
    let mut first = Trainer::new(model, cfg, &Device::Cpu).unwrap();
    first.run(train, heldout, 6, |_| {}).unwrap();
    first.save(&ckpt).unwrap();
    first.save(&ckpt).unwrap(); // saving over a checkpoint replaces it
    let mut resumed = Trainer::resume(&ckpt).unwrap();
    assert_eq!(resumed.step(), 6);
    resumed.run(train, heldout, usize::MAX, |_| {}).unwrap();
    let losses = |t: &Trainer| {
        t.history
            .iter()
            .map(|r| (r.loss.to_bits(), r.heldout.map(f64::to_bits)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        losses(&resumed),
        losses(&straight),
        "a resumed run must see and compute exactly the same"
    );
    let w = |t: &Trainer| {
        t.gpt
            .params
            .get("h.0.attn.c_attn.weight")
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(w(&resumed), w(&straight));

    // The checkpoint is a Hugging Face GPT-2 directory.
    let loaded = load_hf(&ckpt, &Device::Cpu).unwrap();
    assert_eq!(loaded.cfg, model);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("checkpoint")],
        "no temporary left behind"
    );
    let err = format!(
        "{:#}",
        Trainer::resume(&dir.path().join("nothing")).err().unwrap()
    );
    assert!(err.contains("nothing/config.json"), "{err}");
}
