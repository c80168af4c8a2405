//! What each option buys: reward models trained on more or fewer comparisons, with or
//! without the language model's knowledge, alone or in an ensemble, from the SFT or the
//! pretrained model — all on one set of comparisons, measured on the same held-out pairs.
//!
//! The measure is the held-out accuracy as a share of the labeler's ceiling,
//!
//! ```text
//! share = Σᵢ 1[r(chosenᵢ) > r(rejectedᵢ)] / Σᵢ agreementᵢ
//! ```
//!
//! where agreementᵢ is how often the labeler itself agrees with the gold order on pair i
//! (½ on a tie): 100% is as good as any model of these labels can be. Its 95% interval
//! comes from the bootstrap over held-out *prompts* (a prompt's pairs share responses, so
//! they are resampled together).

use crate::data::{Pair, PairSet};
use crate::train::{self, PairMetrics, RmConfig};
use crate::{Comparisons, RewardModel, comparisons, with_fitted_knowledge};
use anyhow::{Result, ensure};
use ch01_tokenizer::tokenizers::Tokenizer;
use ch03_gpt::Gpt;
use plot::LineChart;
use plot::plotters::chart::SeriesLabelPosition;
use rand::Rng;
use serde::{Deserialize, Serialize};
use world::World;
use world::stats::{Interval, RESAMPLES, percentile_interval};

/// Which options the curve measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveConfig {
    /// Fractions of the training prompts (the first ones, with all their pairs), each a
    /// point of the data curve; 1 is the default reward model.
    pub fractions: Vec<f64>,
    /// Also draw the curve with the SFT model's knowledge as a second input (`--knowledge`).
    pub knowledge: bool,
    /// Reward models averaged in the ensemble point, on all the comparisons (0 or 1: none).
    pub ensemble: usize,
}

impl CurveConfig {
    /// The chapter's figure: five sizes from 1/16 of the prompts to all of them, both
    /// curves, an ensemble of three.
    pub fn book() -> Self {
        CurveConfig {
            fractions: vec![1.0 / 16.0, 0.125, 0.25, 0.5, 1.0],
            knowledge: true,
            ensemble: 3,
        }
    }
}

/// One reward model (or ensemble) on the held-out pairs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurvePoint {
    /// What was trained: [`DEFAULT`], [`KNOWLEDGE`], [`ENSEMBLE`], [`WEIGHT_AVERAGE`] or [`PRETRAINED`].
    pub option: String,
    /// Training prompts and their labelled pairs.
    pub prompts: usize,
    pub pairs: usize,
    pub heldout: PairMetrics,
    /// Held-out accuracy ÷ the labeler's ceiling, with its 95% interval.
    pub share: Interval,
    /// Training time, all members of an ensemble together.
    pub seconds: f64,
}

pub const DEFAULT: &str = "the default recipe";
pub const KNOWLEDGE: &str = "with the SFT model's knowledge";
pub const ENSEMBLE: &str = "ensemble";
pub const PRETRAINED: &str = "from the pretrained model";
pub const WEIGHT_AVERAGE: &str = "weight average";
/// An ensemble's member other than the default model: in the table, not the figure.
pub const MEMBER: &str = "another seed";

/// (chosen, rejected) scores of pairs, in their order.
pub type Scores = [(f64, f64)];

/// One set of comparisons and what every point of the curve shares.
struct Setup<'a> {
    world: &'a World,
    tok: &'a Tokenizer,
    sft: &'a Gpt,
    cfg: RmConfig,
    c: Comparisons,
}

/// A trained reward model, its (chosen, rejected) scores of the held-out pairs, the pairs
/// it was trained on and the seconds it took.
struct Trained {
    rm: RewardModel,
    scores: Vec<(f64, f64)>,
    pairs: usize,
    seconds: f64,
}

impl Setup<'_> {
    fn heldout(&self) -> PairSet<'_> {
        PairSet {
            prompts: &self.world.prompts.heldout,
            pairs: &self.c.heldout_pairs,
        }
    }
}

// ANCHOR: subset
/// A reward model from `init` trained on the pairs of the first `n` training
/// prompts, its head and the order of the data drawn from `seed`; with the SFT
/// model's knowledge as a second input if asked.
fn train_on_first(s: &Setup, n: usize, init: &Gpt, knowledge: bool, seed: u64) -> Result<Trained> {
    let first_n = |p: &&Pair| p.prompt < n;
    let pairs: Vec<Pair> = s.c.train_pairs.iter().filter(first_n).cloned().collect();
    let set = PairSet {
        prompts: &s.world.prompts.train,
        pairs: &pairs,
    };
    let t0 = std::time::Instant::now();
    let mut rm = RewardModel::from_sft(init, seed)?;
    if knowledge {
        rm = with_fitted_knowledge(rm, s.sft, s.tok, set)?;
    }
    let cfg = RmConfig {
        seed,
        ..s.cfg.clone()
    };
    let heldout = s.heldout();
    train::train(&rm, s.tok, set, heldout, &cfg, |_| {})?;
    let scores = train::pair_scores(&rm, s.tok, heldout.prompts, heldout.pairs)?;
    let seconds = t0.elapsed().as_secs_f64();
    let pairs = pairs.len();
    Ok(Trained {
        rm,
        scores,
        pairs,
        seconds,
    })
}
// ANCHOR_END: subset

