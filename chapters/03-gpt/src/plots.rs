//! The chapter's figures, shared by `rlhf pretrain`, the notebook and the book.

use crate::train::Record;
use plot::LineChart;

/// Train loss at every step and held-out loss at every evaluation.
pub fn loss_curve(history: &[Record]) -> LineChart {
    let evals: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|r| r.heldout.map(|h| (r.step as f64, h)))
        .collect();
    LineChart::new("Pretraining the GPT on the world's text")
        .x_label("step")
        .y_label("cross-entropy (nats per token)")
        .series(
            "train",
            history.iter().map(|r| (r.step as f64, r.loss)).collect(),
        )
        .series("held-out", evals)
}
