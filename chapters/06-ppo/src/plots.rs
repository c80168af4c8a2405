//! PPO's diagnostics over training, one chart each.

use crate::core::policy_loss;
use crate::train::Stats;
use anyhow::Result;
use candle_core::{Device, Tensor};
use plot::plotters::chart::SeriesLabelPosition;
use plot::{Chart, LineChart};
use std::path::Path;

/// Picks one number from an iteration's statistics.
pub type Stat = fn(&Stats) -> f64;

/// One line per named statistic, against the iteration.
pub fn chart(history: &[Stats], title: &str, y_label: &str, series: &[(&str, Stat)]) -> LineChart {
    let mut c = LineChart::new(title)
        .x_label("PPO iteration")
        .y_label(y_label);
    for (name, f) in series {
        c = c.series(
            *name,
            history.iter().map(|s| (s.iteration as f64, f(s))).collect(),
        );
    }
    c
}

// ANCHOR: clip_objective
/// PPO's objective for one token against its ratio ρ = π_new/π_old, for an advantage of +1
/// and of −1 with clip range `clip`: `min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)`, computed by
/// [`policy_loss`] itself (it returns the negative, to minimise). Flat where clipping
/// binds: beyond 1 + ε for A > 0, below 1 − ε for A < 0.
pub fn clip_objective(clip: f64) -> Result<LineChart> {
    let dev = Device::Cpu;
    let one = |x: f64| Tensor::new(&[[x as f32]], &dev); // (1, 1): one token
    let rhos: Vec<f64> = (0..=60).map(|i| 0.4 + 0.02 * i as f64).collect(); // 0.4 … 1.6
    let mut c = LineChart::new(format!("PPO's clipped objective, ε = {clip}"))
        .x_label("ratio ρ = π_new / π_old")
        .y_label("objective for one token")
        .legend_at(SeriesLabelPosition::MiddleRight);
    for (name, a) in [("A = +1", 1.0), ("A = −1", -1.0)] {
        let mut points = Vec::with_capacity(rhos.len());
        for &rho in &rhos {
            let (loss, _) = policy_loss(&one(rho.ln())?, &one(0.0)?, &one(a)?, &one(1.0)?, clip)?;
            points.push((rho, -(loss.to_scalar::<f32>()? as f64)));
        }
        c = c.series(name, points);
    }
    Ok(c)
}
// ANCHOR_END: clip_objective

/// Every diagnostic as an SVG in `out`, and the clipped objective (`clip_objective.svg`).
pub fn diagnostics(history: &[Stats], clip: f64, out: &Path) -> Result<()> {
    let charts: [(&str, LineChart); 8] = [
        (
            "rewards.svg",
            chart(
                history,
                "Reward of the rollouts",
                "mean per response",
                &[
                    ("reward model (normalised)", |s| s.rm_reward),
                    ("gold (hidden labeler)", |s| s.gold_reward),
                ],
            ),
        ),
        (
            "kl.svg",
            chart(
                history,
                "KL to the SFT reference",
                "nats per response",
                &[("KL", |s| s.kl)],
            ),
        ),
        (
            "beta.svg",
            chart(history, "KL coefficient β", "β", &[("β", |s| s.beta)]),
        ),
        (
            "approx_kl.svg",
            chart(
                history,
                "Policy change per iteration (approx-KL)",
                "nats per token",
                &[("approx-KL", |s| s.approx_kl)],
            ),
        ),
        (
            "clipfrac.svg",
            chart(
                history,
                "Fraction of tokens clipped",
                "fraction",
                &[("clip fraction", |s| s.clipfrac)],
            ),
        ),
        (
            "entropy.svg",
            chart(
                history,
                "Policy entropy",
                "nats per token",
                &[("entropy", |s| s.entropy)],
            ),
        ),
        (
            "value.svg",
            chart(
                history,
                "Value function",
                "",
                &[
                    ("value loss", |s| s.value_loss),
                    ("explained variance", |s| s.explained_variance),
                ],
            ),
        ),
        (
            "length.svg",
            chart(
                history,
                "Responses",
                "",
                &[
                    ("length (tokens)", |s| s.length),
                    ("ended with <|end|> (×10)", |s| 10.0 * s.ended),
                ],
            ),
        ),
    ];
    for (file, c) in charts {
        c.save_svg(&out.join(file))?;
    }
    clip_objective(clip)?.save_svg(&out.join("clip_objective.svg"))?;
    Ok(())
}
