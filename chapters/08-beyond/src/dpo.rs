//! DPO's equations: a language model is secretly a reward model (Rafailov et al. 2023).
//!
//! Chapter 6 maximised `E[r(x, y)] − β KL(π ‖ π_ref)`. Its maximiser is known in closed
//! form, `π*(y|x) = π_ref(y|x) exp(r(x, y)/β) / Z(x)`, so the reward can be read off any
//! policy: `r(x, y) = β log π(y|x)/π_ref(y|x) + β log Z(x)`. In chapter 5's Bradley–Terry
//! likelihood only differences of rewards on the same prompt appear, and `Z(x)` cancels:
//! the policy itself can be fitted to the comparisons, with no reward model and no sampling.

use anyhow::{Result, ensure};
use candle_core::Tensor;
use ch01_tokenizer::library::encode;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use serde::{Deserialize, Serialize};
use world::Prompt;

/// The loss fitted to the comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreferenceLoss {
    /// DPO: the Bradley–Terry negative log-likelihood of the implicit rewards.
    Dpo,
    /// IPO (Azar et al. 2023): a squared loss that pulls the margin to a finite target
    /// instead of pushing it to infinity.
    Ipo,
}

impl PreferenceLoss {
    pub fn name(self) -> &'static str {
        match self {
            PreferenceLoss::Dpo => "DPO",
            PreferenceLoss::Ipo => "IPO",
        }
    }
}

// ANCHOR: dpo_loss
/// The DPO loss over a batch of pairs, all (B,): sequence log-probabilities of the chosen
/// and rejected responses under the policy and under the frozen reference.
///
/// ```text
/// r̂(y) = β (log π(y|x) − log π_ref(y|x))                  the implicit reward
/// L    = mean −log σ( r̂(y_chosen) − r̂(y_rejected) )
/// ```
///
/// Exactly chapter 5's pairwise loss, with the implicit reward in place of the reward
/// model's score: [`ch05_reward::loss::pairwise_loss`] (stable for any margin).
pub fn dpo_loss(
    policy_chosen: &Tensor,
    policy_rejected: &Tensor,
    ref_chosen: &Tensor,
    ref_rejected: &Tensor,
    beta: f64,
) -> Result<Tensor> {
    let r_chosen = ((policy_chosen - ref_chosen)? * beta)?;
    let r_rejected = ((policy_rejected - ref_rejected)? * beta)?;
    ch05_reward::loss::pairwise_loss(&r_chosen, &r_rejected)
}
// ANCHOR_END: dpo_loss

// ANCHOR: ipo_loss
/// The IPO loss over the same batch: the log-ratio margin
/// `h = (log π/π_ref)(y_chosen) − (log π/π_ref)(y_rejected)` pulled to `1/(2β)`:
///
/// ```text
/// L = mean ( h − 1/(2β) )²
/// ```
///
/// DPO's loss keeps falling as h grows, so on pairs it already orders (or that a labeler
/// always decides the same way) it drives h — and the KL to the reference — without bound;
/// IPO's is smallest at a finite margin, which β sets.
pub fn ipo_loss(
    policy_chosen: &Tensor,
    policy_rejected: &Tensor,
    ref_chosen: &Tensor,
    ref_rejected: &Tensor,
    beta: f64,
) -> Result<Tensor> {
    let h = ((policy_chosen - ref_chosen)? - (policy_rejected - ref_rejected)?)?;
    Ok((h - 1.0 / (2.0 * beta))?.sqr()?.mean_all()?)
}
// ANCHOR_END: ipo_loss

/// The loss of `kind` (see [`dpo_loss`] and [`ipo_loss`]).
pub fn preference_loss(
    kind: PreferenceLoss,
    logps: &PairLogps,
    refs: &PairLogps,
    beta: f64,
) -> Result<Tensor> {
    match kind {
        PreferenceLoss::Dpo => dpo_loss(
            &logps.chosen,
            &logps.rejected,
            &refs.chosen,
            &refs.rejected,
            beta,
        ),
        PreferenceLoss::Ipo => ipo_loss(
            &logps.chosen,
            &logps.rejected,
            &refs.chosen,
            &refs.rejected,
            beta,
        ),
    }
}

/// Sequence log-probabilities of a batch of pairs' chosen and rejected responses: (B,) each.
pub struct PairLogps {
    pub chosen: Tensor,
    pub rejected: Tensor,
}

impl PairLogps {
    /// Detached copies (the reference's, or values to read).
    pub fn detach(&self) -> PairLogps {
        PairLogps {
            chosen: self.chosen.detach(),
            rejected: self.rejected.detach(),
        }
    }
}

