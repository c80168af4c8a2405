//! DPO's training loop: the policy fitted to the comparisons directly, the reference's
//! log-probabilities computed once, the implicit reward measured on held-out comparisons.

use crate::config::DpoConfig;
use crate::dpo::{self, EncodedPair, PairLogps};
use anyhow::{Result, ensure};
use candle_core::Tensor;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::train::AdamW;
use ch05_reward::data::Pair;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use world::Prompt;

/// Comparisons and the prompts they answer: the reward stage's, train and held out.
#[derive(Clone, Copy)]
pub struct Comparisons<'a> {
    pub train_prompts: &'a [Prompt],
    pub train: &'a [Pair],
    pub heldout_prompts: &'a [Prompt],
    pub heldout: &'a [Pair],
}

/// The implicit reward on held-out comparisons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Heldout {
    /// Fraction of pairs where r̂(chosen) > r̂(rejected): agreement with the labeler.
    pub accuracy: f64,
    /// The same against the gold order, on pairs whose gold utilities differ.
    pub gold_accuracy: f64,
    /// Mean log π/π_ref of the chosen responses, and of the rejected ones (nats per response).
    pub chosen_log_ratio: f64,
    pub rejected_log_ratio: f64,
    /// KL(π ‖ π_ref) on responses sampled to held-out prompts, nats per response (when
    /// measured).
    #[serde(default)]
    pub kl: Option<f64>,
}

/// Measures a policy's KL to the reference (see [`ch06_ppo::sampled_kl`]).
pub type KlProbe<'a> = &'a dyn Fn(&Gpt) -> Result<f64>;

/// One optimiser step: the batch's loss and implicit-reward statistics, and (every
/// `eval_every` steps) the held-out ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DpoRecord {
    pub step: usize,
    pub loss: f64,
    /// Fraction of the batch's pairs the implicit reward orders as the labeler did.
    pub accuracy: f64,
    /// Mean β(log-ratio chosen − log-ratio rejected): the implicit reward margin.
    pub margin: f64,
    pub chosen_log_ratio: f64,
    pub rejected_log_ratio: f64,
    pub heldout: Option<Heldout>,
}

/// What the reference assigns to every comparison, computed once: (chosen, rejected).
pub struct Encoded {
    pub pairs: Vec<EncodedPair>,
    /// The comparisons kept (the others do not fit the context).
    pub source: Vec<Pair>,
    pub reference: Vec<(f64, f64)>,
}

/// Encode comparisons and score them under the frozen reference.
pub fn encode(
    reference: &Gpt,
    tok: &Tokenizer,
    prompts: &[Prompt],
    pairs: &[Pair],
) -> Result<Encoded> {
    let (encoded, kept) = dpo::encode_pairs(tok, prompts, pairs, reference.cfg.n_positions)?;
    ensure!(
        !encoded.is_empty(),
        "no comparison fits the model's context"
    );
    let reference_logps = dpo::all_pair_logps(reference, &encoded, 64)?;
    Ok(Encoded {
        pairs: encoded,
        source: kept.iter().map(|&i| pairs[i].clone()).collect(),
        reference: reference_logps,
    })
}

/// The implicit reward of `policy` on encoded comparisons, against the labels and the
/// gold order.
pub fn heldout(policy: &Gpt, set: &Encoded) -> Result<Heldout> {
    let logps = dpo::all_pair_logps(policy, &set.pairs, 64)?;
    let n = logps.len() as f64;
    let (mut agree, mut gold_agree, mut gold_n, mut c_sum, mut r_sum) =
        (0.0, 0.0, 0.0f64, 0.0, 0.0);
    for (((c, r), (rc, rr)), pair) in logps.iter().zip(&set.reference).zip(&set.source) {
        let (lc, lr) = (c - rc, r - rr);
        c_sum += lc;
        r_sum += lr;
        if lc > lr {
            agree += 1.0;
        }
        if pair.u_chosen != pair.u_rejected {
            gold_n += 1.0;
            if (lc > lr) == (pair.u_chosen > pair.u_rejected) {
                gold_agree += 1.0;
            }
        }
    }
    Ok(Heldout {
        accuracy: agree / n,
        gold_accuracy: gold_agree / gold_n.max(1.0),
        chosen_log_ratio: c_sum / n,
        rejected_log_ratio: r_sum / n,
        kl: None,
    })
}

