//! Chapter 9's CPU path: the bf16 model with f32 master weights, device and precision
//! choices, and the GPUs whose peak is known.

use candle_core::{DType, Device, Tensor};
use ch09_gpu::ch03_gpt::sample::{Sampling, generate_batch};
use ch09_gpu::ch03_gpt::{Gpt, GptConfig};
use ch09_gpu::{Compute, Precision, peak_flops};

fn tiny_model(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(37, 32), seed, &Device::Cpu).unwrap()
}

fn batch() -> (Tensor, Tensor) {
    let idx = Tensor::new(
        &[[1u32, 5, 9, 2, 7, 3, 11, 30], [4, 4, 0, 36, 8, 1, 19, 2]],
        &Device::Cpu,
    )
    .unwrap();
    (idx.narrow(1, 0, 7).unwrap(), idx.narrow(1, 1, 7).unwrap())
}

#[test]
fn bf16_logits_are_close_to_f32_and_come_back_as_f32() {
    let gpt = tiny_model(1);
    let (x, _) = batch();
    let a = gpt.forward(&x, None).unwrap();
    let b = gpt
        .clone()
        .with_dtype(DType::BF16)
        .unwrap()
        .forward(&x, None)
        .unwrap();
    assert_eq!(
        b.dtype(),
        DType::F32,
        "logits are f32 whatever the compute type"
    );
    let scale = a
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let diff = (a - &b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // bf16 keeps 8 bits of mantissa: a relative error of a few 2⁻⁸ is expected, not more.
    assert!(
        diff < 0.03 * scale.max(1.0),
        "bf16 logits differ by {diff} (logits up to {scale})"
    );
    assert!(
        diff > 0.0,
        "bf16 gave bit-identical logits: was it computed in bf16 at all?"
    );
}

#[test]
fn bf16_training_gives_f32_gradients_to_every_master_weight() {
    let gpt = tiny_model(2).with_dtype(DType::BF16).unwrap();
    let (x, y) = batch();
    let loss = Gpt::loss(&gpt.forward(&x, None).unwrap(), &y).unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in &gpt.params.vars {
        assert_eq!(var.dtype(), DType::F32, "{name}: master weights stay f32");
        let g = grads
            .get(var)
            .unwrap_or_else(|| panic!("{name} has no gradient in bf16"));
        assert_eq!(g.dtype(), DType::F32, "{name}: its gradient is f32");
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "{name} has an all-zero gradient in bf16");
    }
}

#[test]
fn bf16_gradients_point_where_the_f32_ones_do() {
    let (x, y) = batch();
    let grads_of = |dtype: DType| -> Vec<f32> {
        let gpt = tiny_model(3).with_dtype(dtype).unwrap();
        let grads = Gpt::loss(&gpt.forward(&x, None).unwrap(), &y)
            .unwrap()
            .backward()
            .unwrap();
        gpt.params
            .vars
            .values()
            .flat_map(|v| {
                grads
                    .get(v)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    };
    let (a, b) = (grads_of(DType::F32), grads_of(DType::BF16));
    let dot: f32 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
    let norm = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
    let cosine = dot / (norm(&a) * norm(&b));
    assert!(cosine > 0.99, "bf16 and f32 gradients: cosine {cosine}");
}

#[test]
fn bf16_generation_with_the_cache_equals_generation_without() {
    let gpt = tiny_model(4).with_dtype(DType::BF16).unwrap();
    let prompts = vec![vec![3u32, 14, 15], vec![9, 26, 5, 35, 8]];
    let run = |cache: bool| {
        generate_batch(
            &gpt,
            &prompts,
            10,
            &Sampling::GREEDY,
            &[],
            cache,
            &mut world::rng(0, 0),
        )
        .unwrap()
    };
    assert_eq!(run(true), run(false));
}

#[test]
fn only_f32_and_bf16_are_compute_types() {
    let err = tiny_model(5)
        .with_dtype(DType::F16)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("F16") && err.contains("bf16"), "{err}");
}

#[test]
fn devices_and_precisions_are_checked_by_name() {
    assert_eq!(Precision::parse("bf16").unwrap(), Precision::Bf16);
    assert_eq!(
        Precision::parse("f32").unwrap(),
        Precision::F32 { tf32: true }
    );
    let err = Precision::parse("fp8").err().unwrap().to_string();
    assert!(err.contains("`fp8`") && err.contains("bf16"), "{err}");
    let err = Compute::new("tpu", "f32").err().unwrap().to_string();
    assert!(err.contains("`tpu`") && err.contains("cuda"), "{err}");
    assert!(Compute::new("cpu", "bf16").unwrap().device.is_cpu());
    if !candle_core::utils::cuda_is_available() {
        let err = Compute::new("cuda", "f32").err().unwrap().to_string();
        assert!(
            err.contains("without CUDA") && err.contains("scripts/cuda-build.sh"),
            "{err}"
        );
    }
}

#[test]
fn peaks_are_known_for_hopper_and_ampere_only() {
    assert_eq!(
        peak_flops("NVIDIA H100 80GB HBM3", Precision::Bf16),
        Some(989.4e12)
    );
    assert_eq!(
        peak_flops("NVIDIA H200", Precision::F32 { tf32: true }),
        Some(494.7e12)
    );
    assert_eq!(
        peak_flops("NVIDIA H100 PCIe", Precision::Bf16),
        Some(756e12)
    );
    assert_eq!(
        peak_flops("NVIDIA A100-SXM4-80GB", Precision::F32 { tf32: false }),
        Some(19.5e12)
    );
    assert_eq!(peak_flops("NVIDIA GeForce RTX 4090", Precision::Bf16), None);
}
