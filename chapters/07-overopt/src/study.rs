//! The chapter's studies, from a finished pipeline's models: best-of-n against one or more
//! reward models, and PPO with several fixed KL coefficients β. Every curve is measured on
//! the hidden labeler's gold utility and on the proxy (the reward model), against
//! d = √KL(π ‖ π_SFT), as Gao, Schulman & Hilton (2022) plot them.

use crate::bon::{best_of_n, kl_best_of_n};
use crate::fit::{Fit, Form, fit};
use anyhow::{Result, ensure};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use ch03_gpt::sample::Sampling;
use ch05_reward::RewardModel;
use ch06_ppo::{KlControl, PpoConfig};
use serde::{Deserialize, Serialize};
use world::stats::{Interval, paired_difference};
use world::{Prompt, World};

/// What to measure. Every detail is a named field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OveroptConfig {
    /// Held-out prompts for best-of-n (0: all of them).
    pub prompts: usize,
    /// N responses sampled per prompt; best-of-n for n = 1, 2, 4, … ≤ N from the same N.
    pub samples: usize,
    /// Sampling temperature of the SFT policy: PPO's, so both methods start from the same
    /// distribution and the KL is to the same reference.
    pub temperature: f64,
    pub max_new_tokens: usize,
    /// The proxy of a response that did not end with `<|end|>`: PPO's rule (chapter 6).
    pub missing_end_score: f64,
    /// Extra reward models, trained on these fractions of the training prompts (and so of
    /// their comparisons); the pipeline's own reward model is the fraction 1.
    pub rm_fractions: Vec<f64>,
    /// One PPO run per fixed β, from the SFT model against the pipeline's reward model.
    pub betas: Vec<f64>,
    pub ppo_iterations: usize,
    /// PPO's sampling temperature and prompts per rollout in these studies. The CPU
    /// study keeps the pipeline's PPO as it was when chapter 7 was measured — 64 prompts
    /// at 0.7, best-of-n's temperature — where the pipeline now samples 128 at temperature
    /// 1 (chapter 6, "Across worlds").
    #[serde(default = "study_ppo_temperature")]
    pub ppo_temperature: f64,
    #[serde(default = "study_rollout_batch")]
    pub ppo_rollout_batch: usize,
    /// γ of PPO-ptx in the β study: 0, so that β is the only leash (the pipeline's
    /// pretraining term is a second one, towards the pretrained model; chapter 6).
    pub ppo_ptx_coef: f64,
    /// PPO iterations averaged into one point of a curve (rollouts are small and noisy).
    pub window: usize,
    /// The biased labeler of the hacking study: added to the utility per word of an answer
    /// (the gold utility charges 0.1 per word beyond 10).
    pub bias_per_word: f64,
    /// Labelers who disagree: (share of the comparisons, added per word) for each group.
    pub population: Vec<(f64, f64)>,
    /// The mitigations' length penalty, per word of an answer.
    pub length_penalty_per_word: f64,
    /// Held-out prompts whose gold is the trusted check of early stopping (the rest measure).
    pub trusted_prompts: usize,
    /// Training prompts sampled from the SFT model for the PPO curves' starting point.
    pub reference_prompts: usize,
    pub seed: u64,
}

/// PPO's temperature and rollout batch in the committed chapter 7 studies.
fn study_ppo_temperature() -> f64 {
    0.7
}

fn study_rollout_batch() -> usize {
    64
}

impl OveroptConfig {
    /// For tests: a few prompts, samples and iterations.
    pub fn tiny() -> Self {
        OveroptConfig {
            prompts: 24,
            samples: 8,
            temperature: 0.7,
            max_new_tokens: 24,
            missing_end_score: -3.0,
            rm_fractions: vec![0.5],
            betas: vec![0.0, 0.05],
            ppo_iterations: 4,
            ppo_temperature: 1.0,
            ppo_rollout_batch: 32,
            ppo_ptx_coef: 0.0,
            window: 2,
            reference_prompts: 32,
            bias_per_word: 0.5,
            population: vec![(0.75, 0.5), (0.25, -0.5)],
            length_penalty_per_word: 0.1,
            trusted_prompts: 8,
            seed: 71,
        }
    }

