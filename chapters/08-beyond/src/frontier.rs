//! One frontier: every method's gold reward against its KL to the SFT model, measured on
//! the same held-out prompts, with 95% intervals (chapter 6's bootstrap).

use anyhow::{Result, ensure};
use ch06_ppo::Column;
use plot::LineChart;
use plot::plotters::chart::SeriesLabelPosition;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use world::World;
use world::eval::Metric;
use world::prompts::Family;
use world::stats::{self, Interval};

/// One method on the frontier.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
    pub name: String,
    /// KL to the SFT model, nats per response (see each column for its temperature).
    pub kl: f64,
    /// Every capability-table metric, with its 95% interval.
    pub metrics: Vec<(Metric, Interval)>,
    /// Gold reward minus the first column's (SFT), with its paired interval.
    pub gold_change: Interval,
    /// Fraction of held-out arithmetic prompts answered right.
    pub arithmetic: Interval,
}

impl Point {
    pub fn metric(&self, m: Metric) -> Interval {
        self.metrics
            .iter()
            .find(|(x, _)| *x == m)
            .expect("every metric is measured")
            .1
    }
}

// ANCHOR: frontier
/// The frontier of `columns` (the first is the baseline the changes are measured from,
/// SFT), all measured on the world's held-out prompts.
pub fn frontier(w: &World, columns: &[(String, Column)], seed: u64) -> Result<Vec<Point>> {
    ensure!(!columns.is_empty(), "a frontier needs at least one column");
    let prompts = &w.prompts.heldout;
    let values =
        |c: &Column| world::eval::per_prompt(&w.config.labeler, &w.entities, prompts, &c.responses);
    let gold = Metric::ALL
        .iter()
        .position(|&m| m == Metric::GoldReward)
        .unwrap();
    let help = Metric::ALL
        .iter()
        .position(|&m| m == Metric::Helpfulness)
        .unwrap();
    let base = values(&columns[0].1)?;
    let mut rng = world::rng(seed, 88);
    columns
        .iter()
        .map(|(name, c)| {
            let v = values(c)?;
            let arithmetic: Vec<Option<f64>> = prompts
                .iter()
                .zip(&v[help])
                .map(|(p, x)| {
                    if p.family == Family::Arithmetic {
                        *x
                    } else {
                        None
                    }
                })
                .collect();
            Ok(Point {
                name: name.clone(),
                kl: c.kl,
                metrics: Metric::ALL
                    .iter()
                    .zip(&v)
                    .map(|(&m, x)| (m, stats::mean_interval(x, &mut rng)))
                    .collect(),
                gold_change: stats::paired_difference(&base[gold], &v[gold], &mut rng),
                arithmetic: stats::mean_interval(&arithmetic, &mut rng),
            })
        })
        .collect()
}
// ANCHOR_END: frontier

/// The frontier as a markdown table: one column per method; rows for the KL, the gold
/// reward and its change from the first column (bold when the interval excludes zero),
/// arithmetic, and every other capability.
pub fn table(points: &[Point]) -> String {
    let mut s = String::from("| |");
    for p in points {
        write!(s, " {} |", p.name).unwrap();
    }
    s += "\n|---|";
    s += &"---|".repeat(points.len());
    s += "\n| KL to SFT (nats per response) |";
    for p in points {
        write!(s, " {:.2} |", p.kl).unwrap();
    }
    s += "\n| gold reward |";
    for p in points {
        write!(
            s,
            " {} |",
            Metric::GoldReward.cell(&p.metric(Metric::GoldReward))
        )
        .unwrap();
    }
    write!(s, "\n| gold − {} |", points[0].name).unwrap();
    for p in points {
        write!(s, " {} |", Metric::GoldReward.change_cell(&p.gold_change)).unwrap();
    }
    s += "\n| arithmetic right |";
    for p in points {
        write!(s, " {} |", Metric::Helpfulness.cell(&p.arithmetic)).unwrap();
    }
    for m in Metric::ALL.iter().filter(|&&m| m != Metric::GoldReward) {
        write!(s, "\n| {} |", m.name()).unwrap();
        for p in points {
            write!(s, " {} |", m.cell(&p.metric(*m))).unwrap();
        }
    }
    s.push('\n');
    s
}

/// Gold reward against KL to SFT, one marker and 95% interval per method.
pub fn chart(points: &[Point]) -> LineChart {
    let mut c = LineChart::new("Gold reward against KL to the SFT model")
        .x_label("KL to SFT (nats per response)")
        .y_label("gold reward (held-out prompts)")
        .legend_at(SeriesLabelPosition::UpperMiddle)
        .size(720, 440);
    for p in points {
        let g = p.metric(Metric::GoldReward);
        c = c.series_with_errors(p.name.clone(), vec![(p.kl, g.value, g.low, g.high)]);
    }
    c
}
