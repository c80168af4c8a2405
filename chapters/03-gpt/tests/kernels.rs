//! The fused CPU kernels against candle's composed operations (values and every input's
//! gradient), against finite differences, and for determinism — each kernel alone, then
//! the whole model, padded and not.

use candle_core::{DType, Device, Tensor, Var};
use ch03_gpt::fused_attention::CausalAttention;
use ch03_gpt::fused_block::{BLOCK_PARAMS, Block};
use ch03_gpt::fused_linear::{Linear, TiedHead};
use ch03_gpt::fused_loss::TokenLogProbs;
use ch03_gpt::fused_norm::LayerNorm;
use ch03_gpt::{Gpt, GptConfig, model};

const DEV: Device = Device::Cpu;

fn randn(shape: &[usize], seed: u64, scale: f64) -> Tensor {
    use rand_distr::{Distribution, Normal};
    let mut rng = world::rng(seed, 99);
    let n: usize = shape.iter().product();
    let normal = Normal::new(0.0f32, scale as f32).unwrap();
    Tensor::from_vec(
        (0..n)
            .map(|_| normal.sample(&mut rng))
            .collect::<Vec<f32>>(),
        shape,
        &DEV,
    )
    .unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn max_abs(a: &[f32]) -> f32 {
    a.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// A loss that weighs every output differently (so no gradient cancels by symmetry), with
/// weight 0 where `mask` (same shape as the output, or none) is 0.
fn weights(shape: &[usize], mask: Option<&Tensor>) -> Tensor {
    let n: usize = shape.iter().product();
    let w = Tensor::arange(0f32, n as f32, &DEV)
        .unwrap()
        .reshape(shape)
        .unwrap()
        .sin()
        .unwrap();
    match mask {
        Some(m) => w.broadcast_mul(m).unwrap(),
        None => w,
    }
}

/// Output values and the gradient of every input, for `f` applied to variables `inputs`.
fn run(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[Var],
    mask: Option<&Tensor>,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let ts: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    let loss = y.mul(&weights(y.dims(), mask)).unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    let out = match mask {
        Some(m) => values(&y.broadcast_mul(m).unwrap()),
        None => values(&y),
    };
    (
        out,
        inputs
            .iter()
            .map(|v| values(g.get(v).expect("an input has no gradient")))
            .collect(),
    )
}

/// The fused `f` and the composed `g` agree in value and in every input's gradient.
fn check(
    name: &str,
    fused: &dyn Fn(&[Tensor]) -> Tensor,
    composed: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    mask: Option<&Tensor>,
) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let (y1, g1) = run(fused, &vars, mask);
    let (y2, g2) = run(composed, &vars, mask);
    let scale = max_abs(&y2).max(1.0);
    assert!(
        max_diff(&y1, &y2) < 2e-5 * scale,
        "{name}: values differ by {:e}",
        max_diff(&y1, &y2)
    );
    for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
        let scale = max_abs(b).max(1e-3);
        assert!(
            max_diff(a, b) < 1e-4 * scale.max(1.0),
            "{name}: gradient of input {i} differs by {:e} (scale {scale:e})",
            max_diff(a, b)
        );
        assert!(
            max_abs(a) > 0.0,
            "{name}: gradient of input {i} is all zero"
        );
    }
}

