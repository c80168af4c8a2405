//! PPO's diagnostics over training, one chart each.

use crate::train::Stats;
use anyhow::Result;
use plot::{Chart, LineChart};
use std::path::Path;

/// Picks one number from an iteration's statistics.
pub type Stat = fn(&Stats) -> f64;

/// One line per named statistic, against the iteration.
pub fn chart(history: &[Stats], title: &str, y_label: &str, series: &[(&str, Stat)]) -> LineChart {
    let mut c = LineChart::new(title).x_label("PPO iteration").y_label(y_label);
    for (name, f) in series {
        c = c.series(*name, history.iter().map(|s| (s.iteration as f64, f(s))).collect());
    }
    c
}

/// Every diagnostic as an SVG in `out`.
pub fn diagnostics(history: &[Stats], out: &Path) -> Result<()> {
    let charts: [(&str, LineChart); 8] = [
        ("rewards.svg", chart(history, "Reward of the rollouts", "mean per response", &[("reward model (normalised)", |s| s.rm_reward), ("gold (hidden labeler)", |s| s.gold_reward)])),
        ("kl.svg", chart(history, "KL to the SFT reference", "nats per response", &[("KL", |s| s.kl)])),
        ("beta.svg", chart(history, "KL coefficient β", "β", &[("β", |s| s.beta)])),
        ("approx_kl.svg", chart(history, "Policy change per iteration (approx-KL)", "nats per token", &[("approx-KL", |s| s.approx_kl)])),
        ("clipfrac.svg", chart(history, "Fraction of tokens clipped", "fraction", &[("clip fraction", |s| s.clipfrac)])),
        ("entropy.svg", chart(history, "Policy entropy", "nats per token", &[("entropy", |s| s.entropy)])),
        ("value.svg", chart(history, "Value function", "", &[("value loss", |s| s.value_loss), ("explained variance", |s| s.explained_variance)])),
        ("length.svg", chart(history, "Responses", "", &[("length (tokens)", |s| s.length), ("ended with <|end|> (×10)", |s| 10.0 * s.ended)])),
    ];
    for (file, c) in charts {
        c.save_svg(&out.join(file))?;
    }
    Ok(())
}
