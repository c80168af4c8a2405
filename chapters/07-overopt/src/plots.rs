//! The chapter's figures: proxy and gold against d = √KL, with Gao's fitted forms.

use crate::study::{Curve, Point, RmPoint};
use plot::LineChart;
use plot::plotters::chart::SeriesLabelPosition;

const D_LABEL: &str = "d = √KL(π ‖ π_SFT), √nats";

fn points(c: &Curve, f: fn(&Point) -> f64) -> Vec<(f64, f64)> {
    c.points.iter().map(|p| (p.d, f(p))).collect()
}

/// The fitted gold gain, drawn on 40 points from 0 to the curve's farthest d.
fn fitted(c: &Curve) -> Option<Vec<(f64, f64)>> {
    let fit = c.fit?;
    let end = c.points.last()?.d;
    Some(
        (0..=40)
            .map(|i| end * i as f64 / 40.0)
            .map(|d| (d, fit.eval(d)))
            .collect(),
    )
}

// ANCHOR: bon_figure
/// One curve's proxy and gold gains over the SFT policy against d, and the fit of Gao's
/// form to the gold gain.
pub fn proxy_and_gold(c: &Curve, title: &str) -> LineChart {
    let mut chart = LineChart::new(title)
        .x_label(D_LABEL)
        .y_label("gain over the SFT policy")
        .legend_at(SeriesLabelPosition::UpperLeft)
        .series(
            "proxy: reward model (normalised)",
            points(c, |p| p.proxy_gain),
        )
        .series("gold: hidden labeler", points(c, |p| p.gold_gain));
    if let (Some(f), Some(line)) = (c.fit, fitted(c)) {
        chart = chart.series(
            format!(
                "gold fit: α = {:.2}, β = {:.2}, R² = {:.2}",
                f.alpha, f.beta, f.r2
            ),
            line,
        );
    }
    chart
}
// ANCHOR_END: bon_figure

/// One gain of several curves against d, one line per curve.
fn gains(
    curves: &[Curve],
    title: &str,
    y_label: &str,
    legend: SeriesLabelPosition,
    f: fn(&Point) -> f64,
) -> LineChart {
    let mut chart = LineChart::new(title)
        .x_label(D_LABEL)
        .y_label(y_label)
        .legend_at(legend);
    for c in curves {
        chart = chart.series(c.label.clone(), points(c, f));
    }
    chart
}

/// The gold gain of several curves against d (reward models of different sizes, or PPO
/// at different β).
pub fn gold_of(curves: &[Curve], title: &str) -> LineChart {
    gains(
        curves,
        title,
        "gold gain over the SFT policy",
        SeriesLabelPosition::LowerLeft,
        |p| p.gold_gain,
    )
}

/// The proxy gain of several curves against d.
pub fn proxy_of(curves: &[Curve], title: &str) -> LineChart {
    gains(
        curves,
        title,
        "proxy gain over the SFT policy",
        SeriesLabelPosition::UpperLeft,
        |p| p.proxy_gain,
    )
}

/// Held-out accuracy of the reward model against the comparisons it trained on (log
/// scale), with the labeler's own agreement as the ceiling.
pub fn rm_data(rms: &[RmPoint]) -> LineChart {
    let ceiling = rms.iter().map(|r| r.ceiling).sum::<f64>() / rms.len().max(1) as f64;
    let xs: Vec<f64> = rms.iter().map(|r| r.comparisons as f64).collect();
    let span = |x: f64| {
        vec![
            (xs.iter().copied().fold(f64::INFINITY, f64::min), x),
            (xs.iter().copied().fold(0.0, f64::max), x),
        ]
    };
    LineChart::new("Reward model: more comparisons")
        .x_label("training comparisons")
        .y_label("held-out accuracy")
        .log_x()
        .legend_at(SeriesLabelPosition::UpperLeft)
        .series(
            "agrees with the labeler",
            rms.iter()
                .map(|r| (r.comparisons as f64, r.accuracy))
                .collect(),
        )
        .series(
            "orders as the gold utility",
            rms.iter()
                .map(|r| (r.comparisons as f64, r.gold_accuracy))
                .collect(),
        )
        .series("ceiling: the labeler's own agreement", span(ceiling))
        .series("chance", span(0.5))
}