    /// The CPU study (about 15 minutes on 2 cores): 64 samples of every held-out prompt,
    /// reward models on ⅛, ¼ and ½ of the comparisons, PPO without the pretraining term
    /// at four β for 100 iterations, measured in windows of 10 iterations (640 responses)
    /// against the SFT policy's answers to all 1024 training prompts.
    pub fn small() -> Self {
        OveroptConfig {
            prompts: 0,
            samples: 64,
            max_new_tokens: PpoConfig::small().max_new_tokens,
            rm_fractions: vec![0.125, 0.25, 0.5],
            betas: vec![0.0, 0.02, 0.1, 0.2],
            ppo_iterations: 100,
            ppo_temperature: study_ppo_temperature(),
            ppo_rollout_batch: study_rollout_batch(),
            window: 10,
            reference_prompts: 1024,
            bias_per_word: 0.2,
            population: vec![(0.75, 0.2), (0.25, -0.2)],
            trusted_prompts: 32,
            ..Self::tiny()
        }
    }

    /// The configuration of a run's preset: `tiny` or `small` (the GPU run ends at PPO,
    /// chapter 9).
    pub fn preset(p: world::Preset) -> Result<Self> {
        p.tiny_or_small("chapter 7's studies", Self::tiny, Self::small)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.samples >= 2,
            "samples per prompt must be at least 2, got {}",
            self.samples
        );
        ensure!(
            self.temperature > 0.0 && self.temperature.is_finite(),
            "temperature must be positive"
        );
        ensure!(self.max_new_tokens > 0, "max_new_tokens must be positive");
        ensure!(
            self.rm_fractions.iter().all(|f| *f > 0.0 && *f < 1.0),
            "reward-model fractions must be in (0, 1), got {:?}",
            self.rm_fractions
        );
        ensure!(!self.betas.is_empty(), "at least one β for the PPO study");
        ensure!(
            self.betas.iter().all(|b| *b >= 0.0 && b.is_finite()),
            "β must be ≥ 0, got {:?}",
            self.betas
        );
        ensure!(
            self.window >= 1 && self.ppo_iterations >= self.window,
            "need ppo_iterations ≥ window ≥ 1"
        );
        ensure!(
            self.ppo_ptx_coef >= 0.0 && self.ppo_ptx_coef.is_finite(),
            "ppo_ptx_coef must be ≥ 0"
        );
        ensure!(
            self.ppo_temperature > 0.0 && self.ppo_temperature.is_finite(),
            "ppo_temperature must be positive, got {}",
            self.ppo_temperature
        );
        ensure!(
            self.ppo_rollout_batch > 0,
            "ppo_rollout_batch must be positive"
        );
        ensure!(
            self.bias_per_word.is_finite(),
            "bias_per_word must be finite"
        );
        ensure!(
            !self.population.is_empty()
                && self
                    .population
                    .iter()
                    .all(|(w, b)| *w > 0.0 && w.is_finite() && b.is_finite()),
            "population: expected (share > 0, bias per word) for each group, got {:?}",
            self.population
        );
        ensure!(
            self.length_penalty_per_word.is_finite(),
            "length_penalty_per_word must be finite"
        );
        ensure!(self.trusted_prompts > 0, "trusted_prompts must be positive");
        ensure!(
            self.reference_prompts > 0,
            "reference_prompts must be positive"
        );
        Ok(())
    }

    /// n = 1, 2, 4, … up to the samples per prompt (and N itself).
    pub fn ns(&self) -> Vec<usize> {
        let mut ns: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
            .take_while(|&n| n <= self.samples)
            .collect();
        if ns.last() != Some(&self.samples) {
            ns.push(self.samples);
        }
        ns
    }
}

