//! Training the reward model on comparisons, and measuring it.

use crate::data::{Pair, PairSet, full_text, padded};
use crate::loss::pairwise_loss;
use crate::model::RewardModel;
use anyhow::{Result, ensure};
use candle_core::Tensor;
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::train::{AdamW, AdamWConfig};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use world::{BradleyTerry, Prompt};

/// How to make the comparisons and train on them. Every detail is a named field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmConfig {
    /// Responses sampled per prompt (K = 4 gives up to 6 pairs).
    pub k: usize,
    /// Off-prompt candidates per training prompt: responses the policy wrote for *other*
    /// prompts, compared with this prompt's own (by the same labeler). Without them a canned
    /// answer — a refusal, "I don't know" — is only ever seen where it belongs, where it
    /// wins; the reward model then likes it everywhere, and PPO finds out. 0: off (the
    /// `tiny` preset, whose test measures accuracy on the policy's own pairs alone).
    #[serde(default)]
    pub off_prompt: usize,
    /// Add the refusal and "I don't know" to every training prompt's candidates
    /// ([`crate::data::with_non_answers`]).
    #[serde(default)]
    pub non_answers: bool,
    /// Give the score the SFT model's mean log-probability of the response as a second
    /// input ([`crate::model::Knowledge`]), its weight first fitted alone on the comparisons.
    #[serde(default)]
    pub knowledge: bool,
    /// Sampling temperature of the SFT policy when making the responses.
    pub sample_temperature: f64,
    pub max_new_tokens: usize,
    /// The simulated human.
    pub labeler: BradleyTerry,
    /// Passes over the training pairs (InstructGPT: 1; more overfits).
    pub epochs: usize,
    /// Prompts per step, each with all its responses and pairs ([`train`]).
    pub batch: usize,
    /// AdamW and its schedule: warmup (at most a fifth of the steps), then cosine decay;
    /// no weight decay.
    #[serde(flatten)]
    pub adamw: AdamWConfig,
    pub eval_every: usize,
    pub seed: u64,
}

impl RmConfig {
    /// For tests and the notebook: four passes over the tiny world's few pairs (held-out
    /// accuracy 0.562 after two, 0.571 after four; ceiling 0.622), a step per 4 prompts.
    pub fn tiny() -> Self {
        RmConfig {
            k: 4,
            off_prompt: 0,
            non_answers: false,
            knowledge: false,
            sample_temperature: 1.0,
            max_new_tokens: 40,
            labeler: BradleyTerry::default(),
            epochs: 4,
            batch: 4,
            adamw: AdamWConfig::fine_tuning(),
            eval_every: 50,
            seed: 7,
        }
    }

    /// The CPU pipeline's reward model: K = 8 responses per prompt sampled at temperature
    /// 0.7, where the SFT model's answers are more often right than at 1 (PPO samples at 1:
    /// chapter 6, "Across worlds") — about 25,000 pairs, one pass, 8 prompts per step,
    /// each prompt's pairs together. Chosen on the tuning worlds (chapter 5, "More
    /// comparisons"): K = 4 with a step per 32 pairs reached 58% held-out accuracy on
    /// world 7, K = 8 grouped 63% (ceiling 71%), in the same time.
    pub fn small() -> Self {
        RmConfig {
            k: 8,
            epochs: 1,
            batch: 8,
            sample_temperature: 0.7,
            off_prompt: 1,
            adamw: AdamWConfig {
                lr: 3e-4,
                min_lr: 3e-5,
                ..Self::tiny().adamw
            },
            ..Self::tiny()
        }
    }

    /// The GPU pipeline's reward model (GPT-2-sized): one pass, a smaller learning rate.
    pub fn gpu() -> Self {
        RmConfig {
            epochs: 1,
            adamw: AdamWConfig {
                lr: 3e-5,
                min_lr: 3e-6,
                ..Self::small().adamw
            },
            ..Self::small()
        }
    }

    /// The configuration of a run's preset.
    pub fn preset(p: world::Preset) -> Self {
        match p {
            world::Preset::Tiny => Self::tiny(),
            world::Preset::Small => Self::small(),
            world::Preset::Gpu => Self::gpu(),
        }
    }

    /// The optimiser for a run of `steps` steps: warmup at most a fifth of them.
    fn optimiser(&self, steps: usize) -> AdamWConfig {
        AdamWConfig {
            warmup: self.adamw.warmup.min(steps / 5),
            ..self.adamw.clone()
        }
    }
}

/// The reward model on held-out pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairMetrics {
    /// Mean pairwise loss.
    pub loss: f64,
    /// How often the model prefers the labeler's choice.
    pub accuracy: f64,
    /// How often it orders the pair as the gold utility does (pairs with different utilities).
    pub gold_accuracy: f64,
    /// How often the labeler itself agrees with the gold order, in expectation: the
    /// ceiling of `accuracy` (the noise in the labels cannot be predicted).
    pub ceiling: f64,
    pub n: usize,
}

