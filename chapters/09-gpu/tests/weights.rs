//! Weights out and back in, in both layouts: the very same logits.

use candle_core::{Device, Tensor};
use ch09_gpu::ch03_gpt::{Gpt, GptConfig, load_hf};
use ch09_gpu::weights::{Layout, layout, max_logit_difference, save};

fn tiny_model(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(37, 32), seed, &Device::Cpu).unwrap()
}

#[test]
fn both_layouts_round_trip_to_identical_logits() {
    let gpt = tiny_model(1);
    let ids = Tensor::new(&[[1u32, 5, 9, 2, 7, 3], [4, 4, 0, 36, 8, 1]], &Device::Cpu).unwrap();
    for l in [Layout::Prefixed, Layout::Unprefixed] {
        let dir = tempfile::tempdir().unwrap();
        save(&gpt, dir.path(), l).unwrap();
        assert_eq!(layout(dir.path()).unwrap(), l);
        let back = load_hf(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(back.cfg, gpt.cfg);
        let diff = max_logit_difference(&gpt, &back, &ids).unwrap();
        assert_eq!(
            diff, 0.0,
            "{l:?}: logits changed by {diff} on the way out and back"
        );
    }
}

#[test]
fn a_different_model_is_told_apart() {
    // The comparison itself can fail: two different models differ.
    let ids = Tensor::new(&[[1u32, 5, 9]], &Device::Cpu).unwrap();
    assert!(max_logit_difference(&tiny_model(1), &tiny_model(2), &ids).unwrap() > 1e-3);
}

#[test]
fn the_reference_fixture_is_prefixed_and_its_unprefixed_copy_loads_the_same() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gpt2-tiny");
    assert_eq!(layout(&fixture).unwrap(), Layout::Prefixed);
    let gpt = load_hf(&fixture, &Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save(&gpt, dir.path(), Layout::Unprefixed).unwrap();
    let back = load_hf(dir.path(), &Device::Cpu).unwrap();
    let ids = Tensor::new(&[[3u32, 1, 4, 1, 5, 9, 2, 6]], &Device::Cpu).unwrap();
    assert_eq!(max_logit_difference(&gpt, &back, &ids).unwrap(), 0.0);
}

#[test]
fn a_missing_directory_is_named() {
    let err = format!(
        "{:#}",
        layout(std::path::Path::new("/no/such/gpt2")).unwrap_err()
    );
    assert!(err.contains("/no/such/gpt2/model.safetensors"), "{err}");
}
