//! The chapter's figures: throughput from `rlhf bench` lines.

use plot::BarChart;
use serde_json::Value;

/// Training tokens/s of every `"bench": "train"` line of `rlhf bench` (ours and PyTorch's),
/// one bar per implementation and precision (medians over rounds).
pub fn training_throughput(lines: &[Value]) -> BarChart {
    let mut by: Vec<(String, Vec<f64>)> = Vec::new();
    for l in lines.iter().filter(|l| l["bench"] == "train") {
        let name = l["implementation"].as_str().unwrap_or("?").to_string();
        let tps = l["tokens_per_s"].as_f64().unwrap_or(f64::NAN);
        match by.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(tps),
            None => by.push((name, vec![tps])),
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let values: Vec<f64> = by.iter_mut().map(|(_, v)| median(v)).collect();
    BarChart::new("Training throughput")
        .y_label("tokens per second")
        .categories(by.iter().map(|(n, _)| n.clone()))
        .group("median over rounds", values)
}
