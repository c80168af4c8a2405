//! The chapter's figures: attention weights as heatmaps, and the loss curves.

use crate::train::LossPoint;
use ndarray::{Array3, s};
use plot::{Heatmap, LineChart};

/// Head `head`'s attention weights `(T, T)` of one layer: row = the position that looks
/// (query), column = the position looked at (key). Causal: nothing above the diagonal.
pub fn attention_heatmap(
    att: &Array3<f64>,
    layer: usize,
    head: usize,
    tokens: &[String],
) -> Heatmap {
    let w = att.slice(s![head, .., ..]);
    let values = w.rows().into_iter().map(|r| r.to_vec()).collect();
    let labels: Vec<String> = tokens.iter().map(|t| t.replace('\n', "\\n")).collect();
    Heatmap::new(format!("Attention, layer {layer}, head {head}"), values)
        .row_labels(labels.clone())
        .col_labels(labels)
        .x_label("key (looked at)")
        .y_label("query (looking)")
        .size(620, 560)
}

/// Training and held-out loss against step.
pub fn loss_chart(curve: &[LossPoint]) -> LineChart {
    LineChart::new("A transformer trained with a hand-written backward pass")
        .x_label("step")
        .y_label("cross-entropy (nats per token)")
        .series(
            "train",
            curve.iter().map(|p| (p.step as f64, p.train)).collect(),
        )
        .series(
            "held-out",
            curve.iter().map(|p| (p.step as f64, p.heldout)).collect(),
        )
}
