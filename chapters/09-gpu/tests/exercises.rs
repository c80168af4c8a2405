//! Chapter 9's exercises, checked on the solutions (`cargo test -p ch09-gpu`) or on your
//! versions (`cargo test -p ch09-gpu --features exercises --test exercises`).

use ch09_gpu::ch03_gpt::{GptConfig, model};
use ch09_gpu::ex::{flops_per_token, mfu};
use ch09_gpu::{Precision, peak_flops};

#[test]
fn exercise_flops_per_token_by_hand() {
    // vocab 10, context 8, width 4, 1 layer: wte 40 + blocks 12·16 + 13·4 = 244 + ln_f 8
    // → N = 40 + 244 + 8 = 292 (wpe's 32 left out); attention 12 · 1 · 4 · T.
    let cfg = GptConfig {
        vocab_size: 10,
        n_positions: 8,
        n_embd: 4,
        n_head: 2,
        n_layer: 1,
        layer_norm_epsilon: 1e-5,
    };
    assert_eq!(flops_per_token(&cfg, 8), 6.0 * 292.0 + 12.0 * 4.0 * 8.0);
    assert_eq!(flops_per_token(&cfg, 1), 6.0 * 292.0 + 12.0 * 4.0);
}

#[test]
fn exercise_flops_per_token_of_gpt2_small() {
    let cfg = GptConfig::gpt2_small();
    let n: usize = model::shapes(&cfg)
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    assert_eq!(n, 124_439_808, "GPT-2 small's parameter count");
    let non_positional = (n - 1024 * 768) as f64;
    assert_eq!(
        flops_per_token(&cfg, 1024),
        6.0 * non_positional + 12.0 * 12.0 * 768.0 * 1024.0
    );
}

#[test]
fn exercise_mfu_of_llm_c_on_an_h100() {
    assert!((mfu(1e9, 100.0, 1e12) - 0.1).abs() < 1e-12);
    // llm.c trains GPT-2 small at ≈ 468K tokens/s on one H100: ≈ 40% of its bf16 peak.
    let peak = peak_flops("NVIDIA H100 80GB HBM3", Precision::Bf16).unwrap();
    let m = mfu(flops_per_token(&GptConfig::gpt2_small(), 1024), 468e3, peak);
    assert!((0.38..0.42).contains(&m), "MFU {m}");
}