/// Raw scores of `prompt + response` texts, in batches, without gradients
/// ([`RewardModel::raw_scores`] on each padded batch).
pub fn score_texts(
    rm: &RewardModel,
    tok: &Tokenizer,
    texts: &[String],
    batch: usize,
) -> Result<Vec<f64>> {
    per_text(rm, tok, texts, batch, |ids, mask| {
        Ok(rm.raw_scores(ids, mask)?.detach())
    })
}

/// The knowledge input ℓ of `prompt + response` texts ([`crate::model::Knowledge`]), in
/// batches.
pub fn knowledge_features(
    rm: &RewardModel,
    tok: &Tokenizer,
    texts: &[String],
    batch: usize,
) -> Result<Vec<f64>> {
    per_text(rm, tok, texts, batch, |ids, mask| {
        rm.knowledge_feature(ids, mask)
    })
}

/// `f` (B,) of each padded batch (ids and attention mask, (B, T)) of `texts`: one number
/// per text.
fn per_text(
    rm: &RewardModel,
    tok: &Tokenizer,
    texts: &[String],
    batch: usize,
    f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Vec<f64>> {
    let dev = rm.gpt.device();
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch.max(1)) {
        let (ids, mask) = padded(tok, chunk, rm.gpt.cfg.n_positions, &dev)?;
        out.extend(f(&ids, &mask)?.to_vec1::<f32>()?.into_iter().map(f64::from));
    }
    Ok(out)
}

// ANCHOR: fit_knowledge
/// The weight `a` that makes the labels most likely with ℓ alone, `P(c ≻ r) = σ(a (ℓ_c − ℓ_r))`:
/// a one-parameter logistic regression, solved by Newton's method from a = 0.
pub fn fit_knowledge_weight(rm: &RewardModel, tok: &Tokenizer, set: PairSet) -> Result<f64> {
    let groups = groups(set.prompts, set.pairs);
    let texts: Vec<String> = groups
        .iter()
        .flat_map(|g| g.texts.iter().cloned())
        .collect();
    let l = knowledge_features(rm, tok, &texts, 128)?;
    let (mut deltas, mut offset) = (Vec::new(), 0);
    for g in &groups {
        deltas.extend(g.pairs.iter().map(|&(c, r)| l[offset + c] - l[offset + r]));
        offset += g.texts.len();
    }
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let mut a = 0.0;
    for _ in 0..50 {
        // d/da Σ log σ(a Δ) = Σ σ(−a Δ) Δ;   d²/da² = −Σ σ(a Δ) σ(−a Δ) Δ²
        let grad: f64 = deltas.iter().map(|&d| sigmoid(-a * d) * d).sum();
        let curv: f64 = deltas
            .iter()
            .map(|&d| sigmoid(a * d) * sigmoid(-a * d) * d * d)
            .sum();
        if curv <= 1e-12 {
            break;
        }
        let step = grad / curv;
        a += step;
        if step.abs() < 1e-9 {
            break;
        }
    }
    ensure!(
        a.is_finite(),
        "the knowledge weight did not converge (the comparisons separate perfectly on ℓ)"
    );
    Ok(a)
}
// ANCHOR_END: fit_knowledge

/// (chosen, rejected) raw scores of `pairs`, in their order; each distinct response is
/// scored once ([`groups`]), however many pairs it is in.
pub fn pair_scores(
    rm: &RewardModel,
    tok: &Tokenizer,
    prompts: &[Prompt],
    pairs: &[Pair],
) -> Result<Vec<(f64, f64)>> {
    let groups = groups(prompts, pairs);
    let texts: Vec<String> = groups
        .iter()
        .flat_map(|g| g.texts.iter().cloned())
        .collect();
    let scores = score_texts(rm, tok, &texts, 128)?;
    // prompt → (its group, the group's first row in `scores`)
    let mut first_row = std::collections::HashMap::new();
    let mut row = 0;
    for (gi, g) in groups.iter().enumerate() {
        first_row.insert(g.prompt, (gi, row));
        row += g.texts.len();
    }
    // A group lists its pairs in the order they come in `pairs`: walk each with a cursor.
    let mut next = vec![0; groups.len()];
    Ok(pairs
        .iter()
        .map(|p| {
            let (gi, row) = first_row[&p.prompt];
            let (c, r) = groups[gi].pairs[next[gi]];
            next[gi] += 1;
            (scores[row + c], scores[row + r])
        })
        .collect())
}

