//! Histograms: one or several overlaid distributions on shared bins.

use crate::{
    AXIS_FONT, Chart, DrawResult, LABEL_FONT, TITLE_FONT, colour, draw_legend, padded_range, tick,
};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Overlaid histograms of several samples, on `bins` equal-width bins spanning all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub series: Vec<(String, Vec<f64>)>,
    pub bins: usize,
    pub size: (u32, u32),
}

impl Histogram {
    pub fn new(title: impl Into<String>) -> Self {
        Histogram {
            title: title.into(),
            x_label: String::new(),
            series: Vec::new(),
            bins: 30,
            size: (640, 400),
        }
    }
    pub fn x_label(mut self, s: impl Into<String>) -> Self {
        self.x_label = s.into();
        self
    }
    pub fn bins(mut self, n: usize) -> Self {
        self.bins = n.max(1);
        self
    }
    /// Add a sample; non-finite values are skipped.
    pub fn series(mut self, name: impl Into<String>, values: Vec<f64>) -> Self {
        self.series.push((name.into(), values));
        self
    }
    pub fn size(mut self, w: u32, h: u32) -> Self {
        self.size = (w, h);
        self
    }

    /// Bin edges and, per series, the count in each bin.
    pub fn counts(&self) -> Option<(Vec<f64>, Vec<Vec<usize>>)> {
        let finite = || {
            self.series
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .filter(|v| v.is_finite())
        };
        let (lo, hi) = padded_range(finite())?;
        let width = (hi - lo) / self.bins as f64;
        let edges = (0..=self.bins).map(|i| lo + width * i as f64).collect();
        let counts = self
            .series
            .iter()
            .map(|(_, vs)| {
                let mut c = vec![0; self.bins];
                for v in vs.iter().filter(|v| v.is_finite()) {
                    c[(((v - lo) / width) as usize).min(self.bins - 1)] += 1;
                }
                c
            })
            .collect();
        Some((edges, counts))
    }
}

impl Chart for Histogram {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult {
        let (edges, counts) = self
            .counts()
            .ok_or(format!("histogram `{}` has no finite value", self.title))?;
        let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, TITLE_FONT)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(edges[0]..edges[self.bins], 0f64..top)?;
        chart
            .configure_mesh()
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .x_desc(self.x_label.as_str())
            .y_desc("count")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let alpha = if self.series.len() > 1 { 0.45 } else { 0.8 };
        for (i, ((name, _), c)) in self.series.iter().zip(&counts).enumerate() {
            let col = colour(i);
            let bars = c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, n)| {
                Rectangle::new(
                    [(edges[b], 0.0), (edges[b + 1], *n as f64)],
                    col.mix(alpha).filled(),
                )
            });
            chart
                .draw_series(bars)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], col.mix(alpha).filled())
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}
