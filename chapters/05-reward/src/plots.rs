//! The chapter's figures.

use crate::train::RmRecord;
use plot::plotters::chart::SeriesLabelPosition;
use plot::{Histogram, LineChart};
use world::preference::sigmoid;

/// Held-out accuracy during training, against the labeler's ceiling.
pub fn accuracy_curve(history: &[RmRecord]) -> LineChart {
    let evals: Vec<(f64, crate::train::PairMetrics)> = history
        .iter()
        .filter_map(|r| r.heldout.map(|m| (r.step as f64, m)))
        .collect();
    LineChart::new("Reward model: held-out pairwise accuracy")
        .x_label("step")
        .y_label("% of held-out pairs")
        .series(
            "agrees with the labeler",
            evals
                .iter()
                .map(|(s, m)| (*s, 100.0 * m.accuracy))
                .collect(),
        )
        .series(
            "agrees with the gold order",
            evals
                .iter()
                .map(|(s, m)| (*s, 100.0 * m.gold_accuracy))
                .collect(),
        )
        .series(
            "ceiling: the labeler's own agreement",
            evals.iter().map(|(s, m)| (*s, 100.0 * m.ceiling)).collect(),
        )
        .series("chance", evals.iter().map(|(s, _)| (*s, 50.0)).collect())
        .legend_at(SeriesLabelPosition::LowerRight)
}

/// Normalised scores of the chosen and the rejected response of each held-out pair.
pub fn score_histogram(chosen: Vec<f64>, rejected: Vec<f64>) -> Histogram {
    Histogram::new("Reward of chosen and rejected responses (held-out pairs)")
        .x_label("normalised reward")
        .bins(30)
        .series("chosen", chosen)
        .series("rejected", rejected)
}

// ANCHOR: calibration
/// Calibration: bin the predicted P(a ≻ b) = σ(r_a − r_b) over held-out pairs and plot, per
/// bin, the mean prediction against how often the labeler actually preferred a. A
/// calibrated model lies on the diagonal. Pairs alternate orientation (chosen first, then
/// rejected first) so both halves of the range are filled. Returns the chart and the
/// (predicted, observed, count) of each non-empty bin.
pub fn calibration(scores: &[(f64, f64)], bins: usize) -> (LineChart, Vec<(f64, f64, usize)>) {
    let mut acc = vec![(0.0, 0.0, 0usize); bins];
    for (i, &(c, r)) in scores.iter().enumerate() {
        let (p, outcome) = if i % 2 == 0 {
            (sigmoid(c - r), 1.0)
        } else {
            (sigmoid(r - c), 0.0)
        };
        let b = ((p * bins as f64) as usize).min(bins - 1);
        acc[b].0 += p;
        acc[b].1 += outcome;
        acc[b].2 += 1;
    }
    let points: Vec<(f64, f64, usize)> = acc
        .into_iter()
        .filter(|a| a.2 > 0)
        .map(|(p, o, n)| (p / n as f64, o / n as f64, n))
        .collect();
    let chart = LineChart::new("Reward model calibration (held-out pairs)")
        .x_label("predicted P(a preferred)")
        .y_label("observed frequency")
        .series(
            "reward model",
            points.iter().map(|&(p, o, _)| (p, o)).collect(),
        )
        .series("perfect calibration", vec![(0.0, 0.0), (1.0, 1.0)]);
    (chart, points)
}
// ANCHOR_END: calibration