/// Accuracy, gold accuracy, loss and ceiling on a set of pairs.
pub fn evaluate(rm: &RewardModel, tok: &Tokenizer, set: PairSet) -> Result<PairMetrics> {
    let (prompts, pairs) = (set.prompts, set.pairs);
    ensure!(!pairs.is_empty(), "no pairs to evaluate on");
    let scores = pair_scores(rm, tok, prompts, pairs)?;
    Ok(metrics(pairs.iter().zip(&scores)))
}

/// The metrics of scored pairs, (pair, (chosen's score, rejected's score)) each.
pub fn metrics<'a>(
    scored: impl Iterator<Item = (&'a Pair, &'a (f64, f64))> + Clone,
) -> PairMetrics {
    let n = scored.clone().count() as f64;
    let loss = scored
        .clone()
        .map(|(_, (c, r))| softplus(r - c))
        .sum::<f64>()
        / n;
    let accuracy = scored.clone().filter(|(_, (c, r))| c > r).count() as f64 / n;
    let decided: Vec<(&Pair, &(f64, f64))> = scored
        .clone()
        .filter(|(p, _)| p.u_chosen != p.u_rejected)
        .collect();
    let gold_accuracy = decided
        .iter()
        .filter(|(p, (c, r))| (c > r) == (p.u_chosen > p.u_rejected))
        .count() as f64
        / decided.len().max(1) as f64;
    let ceiling = scored.clone().map(|(p, _)| p.agreement).sum::<f64>() / n;
    PairMetrics {
        loss,
        accuracy,
        gold_accuracy,
        ceiling,
        n: n as usize,
    }
}

/// The held-out metrics of one family of prompts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FamilyMetrics {
    pub family: String,
    /// Pairs whose two responses have the same gold utility (two wrong sums, two refusals):
    /// a coin decided the label, so every model agrees with it half of the time.
    pub ties: usize,
    pub metrics: PairMetrics,
}

/// [`metrics`] family by family, over scored pairs of `prompts`.
pub fn family_metrics(
    prompts: &[Prompt],
    pairs: &[Pair],
    scores: &[(f64, f64)],
) -> Vec<FamilyMetrics> {
    world::Family::ALL
        .iter()
        .filter_map(|&f| {
            let scored = pairs
                .iter()
                .zip(scores)
                .filter(move |(p, _)| prompts[p.prompt].family == f);
            let ties = scored
                .clone()
                .filter(|(p, _)| p.u_chosen == p.u_rejected)
                .count();
            (scored.clone().count() > 0).then(|| FamilyMetrics {
                family: f.name().to_string(),
                ties,
                metrics: metrics(scored),
            })
        })
        .collect()
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// One step's record.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmRecord {
    pub step: usize,
    /// Steps the run will take.
    pub total: usize,
    pub loss: f64,
    /// On held-out pairs, on evaluation steps (and step 0: the untrained head).
    pub heldout: Option<PairMetrics>,
    /// Tokens in this step's padded batch, its width, and the step's seconds (not the
    /// evaluation).
    #[serde(default)]
    pub tokens: usize,
    #[serde(default)]
    pub seq_len: usize,
    #[serde(default)]
    pub seconds: f64,
}

// ANCHOR: groups
/// One prompt's comparisons as InstructGPT trains on them: its distinct responses (as
/// full texts), each scored once, and every labelled pair among them as (chosen, rejected)
/// indices into `texts`. K responses give up to K(K−1)/2 pairs for K forward passes.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub prompt: usize,
    pub texts: Vec<String>,
    pub pairs: Vec<(usize, usize)>,
}

/// The pairs grouped by prompt, in order of each prompt's first pair.
pub fn groups(prompts: &[Prompt], pairs: &[Pair]) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut at = std::collections::HashMap::new(); // prompt → index in `out`
    for p in pairs {
        let g = *at.entry(p.prompt).or_insert_with(|| {
            out.push(Group {
                prompt: p.prompt,
                texts: Vec::new(),
                pairs: Vec::new(),
            });
            out.len() - 1
        });
        let g = &mut out[g];
        let mut index = |response: &str| {
            let text = full_text(&prompts[p.prompt], response);
            g.texts.iter().position(|t| *t == text).unwrap_or_else(|| {
                g.texts.push(text);
                g.texts.len() - 1
            })
        };
        let (c, r) = (index(&p.chosen), index(&p.rejected));
        g.pairs.push((c, r));
    }
    out
}
// ANCHOR_END: groups

