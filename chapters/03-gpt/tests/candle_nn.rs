//! candle-nn, the library a learner's own candle projects will use, as the reference for
//! what this chapter writes by hand: its cross-entropy gives our loss and its gradient, its
//! AdamW gives our optimiser's steps (with two parameter groups: candle-nn's AdamW decays
//! every variable it is given, ours only matrices), and its `VarBuilder` reads our
//! checkpoints by their Hugging Face names.

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW, VarBuilder};
use ch03_gpt::train::{AdamW, AdamWConfig, gradients, save_model};
use ch03_gpt::{Gpt, GptConfig};

const DEV: Device = Device::Cpu;

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn batch() -> (Tensor, Tensor) {
    let idx = Tensor::new(&[[1u32, 5, 9, 2, 7, 3, 11], [4, 4, 0, 36, 8, 1, 19]], &DEV).unwrap();
    (idx.narrow(1, 0, 6).unwrap(), idx.narrow(1, 1, 6).unwrap())
}

#[test]
fn our_loss_is_candle_nn_cross_entropy_with_the_same_gradient() {
    let (b, t, v) = (3, 5, 11);
    // Deterministic logits spread over [−3, 3]: 3·sin(i).
    let spread = Tensor::arange(0u32, (b * t * v) as u32, &DEV)
        .and_then(|i| i.to_dtype(DType::F32)?.sin()? * 3.0)
        .and_then(|x| x.reshape((b, t, v)))
        .unwrap();
    let logits = Var::from_tensor(&spread).unwrap();
    let targets = Tensor::new(
        (0..(b * t) as u32)
            .map(|i| (i * 7) % v as u32)
            .collect::<Vec<u32>>(),
        &DEV,
    )
    .unwrap()
    .reshape((b, t))
    .unwrap();
    let ours = Gpt::loss(logits.as_tensor(), &targets).unwrap();
    let theirs = candle_nn::loss::cross_entropy(
        &logits.as_tensor().reshape((b * t, v)).unwrap(),
        &targets.flatten_all().unwrap(),
    )
    .unwrap();
    let (lo, lt) = (
        ours.to_scalar::<f32>().unwrap(),
        theirs.to_scalar::<f32>().unwrap(),
    );
    assert!((lo - lt).abs() < 1e-5, "loss {lo} vs candle-nn {lt}");
    let g_ours = ours.backward().unwrap().get(&logits).unwrap().clone();
    let g_theirs = theirs.backward().unwrap().get(&logits).unwrap().clone();
    let d = max_abs_diff(&g_ours, &g_theirs);
    assert!(d < 1e-6, "gradients differ by {d}");
    // And both are the gradient by hand: (softmax − one-hot) / (B·T).
    let p = candle_nn::ops::softmax(logits.as_tensor(), D::Minus1).unwrap();
    let one_hot = candle_nn::encoding::one_hot(targets.clone(), v, 1f32, 0f32).unwrap();
    let by_hand = ((p - one_hot).unwrap() / (b * t) as f64).unwrap();
    let d = max_abs_diff(&g_ours, &by_hand);
    assert!(d < 1e-6, "gradient vs (softmax − one-hot)/N: {d}");
}

#[test]
fn our_adamw_takes_candle_nn_adamw_steps() {
    let cfg = AdamWConfig {
        weight_decay: 0.1,
        ..AdamWConfig::tiny()
    };
    let lr = 3e-3;
    // Two copies of the same model (a `Gpt` clone would share its variables).
    let ours = Gpt::seeded(GptConfig::toy(37, 16), 3, &DEV).unwrap();
    let theirs = Gpt::seeded(GptConfig::toy(37, 16), 3, &DEV).unwrap();
    let mut opt = AdamW::new(&ours.params).unwrap();
    let group = |matrices: bool| -> Vec<Var> {
        theirs
            .params
            .vars
            .values()
            .filter(|v| (v.as_tensor().rank() >= 2) == matrices)
            .cloned()
            .collect()
    };
    let params = |weight_decay| ParamsAdamW {
        lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay,
    };
    let mut decayed = candle_nn::AdamW::new(group(true), params(cfg.weight_decay)).unwrap();
    let mut not_decayed = candle_nn::AdamW::new(group(false), params(0.0)).unwrap();
    let (x, y) = batch();
    for _ in 0..3 {
        let loss = Gpt::loss(&ours.forward(&x, None).unwrap(), &y).unwrap();
        opt.step(
            &ours.params,
            &gradients(&ours.params, &loss).unwrap(),
            lr,
            &cfg,
        )
        .unwrap();
        let loss = Gpt::loss(&theirs.forward(&x, None).unwrap(), &y).unwrap();
        let grads = loss.backward().unwrap();
        decayed.step(&grads).unwrap();
        not_decayed.step(&grads).unwrap();
    }
    for (name, v) in &ours.params.vars {
        let d = max_abs_diff(v.as_tensor(), theirs.params.vars[name].as_tensor());
        assert!(
            d < 1e-5,
            "{name}: ours and candle-nn's differ by {d} after 3 steps"
        );
    }
    // The steps moved the weights (the comparison is not of two untouched models).
    let fresh = Gpt::seeded(GptConfig::toy(37, 16), 3, &DEV).unwrap();
    let moved = max_abs_diff(
        ours.params.vars["h.0.attn.c_attn.weight"].as_tensor(),
        fresh.params.vars["h.0.attn.c_attn.weight"].as_tensor(),
    );
    assert!(moved > 1e-3, "3 steps moved c_attn by only {moved}");
}

#[test]
fn candle_nn_var_builder_reads_our_checkpoint_by_its_hugging_face_names() {
    let gpt = Gpt::seeded(GptConfig::toy(37, 16), 4, &DEV).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_model(&gpt, dir.path()).unwrap();
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[dir.path().join("model.safetensors")],
            DType::F32,
            &DEV,
        )
    }
    .unwrap()
    .pp("transformer");
    for (name, v) in &gpt.params.vars {
        let t = vb.get(v.as_tensor().dims(), name).unwrap();
        assert_eq!(max_abs_diff(&t, v.as_tensor()), 0.0, "{name}");
    }
    // The layer as candle-nn builds it: the tied head's input embedding.
    let wte = candle_nn::embedding(37, 32, vb.pp("wte")).unwrap();
    let ids = Tensor::new(&[3u32, 30], &DEV).unwrap();
    let rows = candle_nn::Module::forward(&wte, &ids).unwrap();
    let ours = gpt.params.vars["wte.weight"]
        .as_tensor()
        .index_select(&ids, 0)
        .unwrap();
    assert_eq!(max_abs_diff(&rows, &ours), 0.0);
}
