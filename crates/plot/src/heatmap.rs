//! Heatmaps: a matrix of values as coloured cells (viridis), e.g. attention weights.

use crate::{AXIS_FONT, Chart, DrawResult, LABEL_FONT, TITLE_FONT, tick};
use plotters::coord::Shift;
use plotters::prelude::*;

/// A heatmap of `values[row][col]`; row 0 is drawn at the top, as a matrix is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub title: String,
    pub values: Vec<Vec<f64>>,
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
    pub x_label: String,
    pub y_label: String,
    /// Write each cell's value in it (for small matrices).
    pub annotate: bool,
    pub size: (u32, u32),
}

impl Heatmap {
    pub fn new(title: impl Into<String>, values: Vec<Vec<f64>>) -> Self {
        Heatmap {
            title: title.into(),
            values,
            row_labels: Vec::new(),
            col_labels: Vec::new(),
            x_label: String::new(),
            y_label: String::new(),
            annotate: false,
            size: (560, 520),
        }
    }
    pub fn row_labels(mut self, labels: Vec<String>) -> Self {
        self.row_labels = labels;
        self
    }
    pub fn col_labels(mut self, labels: Vec<String>) -> Self {
        self.col_labels = labels;
        self
    }
    pub fn x_label(mut self, s: impl Into<String>) -> Self {
        self.x_label = s.into();
        self
    }
    pub fn y_label(mut self, s: impl Into<String>) -> Self {
        self.y_label = s.into();
        self
    }
    pub fn annotate(mut self) -> Self {
        self.annotate = true;
        self
    }
    pub fn size(mut self, w: u32, h: u32) -> Self {
        self.size = (w, h);
        self
    }
}

impl Chart for Heatmap {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult {
        let (rows, cols) = self.shape()?;
        let (lo, span) = self.range();
        root.fill(&WHITE)?;
        let (main, bar) = root.split_horizontally(self.size.0.saturating_sub(80));
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, TITLE_FONT)
            .margin(12)
            .x_label_area_size(if self.x_label.is_empty() { 40 } else { 55 })
            .y_label_area_size(if self.y_label.is_empty() { 70 } else { 85 })
            .build_cartesian_2d(0..cols as i32, 0..rows as i32)?;
        let label = |labels: &[String], i: i32, n: usize| {
            if i < 0 || i as usize >= n {
                String::new()
            } else {
                labels.get(i as usize).cloned().unwrap_or(i.to_string())
            }
        };
        // Row r is drawn at y = rows − 1 − r so that row 0 is on top; labels sit at cell centres.
        chart
            .configure_mesh()
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .disable_mesh()
            .x_labels(cols.min(40))
            .y_labels(rows.min(40))
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|x| label(&self.col_labels, *x, cols))
            .y_label_formatter(&|y| label(&self.row_labels, rows as i32 - 1 - *y, rows))
            .x_label_offset(main.dim_in_pixel().0 as i32 / (2 * cols as i32 + 2))
            .y_label_offset(-(main.dim_in_pixel().1 as i32) / (2 * rows as i32 + 2))
            .draw()?;
        let cells = self.values.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, v)| {
                let y = (rows - 1 - r) as i32;
                let fill = if v.is_finite() {
                    ViridisRGB::get_color((v - lo) / span)
                } else {
                    RGBColor(200, 200, 200)
                };
                Rectangle::new([(c as i32, y), (c as i32 + 1, y + 1)], fill.filled())
            })
        });
        chart.draw_series(cells)?;
        if self.annotate {
            let texts = self.values.iter().enumerate().flat_map(|(r, row)| {
                row.iter().enumerate().map(move |(c, v)| {
                    let dark = (v - lo) / span > 0.6;
                    let style =
                        ("sans-serif", 11)
                            .into_font()
                            .color(if dark { &BLACK } else { &WHITE });
                    Text::new(format!("{v:.2}"), (c as i32, (rows - r) as i32), style)
                })
            });
            chart.draw_series(texts)?;
        }
        colour_bar(&bar, lo, span)
    }
}

impl Heatmap {
    /// (rows, columns) of a non-empty rectangular matrix; an error naming the chart otherwise.
    fn shape(&self) -> Result<(usize, usize), Box<dyn std::error::Error>> {
        let rows = self.values.len();
        let cols = self.values.first().map_or(0, |r| r.len());
        if rows == 0 || cols == 0 || self.values.iter().any(|r| r.len() != cols) {
            return Err(format!(
                "heatmap `{}` needs a non-empty rectangular matrix",
                self.title
            )
            .into());
        }
        Ok((rows, cols))
    }

    /// The finite values' lowest, and their span (1 when they are all equal).
    fn range(&self) -> (f64, f64) {
        let finite = || {
            self.values
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
        };
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        (lo, if hi > lo { hi - lo } else { 1.0 })
    }
}

/// A colour bar: the value each colour stands for, from `lo` to `lo + span`.
fn colour_bar(bar: &DrawingArea<SVGBackend<'_>, Shift>, lo: f64, span: f64) -> DrawResult {
    let mut scale = ChartBuilder::on(bar)
        .margin_top(45)
        .margin_bottom(55)
        .margin_right(8)
        .y_label_area_size(46)
        .build_cartesian_2d(0f64..1f64, lo..lo + span)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style(LABEL_FONT)
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    let steps = 64;
    scale.draw_series((0..steps).map(|i| {
        let (a, b) = (
            lo + span * i as f64 / steps as f64,
            lo + span * (i + 1) as f64 / steps as f64,
        );
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            ViridisRGB::get_color(i as f64 / (steps - 1) as f64).filled(),
        )
    }))?;
    Ok(())
}