/// N sampled responses to each prompt, with the hidden labeler's utility of each.
pub struct Samples {
    pub prompts: Vec<Prompt>,
    /// (prompts, N)
    pub responses: Vec<Vec<String>>,
    pub gold: Vec<Vec<f64>>,
}

/// Sample `cfg.samples` responses to each prompt from `policy` and judge them.
pub fn sample(
    world: &World,
    tok: &Tokenizer,
    policy: &Gpt,
    prompts: &[Prompt],
    cfg: &OveroptConfig,
    stream: u64,
) -> Result<Samples> {
    let s = Sampling {
        temperature: cfg.temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let mut rng = world::rng(cfg.seed, stream);
    let responses = ch05_reward::data::sample_responses(
        policy,
        tok,
        prompts,
        cfg.samples,
        &s,
        cfg.max_new_tokens,
        &mut rng,
    )?;
    let gold = prompts
        .iter()
        .zip(&responses)
        .map(|(p, rs)| rs.iter().map(|r| world.utility(p, r).total).collect())
        .collect();
    Ok(Samples {
        prompts: prompts.to_vec(),
        responses,
        gold,
    })
}

/// The proxy PPO optimises, for every sample: the reward model's normalised score, or
/// `missing_end_score` for a response that did not end with `<|end|>`.
pub fn proxy_scores(
    rm: &RewardModel,
    tok: &Tokenizer,
    samples: &Samples,
    missing_end_score: f64,
) -> Result<Vec<Vec<f64>>> {
    let n = samples.responses[0].len();
    let prompts: Vec<Prompt> = samples
        .prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), n))
        .collect();
    let flat: Vec<String> = samples.responses.concat();
    let scores = ch05_reward::train::normalised_scores(rm, tok, &prompts, &flat)?;
    let proxy: Vec<f64> = scores
        .iter()
        .zip(&flat)
        .map(|(&s, r)| {
            if r.ends_with(world::chat::END) {
                s
            } else {
                missing_end_score
            }
        })
        .collect();
    Ok(proxy.chunks(n).map(<[f64]>::to_vec).collect())
}

/// One point of an over-optimisation curve: the distance from the SFT policy and the mean
/// proxy and gold reward there, each also as the gain over the SFT policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// n for best-of-n, the last iteration of the window for PPO.
    pub step: usize,
    pub kl: f64,
    /// √KL
    pub d: f64,
    pub proxy: f64,
    pub gold: f64,
    pub proxy_gain: f64,
    pub gold_gain: f64,
}

/// A curve, its fit of Gao's form to the gold gain, and where the measured gold peaked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub label: String,
    pub points: Vec<Point>,
    pub fit: Option<Fit>,
    /// The measured point of highest gold, and the gold at the farthest point minus the
    /// gold there: the fall (negative: it fell), with a 95% paired-bootstrap interval over
    /// prompts where it is known (best-of-n).
    pub peak: Point,
    pub fall: f64,
    pub fall_interval: Option<Interval>,
}

fn curve(label: String, points: Vec<Point>, form: Form, fall_interval: Option<Interval>) -> Curve {
    let fitted: Vec<(f64, f64)> = points.iter().map(|p| (p.d, p.gold_gain)).collect();
    let fit = fit(form, &fitted).ok();
    let peak = *points
        .iter()
        .max_by(|a, b| a.gold.total_cmp(&b.gold))
        .unwrap();
    let fall = points.last().unwrap().gold - peak.gold;
    Curve {
        label,
        points,
        fit,
        peak,
        fall,
        fall_interval,
    }
}

