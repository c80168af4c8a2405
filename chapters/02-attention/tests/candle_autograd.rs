//! The hand-written gradients of the whole model against candle's autograd, on the same
//! weights, in f64: they must agree to 1e-9.

mod common;

use candle_core::{D, DType, Device, Result, Tensor, Var};
use ch02_attention::model;
use ch02_attention::ops::LN_EPS;
use common::*;
use std::collections::BTreeMap;

/// Layer norm from differentiable candle ops (candle's fused `layer_norm` records no backward).
fn layer_norm(x: &Tensor, g: &Tensor, b: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    xc.broadcast_div(&(var + LN_EPS)?.sqrt()?)?
        .broadcast_mul(g)?
        .broadcast_add(b)
}

/// Softmax over the last dimension, from differentiable ops.
fn softmax(x: &Tensor) -> Result<Tensor> {
    let e = x
        .broadcast_sub(&x.max_keepdim(D::Minus1)?.detach())?
        .exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

fn gelu(x: &Tensor) -> Result<Tensor> {
    let inner = ((x + (x.powf(3.0)? * 0.044715)?)? * (2.0 / std::f64::consts::PI).sqrt())?;
    (x * 0.5)?.mul(&(inner.tanh()? + 1.0)?)
}

#[test]
fn gradients_equal_candles_autograd() -> Result<()> {
    let p = random_params(11);
    let (x, y) = sequence();
    let (t, c, nh) = (x.len(), p.config.n_embd, p.config.n_head);
    let d = c / nh;
    let dev = Device::Cpu;
    let vars: BTreeMap<String, Var> = p
        .named()
        .into_iter()
        .map(|(name, a)| {
            Ok((
                name,
                Var::from_tensor(&Tensor::from_vec(
                    a.iter().copied().collect::<Vec<f64>>(),
                    a.shape(),
                    &dev,
                )?)?,
            ))
        })
        .collect::<Result<_>>()?;
    let v = |name: &str| vars[name].as_tensor().clone();

    let idx = Tensor::new(x.iter().map(|&i| i as u32).collect::<Vec<u32>>(), &dev)?;
    let mut h = v("wte.weight")
        .index_select(&idx, 0)?
        .add(&v("wpe.weight").narrow(0, 0, t)?)?; // (T, C)
    let mask: Vec<f64> = (0..t * t)
        .map(|k| if k % t > k / t { -1e9 } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(mask, (t, t), &dev)?;
    for l in 0..p.config.n_layer {
        let w = |n: &str| v(&format!("h.{l}.{n}"));
        let a = layer_norm(&h, &w("ln_1.weight"), &w("ln_1.bias"))?;
        let qkv = a
            .matmul(&w("attn.c_attn.weight"))?
            .broadcast_add(&w("attn.c_attn.bias"))?; // (T, 3C)
        let heads = |i: usize| -> Result<Tensor> {
            qkv.narrow(1, i * c, c)?
                .reshape((t, nh, d))?
                .transpose(0, 1)?
                .contiguous()
        };
        let (q, k, vv) = (heads(0)?, heads(1)?, heads(2)?); // (H, T, D)
        let s = (q.matmul(&k.t()?)? / (d as f64).sqrt())?.broadcast_add(&mask)?; // (H, T, T)
        let o = softmax(&s)?.matmul(&vv)?.transpose(0, 1)?.reshape((t, c))?; // (T, C)
        h = (h + o
            .matmul(&w("attn.c_proj.weight"))?
            .broadcast_add(&w("attn.c_proj.bias"))?)?;
        let m = layer_norm(&h, &w("ln_2.weight"), &w("ln_2.bias"))?;
        let fc = gelu(
            &m.matmul(&w("mlp.c_fc.weight"))?
                .broadcast_add(&w("mlp.c_fc.bias"))?,
        )?;
        h = (h + fc
            .matmul(&w("mlp.c_proj.weight"))?
            .broadcast_add(&w("mlp.c_proj.bias"))?)?;
    }
    let z = layer_norm(&h, &v("ln_f.weight"), &v("ln_f.bias"))?;
    let logits = z.matmul(&v("wte.weight").t()?)?; // (T, V)
    let shifted = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?.detach())?;
    let log_probs = shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)?;
    let onehot: Vec<f64> = (0..t * p.config.vocab_size)
        .map(|k| {
            if k % p.config.vocab_size == y[k / p.config.vocab_size] {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let onehot = Tensor::from_vec(onehot, (t, p.config.vocab_size), &dev)?;
    let loss = (log_probs.mul(&onehot)?.sum_all()? / -(t as f64))?;

    let (ours_loss, ours) = model::loss_and_grads(&p, &x, &y);
    assert!(
        (loss.to_scalar::<f64>()? - ours_loss).abs() < 1e-12,
        "losses differ"
    );
    let grads = loss.backward()?;
    for (name, g) in ours.named() {
        let theirs = grads
            .get(&vars[&name])
            .unwrap_or_else(|| panic!("candle has no gradient for {name}"));
        let theirs: Vec<f64> = theirs.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        let diff = g
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9, "{name}: max difference {diff:e}");
    }
    Ok(())
}