/// Central finite differences of `Σ w ⊙ f(inputs)` against autograd, at a few elements of
/// every input. f32 arithmetic: a step of 1e-2 and a relative tolerance of 2%.
fn finite_differences(name: &str, f: &dyn Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let (_, grads) = run(f, &vars, None);
    let loss = |ts: &[Tensor]| -> f64 {
        let y = f(ts);
        y.mul(&weights(y.dims(), None))
            .unwrap()
            .sum_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let h = 1e-2f32;
    for (i, x) in inputs.iter().enumerate() {
        let base = values(x);
        let n = base.len();
        for k in [0, n / 3, n / 2, n - 1] {
            let at = |delta: f32| {
                let mut v = base.clone();
                v[k] += delta;
                let mut ts: Vec<Tensor> = inputs.to_vec();
                ts[i] = Tensor::from_vec(v, x.dims(), &DEV).unwrap();
                loss(&ts)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h as f64);
            let analytic = grads[i][k] as f64;
            let tol = 2e-2 * numeric.abs().max(analytic.abs()).max(1e-2);
            assert!(
                (numeric - analytic).abs() < tol,
                "{name}: input {i}[{k}]: finite difference {numeric:.5}, autograd {analytic:.5}"
            );
        }
    }
}

#[test]
fn linear_layer_matches_the_composed_one_and_finite_differences() {
    let (x, w, b) = (
        randn(&[3, 5, 16], 1, 1.0),
        randn(&[16, 24], 2, 0.3),
        randn(&[24], 3, 0.3),
    );
    let fused = |t: &[Tensor]| t[0].apply_op3(&t[1], &t[2], Linear).unwrap();
    let composed = |t: &[Tensor]| model::conv1d_composed(&t[0], &t[1], &t[2]).unwrap();
    check(
        "linear",
        &fused,
        &composed,
        &[x.clone(), w.clone(), b.clone()],
        None,
    );
    finite_differences("linear", &fused, &[x, w, b]);
    // A weight of the wrong shape is refused with the shapes named.
    let err = randn(&[2, 16], 4, 1.0)
        .apply_op3(&randn(&[15, 4], 5, 1.0), &randn(&[4], 6, 1.0), Linear)
        .unwrap_err();
    assert!(
        err.to_string().contains("expected (…, in) and (in, out)"),
        "{err}"
    );
}

#[test]
fn layer_norm_matches_the_composed_one_and_finite_differences() {
    let (x, g, b) = (
        (randn(&[4, 7, 32], 7, 2.0) + 0.5).unwrap(),
        (randn(&[32], 8, 0.2) + 1.0).unwrap(),
        randn(&[32], 9, 0.2),
    );
    let fused = |t: &[Tensor]| {
        t[0].apply_op3(&t[1], &t[2], LayerNorm { eps: 1e-5 })
            .unwrap()
    };
    let composed = |t: &[Tensor]| model::layer_norm_composed(&t[0], &t[1], &t[2], 1e-5).unwrap();
    check(
        "layer norm",
        &fused,
        &composed,
        &[x.clone(), g.clone(), b.clone()],
        None,
    );
    finite_differences("layer norm", &fused, &[x, g, b]);
}

#[test]
fn tied_head_matches_the_composed_one() {
    let (z, e) = (randn(&[2, 6, 16], 10, 1.0), randn(&[40, 16], 11, 0.5));
    let fused = |t: &[Tensor]| t[0].apply_op2(&t[1], TiedHead).unwrap();
    let composed = |t: &[Tensor]| t[0].broadcast_matmul(&t[1].t().unwrap()).unwrap();
    check(
        "tied head",
        &fused,
        &composed,
        &[z.clone(), e.clone()],
        None,
    );
    finite_differences("tied head", &fused, &[z, e]);
}

#[test]
fn token_log_probs_match_the_composed_ones_and_finite_differences() {
    let logits = randn(&[3, 5, 50], 12, 3.0);
    let targets = Tensor::from_vec(
        (0..15u32).map(|i| (i * 7) % 50).collect::<Vec<_>>(),
        (3, 5),
        &DEV,
    )
    .unwrap();
    let y = targets.clone();
    let fused = move |t: &[Tensor]| t[0].apply_op2(&y, TokenLogProbs).unwrap();
    let y = targets.clone();
    let composed = move |t: &[Tensor]| model::token_log_probs_composed(&t[0], &y).unwrap();
    check(
        "token log-probs",
        &fused,
        &composed,
        std::slice::from_ref(&logits),
        None,
    );
    finite_differences("token log-probs", &fused, &[logits.clone()]);
    let bad = Tensor::from_vec(vec![50u32; 15], (3, 5), &DEV).unwrap();
    let err = logits.apply_op2(&bad, TokenLogProbs).unwrap_err();
    assert!(
        err.to_string().contains("outside the vocabulary of 50"),
        "{err}"
    );
}

/// Attention composed from candle's operations with the padded model's additive mask.
fn attention_composed(qkv: &Tensor, keep: &Tensor, n_head: usize) -> Tensor {
    let (b, t, c3) = qkv.dims3().unwrap();
    let (c, d) = (c3 / 3, c3 / 3 / n_head);
    let (_, mask) =
        model::padded_positions_and_mask(&keep.to_dtype(DType::U32).unwrap(), b, t, 0).unwrap();
    let heads = |i: usize| {
        qkv.narrow(2, i * c, c)
            .unwrap()
            .reshape((b, t, n_head, d))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
    };
    let (q, k, v) = (heads(0), heads(1), heads(2));
    let scores = (q.matmul(&k.t().unwrap().contiguous().unwrap()).unwrap() / (d as f64).sqrt())
        .unwrap()
        .broadcast_add(&mask)
        .unwrap();
    let out = model::softmax_composed(&scores)
        .unwrap()
        .matmul(&v)
        .unwrap();
    out.transpose(1, 2).unwrap().reshape((b, t, c)).unwrap()
}

#[test]
fn attention_matches_the_composed_one_with_padding_on_either_side() {
    let n_head = 2;
    let qkv = randn(&[3, 6, 3 * 16], 13, 1.0);
    // Left padding, none, right padding.
    let keep = Tensor::new(
        &[
            [0f32, 0., 1., 1., 1., 1.],
            [1., 1., 1., 1., 1., 1.],
            [1., 1., 1., 1., 0., 0.],
        ],
        &DEV,
    )
    .unwrap();
    // Only real query rows are compared: a padding row is never read.
    let rows = keep
        .unsqueeze(2)
        .unwrap()
        .broadcast_as((3, 6, 16))
        .unwrap()
        .contiguous()
        .unwrap();
    let k = keep.clone();
    let fused = move |t: &[Tensor]| t[0].apply_op2(&k, CausalAttention { n_head }).unwrap();
    let k = keep.clone();
    let composed = move |t: &[Tensor]| attention_composed(&t[0], &k, n_head);
    check(
        "attention",
        &fused,
        &composed,
        std::slice::from_ref(&qkv),
        Some(&rows),
    );
    let ones = Tensor::ones((2, 5), DType::F32, &DEV).unwrap();
    let unpadded = move |t: &[Tensor]| t[0].apply_op2(&ones, CausalAttention { n_head }).unwrap();
    finite_differences("attention", &unpadded, &[randn(&[2, 5, 3 * 16], 14, 1.0)]);
    // The output of a query that may see no key is zero, not NaN.
    let out = values(&qkv.apply_op2(&keep, CausalAttention { n_head }).unwrap());
    assert!(out.iter().all(|v| v.is_finite()));
    assert!(out[..16].iter().all(|&v| v == 0.0));
}

fn tiny_model(seed: u64) -> Gpt {
    Gpt::seeded(GptConfig::toy(37, 32), seed, &DEV).unwrap()
}

/// The loss and every parameter's gradient of `gpt`, on a padded batch (or not).
fn loss_and_grads(gpt: &Gpt, padded: bool) -> (f32, Vec<(String, Vec<f32>)>) {
    let idx = Tensor::new(
        &[
            [3u32, 1, 4, 1, 5, 9, 2],
            [6, 5, 3, 5, 8, 9, 7],
            [9, 3, 2, 3, 8, 4, 0],
        ],
        &DEV,
    )
    .unwrap();
    let (x, y) = (idx.narrow(1, 0, 6).unwrap(), idx.narrow(1, 1, 6).unwrap());
    let (logits, weight) = if padded {
        let mask = Tensor::new(
            &[
                [0u32, 0, 1, 1, 1, 1],
                [1, 1, 1, 1, 1, 1],
                [1, 1, 1, 1, 0, 0],
            ],
            &DEV,
        )
        .unwrap();
        (
            gpt.forward_padded(&x, &mask, None).unwrap(),
            mask.to_dtype(DType::F32).unwrap(),
        )
    } else {
        (
            gpt.forward(&x, None).unwrap(),
            Tensor::ones((3, 6), DType::F32, &DEV).unwrap(),
        )
    };
    let lp = model::token_log_probs(&logits, &y).unwrap();
    let loss = (lp.mul(&weight).unwrap().sum_all().unwrap() * -1.0).unwrap();
    let g = loss.backward().unwrap();
    let grads = gpt
        .params
        .vars
        .iter()
        .map(|(n, v)| (n.clone(), values(g.get(v).unwrap())))
        .collect();
    (loss.to_scalar::<f32>().unwrap(), grads)
}

#[test]
fn the_fused_model_gives_the_composed_models_loss_and_gradients() {
    let gpt = tiny_model(21);
    for padded in [false, true] {
        let (l1, g1) = loss_and_grads(&gpt, padded);
        let (l2, g2) = loss_and_grads(&gpt.clone().with_fused(false), padded);
        assert!(
            (l1 - l2).abs() < 1e-4 * l2.abs(),
            "padded {padded}: loss {l1} vs {l2}"
        );
        for ((name, a), (_, b)) in g1.iter().zip(&g2) {
            let scale = max_abs(b).max(1e-6);
            assert!(
                max_diff(a, b) < 1e-4 * scale.max(1.0),
                "padded {padded}: {name} differs by {:e} (scale {scale:e})",
                max_diff(a, b)
            );
            assert!(max_abs(a) > 0.0, "{name} has an all-zero gradient");
        }
    }
}

#[test]
fn one_block_matches_finite_differences() {
    let cfg = GptConfig {
        vocab_size: 11,
        n_positions: 8,
        n_embd: 16,
        n_head: 2,
        n_layer: 1,
        layer_norm_epsilon: 1e-5,
    };
    let gpt = Gpt::seeded(cfg, 5, &DEV).unwrap();
    let parts: Vec<Tensor> = BLOCK_PARAMS
        .iter()
        .map(|n| {
            gpt.params
                .get(&format!("h.0.{n}"))
                .unwrap()
                .flatten_all()
                .unwrap()
        })
        .collect();
    // Larger weights than at initialisation, so every path through the block matters.
    let packed = (Tensor::cat(&parts, 0).unwrap() * 5.0).unwrap();
    let keep = Tensor::ones((2, 5), DType::F32, &DEV).unwrap();
    let block = move |t: &[Tensor]| t[0].apply_op3(&t[1], &keep, Block::new(2, 1e-5)).unwrap();
    finite_differences("block", &block, &[randn(&[2, 5, 16], 15, 1.0), packed]);
}

#[test]
fn the_fused_kernels_give_the_same_bits_on_one_thread_and_two() {
    let gpt = tiny_model(22);
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| loss_and_grads(&gpt, true))
    };
    let (l1, g1) = on(1);
    let (l2, g2) = on(2);
    assert_eq!(l1.to_bits(), l2.to_bits());
    for ((name, a), (_, b)) in g1.iter().zip(&g2) {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} depends on the thread count"
        );
    }
}

