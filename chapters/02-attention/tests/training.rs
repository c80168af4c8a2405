//! The hand-written model learns: trained on the tiny world's text, its held-out loss
//! falls from ln V (a uniform guess) below a stated bound.

use ch02_attention::{AttentionConfig, run};
use world::{World, WorldConfig};

#[test]
fn training_lowers_the_heldout_loss_below_the_bound() {
    let w = World::generate(&WorldConfig::tiny()).unwrap();
    let docs: Vec<String> = w.corpus(|_| {}).into_iter().map(|d| d.text).collect();
    let docs: Vec<&str> = docs.iter().map(|s| s.as_str()).collect();
    let tok = ch01_tokenizer::library::train(&docs, 512).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = AttentionConfig::tiny();
    let report = run(
        &docs,
        &tok,
        "The flag of Bramford is green.",
        &cfg,
        dir.path(),
        |_, _| {},
    )
    .unwrap();
    let first = report.curve.first().unwrap();
    let last = report.curve.last().unwrap();
    // A uniform guess over 512 tokens costs ln 512 = 6.24 nats.
    assert!(
        (first.heldout - 512f64.ln()).abs() < 0.3,
        "initial loss {}",
        first.heldout
    );
    assert!(
        last.heldout < 4.0,
        "held-out loss after {} steps: {}",
        cfg.train.steps,
        last.heldout
    );
    for f in [
        "loss.svg",
        "attention_l0_h0.svg",
        "attention_l1_h3.svg",
        "attention_report.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    // Same seed, same run.
    let again = run(
        &docs,
        &tok,
        "The flag of Bramford is green.",
        &cfg,
        dir.path(),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(again.curve, report.curve);
}
