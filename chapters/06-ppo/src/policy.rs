//! The policy being trained, and its value function: the SFT transformer with a value
//! head on the same trunk — `V(s_t) = h_t · w + b` for the hidden state h_t after the
//! tokens so far.

use anyhow::Result;
use candle_core::{D, Tensor, Var};
use ch03_gpt::{Gpt, Params};

/// The policy and its value head.
pub struct Policy {
    pub gpt: Gpt,
    /// `v_head.weight` (C, 1) and `v_head.bias` (1): zero at the start, so the first
    /// values are 0 and the first advantages are the rewards themselves.
    pub v_weight: Var,
    pub v_bias: Var,
}

/// Per-position outputs of a forward pass over prompt + response.
pub struct Outputs {
    /// log π(token) of the response tokens, logits divided by the temperature: (B, R).
    pub logp: Tensor,
    /// The value before each response token: (B, R).
    pub values: Tensor,
    /// The entropy of the policy's next-token distribution at each response position: (B, R).
    pub entropy: Tensor,
}

impl Policy {
    /// A policy from the SFT model: an independent copy, with a zero value head.
    pub fn from_sft(sft: &Gpt) -> Result<Policy> {
        let gpt = sft.deep_copy()?;
        let dev = gpt.params.get("wte.weight")?.device().clone();
        let c = gpt.cfg.n_embd;
        Ok(Policy {
            gpt,
            v_weight: Var::zeros((c, 1), candle_core::DType::F32, &dev)?,
            v_bias: Var::zeros(1, candle_core::DType::F32, &dev)?,
        })
    }

    /// Every trainable variable (sharing storage with the policy): the transformer's and
    /// the value head's.
    pub fn params(&self) -> Params {
        let mut vars = self.gpt.params.vars.clone();
        vars.insert("v_head.weight".into(), self.v_weight.clone());
        vars.insert("v_head.bias".into(), self.v_bias.clone());
        Params { vars }
    }

    // ANCHOR: outputs
    /// Run `ids` (B, P + R) — left-padded prompts of width P, then right-padded responses
    /// of width R — and read, for each response token, its log-probability under the
    /// policy at `temperature`, the value of the state before it, and the entropy there.
    /// The logits at position P − 1 + j predict response token j.
    pub fn outputs(
        &self,
        ids: &Tensor,
        attention_mask: &Tensor,
        prompt_width: usize,
        temperature: f64,
    ) -> Result<Outputs> {
        let (b, total) = ids.dims2()?;
        let r = total - prompt_width;
        let hidden = self.gpt.hidden(ids, Some(attention_mask), None)?; // (B, P + R, C)
        // The states before each response token, (B, R, C).
        let h = hidden.narrow(1, prompt_width - 1, r)?;
        let logits = (self.gpt.head(&h)? / temperature)?; // (B, R, V)
        let targets = ids.narrow(1, prompt_width, r)?; // (B, R)
        let logp = ch03_gpt::model::token_log_probs(&logits, &targets)?;
        let c = self.gpt.cfg.n_embd;
        let values = h
            .reshape((b * r, c))?
            .matmul(self.v_weight.as_tensor())?
            .broadcast_add(self.v_bias.as_tensor())?
            .reshape((b, r))?;
        Ok(Outputs {
            logp,
            values,
            entropy: entropy(&logits)?,
        })
    }
    // ANCHOR_END: outputs
}

/// The entropy `−Σ p log p` of softmax(logits) over the last dimension: (B, R, V) → (B, R).
pub fn entropy(logits: &Tensor) -> Result<Tensor> {
    let shifted = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?.detach())?;
    let log_z = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let log_p = shifted.broadcast_sub(&log_z)?;
    Ok((log_p.exp()? * &log_p)?.sum(D::Minus1)?.neg()?)
}

/// log π(token) of each response token of `ids` (B, P + R) under `model`, logits divided by
/// `temperature`: (B, R), differentiable. The logits at position P − 1 + j predict
/// response token j.
pub fn response_logp(
    model: &Gpt,
    ids: &Tensor,
    attention_mask: &Tensor,
    prompt_width: usize,
    temperature: f64,
) -> Result<Tensor> {
    let total = ids.dim(1)?;
    let r = total - prompt_width;
    let hidden = model.hidden(ids, Some(attention_mask), None)?;
    let logits = (model.head(&hidden.narrow(1, prompt_width - 1, r)?)? / temperature)?;
    ch03_gpt::model::token_log_probs(&logits, &ids.narrow(1, prompt_width, r)?)
}

/// The frozen reference's log-probabilities of the response tokens, at `temperature`:
/// [`response_logp`], detached.
pub fn reference_logp(
    reference: &Gpt,
    ids: &Tensor,
    attention_mask: &Tensor,
    prompt_width: usize,
    temperature: f64,
) -> Result<Tensor> {
    Ok(response_logp(reference, ids, attention_mask, prompt_width, temperature)?.detach())
}