fn column(
    v: &[(f64, f64)],
    side: fn(&(f64, f64)) -> f64,
    dev: &candle_core::Device,
) -> Result<Tensor> {
    let x: Vec<f32> = v.iter().map(|p| side(p) as f32).collect();
    Ok(Tensor::from_vec(x, v.len(), dev)?)
}

// ANCHOR: train
/// DPO (or IPO, by `cfg.loss`) from `sft`: a copy of it is the policy, `sft` itself the
/// frozen reference. Returns the policy and one record per step; the held-out records
/// include the KL when `kl_probe` is given.
pub fn train(
    sft: &Gpt,
    train_set: &Encoded,
    heldout_set: &Encoded,
    cfg: &DpoConfig,
    kl_probe: Option<KlProbe>,
    mut on_step: impl FnMut(&DpoRecord),
) -> Result<(Gpt, Vec<DpoRecord>)> {
    cfg.validate()?;
    let policy = sft.deep_copy()?;
    let dev = policy.device();
    let opt_cfg = cfg.adamw();
    let mut opt = AdamW::new(&policy.params)?;
    let n = if cfg.max_pairs > 0 {
        cfg.max_pairs.min(train_set.pairs.len())
    } else {
        train_set.pairs.len()
    };
    let mut rng = world::rng(cfg.seed, 80);
    let mut order: Vec<usize> = Vec::new();
    let mut history = Vec::with_capacity(cfg.steps);
    for step in 1..=cfg.steps {
        if order.len() < cfg.batch {
            // A new epoch over the (first n) comparisons, shuffled.
            let mut epoch: Vec<usize> = (0..n).collect();
            epoch.shuffle(&mut rng);
            order.extend(epoch);
        }
        let idx: Vec<usize> = order.drain(..cfg.batch.min(order.len())).collect();
        let batch: Vec<&EncodedPair> = idx.iter().map(|&i| &train_set.pairs[i]).collect();
        let refs: Vec<(f64, f64)> = idx.iter().map(|&i| train_set.reference[i]).collect();
        let reference = PairLogps {
            chosen: column(&refs, |p| p.0, &dev)?,
            rejected: column(&refs, |p| p.1, &dev)?,
        };
        let logps = dpo::pair_logps(&policy, &batch)?; // (B,) each, differentiable
        let loss = dpo::preference_loss(cfg.loss, &logps, &reference, cfg.beta)?;
        opt.minimise(&policy.params, &loss, opt_cfg.lr, &opt_cfg)?;
        // ANCHOR_END: train
        let lc: Vec<f32> = (&logps.chosen - &reference.chosen)?.detach().to_vec1()?;
        let lr: Vec<f32> = (&logps.rejected - &reference.rejected)?
            .detach()
            .to_vec1()?;
        let b = lc.len() as f64;
        let mean = |x: &[f32]| x.iter().map(|&v| v as f64).sum::<f64>() / b;
        let record = DpoRecord {
            step,
            loss: loss.to_scalar::<f32>()? as f64,
            accuracy: lc.iter().zip(&lr).filter(|(c, r)| c > r).count() as f64 / b,
            margin: cfg.beta * (mean(&lc) - mean(&lr)),
            chosen_log_ratio: mean(&lc),
            rejected_log_ratio: mean(&lr),
            heldout: if step % cfg.eval_every == 0 || step == cfg.steps {
                let mut h = heldout(&policy, heldout_set)?;
                h.kl = kl_probe.map(|k| k(&policy)).transpose()?;
                Some(h)
            } else {
                None
            },
        };
        on_step(&record);
        history.push(record);
    }
    Ok((policy, history))
}