/// Sample and label the comparisons once (the default recipe's, `cfg`), then train a
/// reward model on the first `fraction` of the training prompts for each fraction —
/// without and, if asked, with the SFT model's knowledge — an ensemble of
/// `curve.ensemble` default models on all of them (seeds `cfg.seed + m`) and their weight
/// average, and one initialised from `pretrained` if given. Every point is measured on
/// the same held-out pairs; `on_point` sees each.
pub fn comparisons_curve(
    world: &World,
    tok: &Tokenizer,
    sft: &Gpt,
    pretrained: Option<&Gpt>,
    cfg: &RmConfig,
    curve: &CurveConfig,
    mut on_point: impl FnMut(&CurvePoint),
) -> Result<Vec<CurvePoint>> {
    for &f in &curve.fractions {
        ensure!(
            f > 0.0 && f <= 1.0,
            "a fraction of the training prompts must be in (0, 1], got {f}"
        );
    }
    let s = Setup {
        world,
        tok,
        sft,
        // One evaluation, at the end: the curve needs no history.
        cfg: RmConfig {
            eval_every: usize::MAX,
            ..cfg.clone()
        },
        c: comparisons(world, tok, sft, cfg, &cfg.labeler)?,
    };
    let mut rng = world::rng(cfg.seed, 34);
    let mut points = Vec::new();
    let mut record =
        |option: String, prompts: usize, pairs: usize, scores: &[(f64, f64)], seconds: f64| {
            let p = CurvePoint {
                option,
                prompts,
                pairs,
                heldout: train::metrics(s.c.heldout_pairs.iter().zip(scores)),
                share: share_of_ceiling(&s.c.heldout_pairs, scores, &mut rng),
                seconds,
            };
            on_point(&p);
            points.push(p);
        };
    let n_all = world.prompts.train.len();
    let size = |f: f64| ((f * n_all as f64).round() as usize).max(1);
    let mut curves = vec![(DEFAULT, false)];
    if curve.knowledge {
        curves.push((KNOWLEDGE, true));
    }
    for (option, knowledge) in curves {
        for &f in &curve.fractions {
            let t = train_on_first(&s, size(f), sft, knowledge, cfg.seed)?;
            record(option.into(), size(f), t.pairs, &t.scores, t.seconds);
        }
    }
    if curve.ensemble > 1 {
        // M default models on all the prompts, told apart by their seeds (the head's
        // initialisation, the order of the data); the first is the default model.
        let (mut members, mut scores, mut seconds) = (Vec::new(), Vec::new(), 0.0);
        for m in 0..curve.ensemble as u64 {
            let t = train_on_first(&s, n_all, sft, false, cfg.seed + m)?;
            if m > 0 {
                record(
                    format!("{MEMBER} (seed + {m})"),
                    n_all,
                    t.pairs,
                    &t.scores,
                    t.seconds,
                );
            }
            seconds += t.seconds;
            scores.push(t.scores);
            members.push(t.rm);
        }
        let pairs = s.c.train_pairs.len();
        let m = curve.ensemble;
        record(
            format!("{ENSEMBLE} of {m}"),
            n_all,
            pairs,
            &ensemble_scores(&scores),
            seconds,
        );
        let averaged = RewardModel::weight_average(members)?;
        let h = s.heldout();
        let scores = train::pair_scores(&averaged, tok, h.prompts, h.pairs)?;
        record(
            format!("{WEIGHT_AVERAGE} of {m}"),
            n_all,
            pairs,
            &scores,
            seconds,
        );
    }
    if let Some(pre) = pretrained {
        let t = train_on_first(&s, n_all, pre, false, cfg.seed)?;
        record(PRETRAINED.into(), n_all, t.pairs, &t.scores, t.seconds);
    }
    Ok(points)
}