#[test]
fn kernels_refuse_bad_shapes_by_name() {
    let qkv = randn(&[2, 4, 3 * 8], 16, 1.0);
    let err = qkv
        .apply_op2(
            &Tensor::ones((2, 3), DType::F32, &DEV).unwrap(),
            CausalAttention { n_head: 2 },
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("keep mask [2, 3], expected (batch 2, tokens 4)"),
        "{err}"
    );
    let err = randn(&[2, 4, 8], 17, 1.0).apply_op3(
        &randn(&[10], 18, 1.0),
        &Tensor::ones((2, 4), DType::F32, &DEV).unwrap(),
        Block::new(2, 1e-5),
    );
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("packed parameters, expected")
    );
}

#[test]
fn adamw_in_place_matches_the_composed_update() {
    let cfg = ch03_gpt::train::AdamWConfig::tiny();
    let (theta, g) = (randn(&[3, 4], 30, 1.0), randn(&[3, 4], 31, 0.1));
    let (m, v) = (
        randn(&[3, 4], 32, 0.01),
        randn(&[3, 4], 33, 0.01).sqr().unwrap(),
    );
    let (t, lr, decay) = (3, 1e-2, 0.1);
    let (want_theta, want_m, want_v) =
        ch03_gpt::train::adamw_update(&theta, &m, &v, &g, lr, t, decay, &cfg).unwrap();
    // The in-place kernel on copies.
    let (th, mm, vv) = (theta.copy().unwrap(), m.copy().unwrap(), v.copy().unwrap());
    let (c1, c2) = (
        1.0 - cfg.beta1.powi(t as i32),
        1.0 - cfg.beta2.powi(t as i32),
    );
    ch03_gpt::fused_adamw::step(
        &th, &mm, &vv, &g, lr, cfg.beta1, cfg.beta2, c1, c2, cfg.eps, decay,
    )
    .unwrap();
    for (name, a, b) in [
        ("θ", &th, &want_theta),
        ("m", &mm, &want_m),
        ("v", &vv, &want_v),
    ] {
        let d = max_diff(&values(a), &values(b));
        assert!(d < 1e-6, "{name} differs by {d:e}");
    }
    assert!(
        max_diff(&values(&th), &values(&theta)) > 1e-4,
        "the parameter moved"
    );
}