// ANCHOR: bon_curve
/// Best-of-n for every n of `ns`, averaged over prompts: the expected proxy and gold of
/// the response the proxy ranks first among n, at KL = ln n − (n − 1)/n.
pub fn bon_curve(
    label: String,
    samples: &Samples,
    proxy: &[Vec<f64>],
    ns: &[usize],
    seed: u64,
) -> Curve {
    // (n, prompt) → (proxy, gold) of the best of n.
    let per_prompt: Vec<Vec<(f64, f64)>> = ns
        .iter()
        .map(|&n| {
            proxy
                .iter()
                .zip(&samples.gold)
                .map(|(p, g)| best_of_n(p, g, n))
                .collect()
        })
        .collect();
    let mean =
        |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (p0, g0) = (mean(&per_prompt[0], |x| x.0), mean(&per_prompt[0], |x| x.1));
    let points: Vec<Point> = ns
        .iter()
        .zip(&per_prompt)
        .map(|(&n, v)| {
            let (proxy, gold) = (mean(v, |x| x.0), mean(v, |x| x.1));
            let kl = kl_best_of_n(n);
            Point {
                step: n,
                kl,
                d: kl.sqrt(),
                proxy,
                gold,
                proxy_gain: proxy - p0,
                gold_gain: gold - g0,
            }
        })
        .collect();
    // The fall from the best n to the largest, per prompt, with a paired bootstrap.
    let best = points
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.gold.total_cmp(&b.1.gold))
        .unwrap()
        .0;
    let gold_at = |i: usize| per_prompt[i].iter().map(|x| Some(x.1)).collect::<Vec<_>>();
    let interval = paired_difference(
        &gold_at(best),
        &gold_at(points.len() - 1),
        &mut world::rng(seed, 72),
    );
    curve(label, points, Form::BestOfN, Some(interval))
}
// ANCHOR_END: bon_curve

/// The SFT policy's mean proxy and gold on `prompts` (one sample each): where PPO starts.
pub fn reference_point(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    rm: &RewardModel,
    prompts: &[Prompt],
    cfg: &OveroptConfig,
) -> Result<(f64, f64)> {
    // One response per prompt (chapter 5's sampler asks for two or more to compare).
    let sampling = Sampling {
        temperature: cfg.temperature,
        top_k: 0,
        top_p: 1.0,
    };
    let mut rng = world::rng(cfg.seed, 73);
    let responses = ch04_sft::chat::respond(
        sft,
        tok,
        prompts,
        &sampling,
        cfg.max_new_tokens,
        128,
        &mut rng,
    )?;
    let gold = prompts
        .iter()
        .zip(&responses)
        .map(|(p, r)| vec![world.utility(p, r).total])
        .collect();
    let s = Samples {
        prompts: prompts.to_vec(),
        responses: responses.into_iter().map(|r| vec![r]).collect(),
        gold,
    };
    let proxy = proxy_scores(rm, tok, &s, cfg.missing_end_score)?;
    let n = prompts.len() as f64;
    Ok((
        proxy.iter().map(|v| v[0]).sum::<f64>() / n,
        s.gold.iter().map(|v| v[0]).sum::<f64>() / n,
    ))
}

// ANCHOR: ppo_curve
/// PPO's curve from its per-iteration rollout statistics, `window` iterations per point:
/// mean KL (at the sampling temperature, as best-of-n's), proxy and gold, as gains over
/// the SFT policy's `reference` (proxy, gold), starting from (0, 0).
pub fn ppo_curve(
    label: String,
    history: &[ch06_ppo::train::Stats],
    window: usize,
    reference: (f64, f64),
) -> Curve {
    let mut points = vec![Point {
        step: 0,
        kl: 0.0,
        d: 0.0,
        proxy: reference.0,
        gold: reference.1,
        proxy_gain: 0.0,
        gold_gain: 0.0,
    }];
    for w in history.chunks(window).filter(|w| w.len() == window) {
        let mean =
            |f: fn(&ch06_ppo::train::Stats) -> f64| w.iter().map(f).sum::<f64>() / w.len() as f64;
        let (kl, proxy, gold) = (
            mean(|s| s.kl).max(0.0),
            mean(|s| s.rm_reward),
            mean(|s| s.gold_reward),
        );
        let step = w.last().unwrap().iteration;
        points.push(Point {
            step,
            kl,
            d: kl.sqrt(),
            proxy,
            gold,
            proxy_gain: proxy - reference.0,
            gold_gain: gold - reference.1,
        });
    }
    curve(label, points, Form::Rl, None)
}
// ANCHOR_END: ppo_curve