// ANCHOR: ensemble
/// An ensemble's scores of pairs: each member's standardised (mean 0, standard
/// deviation 1 over all its scores) so that every member counts alike, then
/// averaged pair by pair.
pub fn ensemble_scores(members: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let standardised: Vec<Vec<(f64, f64)>> = members
        .iter()
        .map(|scores| {
            let all: Vec<f64> = scores.iter().flat_map(|s| [s.0, s.1]).collect();
            let (mean, sd) = world::stats::mean_sd(&all);
            let z = |x: f64| (x - mean) / sd.max(1e-12);
            scores.iter().map(|s| (z(s.0), z(s.1))).collect()
        })
        .collect();
    let k = members.len() as f64;
    (0..members.first().map_or(0, Vec::len))
        .map(|i| {
            let (c, r) = standardised
                .iter()
                .fold((0.0, 0.0), |a, m| (a.0 + m[i].0, a.1 + m[i].1));
            (c / k, r / k)
        })
        .collect()
}
// ANCHOR_END: ensemble

// ANCHOR: share
/// Held-out accuracy ÷ the labeler's ceiling, with a 95% percentile-bootstrap
/// interval over held-out prompts: per prompt, (pairs the model orders as the
/// labeler did, the labeler's expected agreement with the gold order); resample
/// prompts, take the ratio of the sums.
pub fn share_of_ceiling<R: Rng>(pairs: &[Pair], scores: &Scores, rng: &mut R) -> Interval {
    let mut by_prompt = std::collections::BTreeMap::<usize, (f64, f64)>::new();
    for (p, (c, r)) in pairs.iter().zip(scores) {
        let e = by_prompt.entry(p.prompt).or_default();
        e.0 += f64::from(u8::from(c > r));
        e.1 += p.agreement;
    }
    let prompts: Vec<(f64, f64)> = by_prompt.into_values().collect();
    let ratio = |it: &mut dyn Iterator<Item = (f64, f64)>| {
        let (a, b) = it.fold((0.0, 0.0), |s, x| (s.0 + x.0, s.1 + x.1));
        a / b
    };
    let value = ratio(&mut prompts.iter().copied());
    let n = prompts.len();
    let resampled: Vec<f64> = (0..RESAMPLES)
        .map(|_| ratio(&mut (0..n).map(|_| prompts[rng.random_range(0..n)])))
        .collect();
    percentile_interval(value, resampled)
}
// ANCHOR_END: share

/// The figure: share of the ceiling against training pairs (log scale), one line per
/// option measured at several sizes, a marker for each other option — each option nudged
/// sideways a little so that intervals at the same size stay apart — the 90% mark, and
/// where a coin would stand (½ on every pair, over the ceiling: ties make it high).
pub fn curve_chart(points: &[CurvePoint], title: &str) -> LineChart {
    let mut options: Vec<&str> = Vec::new();
    for p in points {
        if !p.option.starts_with(MEMBER) && !options.contains(&p.option.as_str()) {
            options.push(&p.option);
        }
    }
    let (x0, x1) = points.iter().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.pairs as f64), b.max(p.pairs as f64))
    });
    let mut chart = LineChart::new(title)
        .x_label("training comparisons")
        .y_label("% of the labeler's ceiling")
        .log_x()
        .size(720, 500)
        .y_include(55.0)
        .legend_at(SeriesLabelPosition::LowerRight);
    let nudge = |i: usize| 1.05f64.powf(i as f64 - (options.len() - 1) as f64 / 2.0);
    for (i, o) in options.iter().enumerate() {
        let pts = points
            .iter()
            .filter(|p| p.option == *o)
            .map(|p| {
                let s = &p.share;
                let x = p.pairs as f64 * nudge(i);
                (x, 100.0 * s.value, 100.0 * s.low, 100.0 * s.high)
            })
            .collect();
        chart = chart.series_with_errors(*o, pts);
    }
    // Three points: a line without markers.
    let across = |y: f64| vec![(x0 * 0.9, y), ((x0 * x1).sqrt(), y), (x1 * 1.1, y)];
    chart = chart.series("90% of the ceiling", across(90.0));
    match points.first() {
        Some(p) => chart.series("a coin", across(50.0 / p.heldout.ceiling)),
        None => chart,
    }
}

/// The points as a Markdown table.
pub fn curve_table(points: &[CurvePoint]) -> String {
    let mut s = String::from(
        "| reward model | training prompts | pairs | held-out accuracy | ceiling | share of the ceiling (95% interval) | gold order | seconds |\n|---|---|---|---|---|---|---|---|\n",
    );
    for p in points {
        let m = &p.heldout;
        s += &format!(
            "| {} | {} | {} | {:.1}% | {:.1}% | {:.0}% [{:.0}, {:.0}] | {:.1}% | {:.0} |\n",
            p.option,
            p.prompts,
            p.pairs,
            100.0 * m.accuracy,
            100.0 * m.ceiling,
            100.0 * p.share.value,
            100.0 * p.share.low,
            100.0 * p.share.high,
            100.0 * m.gold_accuracy,
            p.seconds
        );
    }
    s
}
