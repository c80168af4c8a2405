//! Grouped bar charts: for each category, one bar per group (e.g. per model stage).

use crate::{AXIS_FONT, Chart, DrawResult, LABEL_FONT, TITLE_FONT, colour, draw_legend, tick};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Bars of `groups[g].1[c]` for category `c`, grouped side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    pub groups: Vec<(String, Vec<f64>)>,
    pub size: (u32, u32),
}

impl BarChart {
    pub fn new(title: impl Into<String>) -> Self {
        BarChart {
            title: title.into(),
            y_label: String::new(),
            categories: Vec::new(),
            groups: Vec::new(),
            size: (640, 400),
        }
    }
    pub fn y_label(mut self, s: impl Into<String>) -> Self {
        self.y_label = s.into();
        self
    }
    pub fn categories<S: Into<String>>(mut self, cats: impl IntoIterator<Item = S>) -> Self {
        self.categories = cats.into_iter().map(Into::into).collect();
        self
    }
    /// Add a group: one value per category.
    pub fn group(mut self, name: impl Into<String>, values: Vec<f64>) -> Self {
        self.groups.push((name.into(), values));
        self
    }
    pub fn size(mut self, w: u32, h: u32) -> Self {
        self.size = (w, h);
        self
    }
}

impl Chart for BarChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult {
        let n = self.categories.len();
        if n == 0 || self.groups.is_empty() {
            return Err(format!(
                "bar chart `{}` needs categories and at least one group",
                self.title
            )
            .into());
        }
        if let Some((g, v)) = self.groups.iter().find(|(_, v)| v.len() != n) {
            return Err(format!(
                "bar chart `{}`: group `{g}` has {} values for {n} categories",
                self.title,
                v.len()
            )
            .into());
        }
        let vals = || {
            self.groups
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .filter(|v| v.is_finite())
        };
        let lo = vals().fold(0f64, f64::min);
        let hi = vals().fold(0f64, f64::max);
        let pad = 0.08 * (hi - lo).max(1e-9);
        let (y0, y1) = (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad);
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, TITLE_FONT)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, y0..y1)?;
        let cats = &self.categories;
        chart
            .configure_mesh()
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&|x| {
                // Label each category at the centre of its slot.
                let i = x.floor();
                if (x - i - 0.5).abs() < 1e-6 && (i as usize) < cats.len() {
                    cats[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_desc(self.y_label.as_str())
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let k = self.groups.len() as f64;
        let width = 0.8 / k;
        for (g, (name, values)) in self.groups.iter().enumerate() {
            let col = colour(g);
            let bars = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(c, &v)| {
                    let x0 = c as f64 + 0.1 + width * g as f64;
                    Rectangle::new([(x0, 0.0f64.max(y0)), (x0 + width * 0.95, v)], col.filled())
                });
            chart
                .draw_series(bars)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], col.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}