/// Token ids of a comparison: the prompt in the chat template, and both responses.
#[derive(Clone, Debug)]
pub struct EncodedPair {
    pub prompt: Vec<u32>,
    pub chosen: Vec<u32>,
    pub rejected: Vec<u32>,
}

/// Encode comparisons (`pairs[i].prompt` indexes `prompts`), leaving out any whose prompt
/// and longer response do not fit `context` tokens. Returns the encoded pairs and the
/// indices of the pairs kept.
pub fn encode_pairs(
    tok: &Tokenizer,
    prompts: &[Prompt],
    pairs: &[ch05_reward::data::Pair],
    context: usize,
) -> Result<(Vec<EncodedPair>, Vec<usize>)> {
    let (mut out, mut kept) = (Vec::new(), Vec::new());
    for (i, p) in pairs.iter().enumerate() {
        ensure!(
            p.prompt < prompts.len(),
            "comparison {i} answers prompt {} but there are {} prompts",
            p.prompt,
            prompts.len()
        );
        let e = EncodedPair {
            prompt: encode(tok, &prompts[p.prompt].chat())?,
            chosen: encode(tok, &p.chosen)?,
            rejected: encode(tok, &p.rejected)?,
        };
        if e.prompt.len() + e.chosen.len().max(e.rejected.len()) <= context && !e.prompt.is_empty()
        {
            out.push(e);
            kept.push(i);
        }
    }
    Ok((out, kept))
}

// ANCHOR: sequence_logps
/// `log π(y|x) = Σ_t log π(y_t | x, y_<t)` for each response of a batch: one forward pass
/// over prompt + response (left-padded prompts, right-padded responses, as chapter 6
/// lays out rollouts), the response tokens' log-probabilities summed. (B,), differentiable.
pub fn sequence_logps(model: &Gpt, prompts: &[Vec<u32>], responses: &[Vec<u32>]) -> Result<Tensor> {
    // Padding to the longest prompt and the longest response can overflow the context even
    // when every row fits alone: then each half of the batch goes on its own.
    let longest = |x: &[Vec<u32>]| x.iter().map(Vec::len).max().unwrap_or(0);
    if longest(prompts) + longest(responses).max(1) > model.cfg.n_positions && prompts.len() > 1 {
        let h = prompts.len() / 2;
        let a = sequence_logps(model, &prompts[..h], &responses[..h])?;
        let b = sequence_logps(model, &prompts[h..], &responses[h..])?;
        return Ok(Tensor::cat(&[a, b], 0)?);
    }
    let (ids, mask, width, response_mask) =
        ch06_ppo::rollout::layout(prompts, responses, &model.device())?;
    let lp = ch06_ppo::policy::response_logp(model, &ids, &mask, width, 1.0)?; // (B, R)
    Ok((lp * response_mask)?.sum(1)?)
}
// ANCHOR_END: sequence_logps

/// [`sequence_logps`] of both sides of `pairs` in one forward pass (chosen rows, then
/// rejected rows).
pub fn pair_logps(model: &Gpt, pairs: &[&EncodedPair]) -> Result<PairLogps> {
    let prompts: Vec<Vec<u32>> = pairs
        .iter()
        .chain(pairs)
        .map(|p| p.prompt.clone())
        .collect();
    let responses: Vec<Vec<u32>> = pairs
        .iter()
        .map(|p| p.chosen.clone())
        .chain(pairs.iter().map(|p| p.rejected.clone()))
        .collect();
    let all = sequence_logps(model, &prompts, &responses)?;
    let b = pairs.len();
    Ok(PairLogps {
        chosen: all.narrow(0, 0, b)?,
        rejected: all.narrow(0, b, b)?,
    })
}

/// [`pair_logps`] of many pairs, `batch` at a time, without gradients: (log π(chosen),
/// log π(rejected)) per pair.
pub fn all_pair_logps(model: &Gpt, pairs: &[EncodedPair], batch: usize) -> Result<Vec<(f64, f64)>> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(batch.max(1)) {
        let refs: Vec<&EncodedPair> = chunk.iter().collect();
        let l = pair_logps(model, &refs)?.detach();
        let (c, r): (Vec<f32>, Vec<f32>) = (l.chosen.to_vec1()?, l.rejected.to_vec1()?);
        out.extend(c.into_iter().zip(r).map(|(c, r)| (c as f64, r as f64)));
    }
    Ok(out)
}