// ANCHOR: rm_loop
/// Train `rm` in place on the `train` pairs for `cfg.epochs` passes, `cfg.batch` prompts
/// per step in seeded shuffled order: each step scores every distinct response of its
/// prompts once and takes the pairwise loss over all their pairs (InstructGPT: "all
/// K(K−1)/2 comparisons from each prompt as a single batch element" — each response is
/// seen once per pass, so a pass costs K forward passes per prompt, not K(K−1), and the
/// model does not overfit to responses repeated across steps). Evaluates on the
/// `heldout` pairs before and every `eval_every` steps.
pub fn train(
    rm: &RewardModel,
    tok: &Tokenizer,
    train_set: PairSet,
    heldout: PairSet,
    cfg: &RmConfig,
    mut on_step: impl FnMut(&RmRecord),
) -> Result<Vec<RmRecord>> {
    ensure!(!train_set.pairs.is_empty(), "no training pairs");
    ensure!(
        cfg.batch > 0 && cfg.epochs > 0 && cfg.eval_every > 0,
        "batch, epochs and eval_every must be positive"
    );
    let train = groups(train_set.prompts, train_set.pairs);
    let dev = rm.gpt.device();
    let steps = cfg.epochs * train.len().div_ceil(cfg.batch);
    let opt_cfg = cfg.optimiser(steps);
    opt_cfg.validate()?;
    let params = rm.params();
    let mut opt = AdamW::new(&params)?;
    let mut history = vec![RmRecord {
        step: 0,
        total: steps,
        loss: f64::NAN,
        heldout: Some(evaluate(rm, tok, heldout)?),
        tokens: 0,
        seq_len: 0,
        seconds: 0.0,
    }];
    on_step(&history[0]);
    let mut rng = world::rng(cfg.seed, 32);
    let mut step = 0;
    for _ in 0..cfg.epochs {
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        for chunk in order.chunks(cfg.batch) {
            let t0 = std::time::Instant::now();
            // Every distinct response of the step's prompts in one padded batch; each pair
            // as the rows of its chosen and rejected response.
            let (mut texts, mut chosen, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
            for g in chunk.iter().map(|&i| &train[i]) {
                let offset = texts.len() as u32;
                texts.extend(g.texts.iter().cloned());
                chosen.extend(g.pairs.iter().map(|&(c, _)| offset + c as u32));
                rejected.extend(g.pairs.iter().map(|&(_, r)| offset + r as u32));
            }
            let (ids, mask) = padded(tok, &texts, rm.gpt.cfg.n_positions, &dev)?;
            let scores = rm.raw_scores(&ids, &mask)?; // (N,)
            let n_pairs = chosen.len();
            // The scores of the pairs' chosen or rejected responses, (P,).
            let pick =
                |rows: Vec<u32>| scores.index_select(&Tensor::from_vec(rows, n_pairs, &dev)?, 0);
            let loss = pairwise_loss(&pick(chosen)?, &pick(rejected)?)?;
            opt.minimise(&params, &loss, opt_cfg.lr_at(step, steps), &opt_cfg)?;
            let loss = loss.to_scalar::<f32>()? as f64; // waits for the step to finish on a GPU
            let (tokens, seq_len, seconds) =
                (ids.elem_count(), ids.dim(1)?, t0.elapsed().as_secs_f64());
            step += 1;
            let heldout = if step.is_multiple_of(cfg.eval_every) || step == steps {
                Some(evaluate(rm, tok, heldout)?)
            } else {
                None
            };
            let r = RmRecord {
                step,
                total: steps,
                loss,
                heldout,
                tokens,
                seq_len,
                seconds,
            };
            on_step(&r);
            history.push(r);
        }
    }
    Ok(history)
}
// ANCHOR_END: rm_loop

/// Pearson correlation of two equally long series.
pub fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (vx, vy): (f64, f64) = (
        x.iter().map(|a| (a - mx).powi(2)).sum(),
        y.iter().map(|b| (b - my).powi(2)).sum(),
    );
    cov / (vx * vy).sqrt()
}

/// The normalised rewards of `responses[i]` to `prompts[i]`, in batches of 128.
pub fn normalised_scores(
    rm: &RewardModel,
    tok: &Tokenizer,
    prompts: &[Prompt],
    responses: &[String],
) -> Result<Vec<f64>> {
    ensure!(
        prompts.len() == responses.len(),
        "{} prompts but {} responses to score",
        prompts.len(),
        responses.len()
    );
    let texts: Vec<String> = prompts
        .iter()
        .zip(responses)
        .map(|(p, r)| full_text(p, r))
        .collect();
    Ok(score_texts(rm, tok, &texts, 128)?
        .into_iter()
        .map(|x| rm.norm.apply(x))
        .collect())
}

/// The normalised reward of one response: `gain · raw + bias`.
pub fn reward(rm: &RewardModel, tok: &Tokenizer, prompt: &Prompt, response: &str) -> Result<f64> {
    Ok(rm
        .norm
        .apply(score_texts(rm, tok, &[full_text(prompt, response)], 1)?[0]))
}
