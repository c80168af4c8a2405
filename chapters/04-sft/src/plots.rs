//! The chapter's figures.

use crate::train::SftRecord;
use plot::{BarChart, LineChart};
use world::eval::Capabilities;

/// Response-token loss: every step's batch, and the held-out demonstrations.
pub fn loss_curve(history: &[SftRecord]) -> LineChart {
    LineChart::new("SFT: cross-entropy on response tokens")
        .x_label("step")
        .y_label("nats per response token")
        .series(
            "train batch",
            history
                .iter()
                .filter(|r| r.loss.is_finite())
                .map(|r| (r.step as f64, r.loss))
                .collect(),
        )
        .series(
            "held-out demonstrations",
            history
                .iter()
                .filter_map(|r| r.heldout.map(|h| (r.step as f64, h)))
                .collect(),
        )
}

/// One bar per model for each prompt family: `metric` picks the number (e.g. format
/// compliance) from a family's scores.
pub fn by_family(
    title: &str,
    y_label: &str,
    models: &[(&str, &Capabilities)],
    metric: fn(&world::eval::FamilyScores) -> f64,
) -> BarChart {
    let families: Vec<String> = models[0]
        .1
        .families
        .iter()
        .map(|(f, _)| f.clone())
        .collect();
    let mut chart = BarChart::new(title)
        .y_label(y_label)
        .categories(families.clone());
    for (name, caps) in models {
        let values = families
            .iter()
            .map(|f| {
                caps.families
                    .iter()
                    .find(|(g, _)| g == f)
                    .map_or(0.0, |(_, s)| 100.0 * metric(s))
            })
            .collect();
        chart = chart.group(*name, values);
    }
    chart
}