/// PPO's configuration for the β sweep: the pipeline's, with β fixed, the study's
/// pretraining coefficient, and more iterations.
pub fn ppo_config(base: &PpoConfig, beta: f64, cfg: &OveroptConfig) -> PpoConfig {
    PpoConfig {
        kl_coef: beta,
        kl_control: KlControl::Fixed,
        iterations: cfg.ppo_iterations,
        ptx_coef: cfg.ppo_ptx_coef,
        temperature: cfg.ppo_temperature,
        rollout_batch: cfg.ppo_rollout_batch,
        ..base.clone()
    }
}

/// A reward model's place on the "more comparisons" curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmPoint {
    pub fraction: f64,
    pub comparisons: usize,
    /// Held-out accuracy against the labeler, its ceiling, and the gold-order accuracy.
    pub accuracy: f64,
    pub ceiling: f64,
    pub gold_accuracy: f64,
}

/// The training prompts a reward model of `fraction` sees: the first ⌈fraction · n⌉.
pub fn with_fraction_of_prompts(world: &World, fraction: f64) -> World {
    let mut w = world.clone();
    let n =
        ((fraction * w.prompts.train.len() as f64).ceil() as usize).clamp(1, w.prompts.train.len());
    w.prompts.train.truncate(n);
    w
}

/// Best-of-n per prompt family: where the proxy's picks gain or lose gold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FamilyRow {
    pub family: String,
    pub prompts: usize,
    /// Mean gold of one sample (n = 1), of the best of the n where the whole curve's gold
    /// peaked, and of the best of all N.
    pub gold_one: f64,
    pub gold_peak: f64,
    pub gold_all: f64,
}

/// [`FamilyRow`]s for one proxy, with `peak_n` the n of the curve's gold peak.
pub fn by_family(samples: &Samples, proxy: &[Vec<f64>], peak_n: usize) -> Vec<FamilyRow> {
    world::Family::ALL
        .iter()
        .filter_map(|&f| {
            let idx: Vec<usize> = (0..samples.prompts.len())
                .filter(|&i| samples.prompts[i].family == f)
                .collect();
            if idx.is_empty() {
                return None;
            }
            let mean_at = |n: usize| {
                idx.iter()
                    .map(|&i| best_of_n(&proxy[i], &samples.gold[i], n).1)
                    .sum::<f64>()
                    / idx.len() as f64
            };
            let big_n = samples.responses[0].len();
            Some(FamilyRow {
                family: f.name().into(),
                prompts: idx.len(),
                gold_one: mean_at(1),
                gold_peak: mean_at(peak_n),
                gold_all: mean_at(big_n),
            })
        })
        .collect()
}

/// What the proxy picked: for the first prompt of each family, its first sample and the
/// sample the proxy ranks first of all N, with their proxy and gold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    pub prompt: String,
    pub first: (String, f64, f64),
    pub top: (String, f64, f64),
}

pub fn picks(samples: &Samples, proxy: &[Vec<f64>], per_family: usize) -> Vec<Pick> {
    let mut out = Vec::new();
    for f in world::Family::ALL {
        for i in (0..samples.prompts.len())
            .filter(|&i| samples.prompts[i].family == f)
            .take(per_family)
        {
            let (p, g, r) = (&proxy[i], &samples.gold[i], &samples.responses[i]);
            let top = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            out.push(Pick {
                prompt: samples.prompts[i].text.clone(),
                first: (r[0].clone(), p[0], g[0]),
                top: (r[top].clone(), p[top], g[top]),
            });
        }
    }
    out
}
