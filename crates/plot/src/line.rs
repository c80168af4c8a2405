//! Line charts: several named series, optionally on log axes.

use crate::{
    AXIS_FONT, Chart, DrawResult, LABEL_FONT, TITLE_FONT, colour, draw_legend, padded_range, tick,
};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One named line: (x, y) points in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// An interval (low, high) of y at each point, drawn as a vertical error bar; empty: none.
    pub errors: Vec<(f64, f64)>,
}

/// A line chart. Non-finite points (and, on a log axis, non-positive ones) are skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_x: bool,
    pub log_y: bool,
    pub size: (u32, u32),
    /// Where the legend goes (upper right unless told).
    pub legend: SeriesLabelPosition,
    /// Values of y the axis must reach besides the points' (room for the legend).
    pub y_include: Vec<f64>,
}

impl LineChart {
    pub fn new(title: impl Into<String>) -> Self {
        LineChart {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            series: Vec::new(),
            log_x: false,
            log_y: false,
            size: (640, 400),
            legend: SeriesLabelPosition::UpperRight,
            y_include: Vec::new(),
        }
    }
    pub fn x_label(mut self, s: impl Into<String>) -> Self {
        self.x_label = s.into();
        self
    }
    pub fn y_label(mut self, s: impl Into<String>) -> Self {
        self.y_label = s.into();
        self
    }
    /// Add a series.
    pub fn series(mut self, name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series {
            name: name.into(),
            points,
            errors: Vec::new(),
        });
        self
    }
    /// Add a series whose points carry intervals of y, (x, y, low, high): a marker at each
    /// point, a vertical bar from low to high (where the y axis is linear).
    pub fn series_with_errors(
        mut self,
        name: impl Into<String>,
        points: Vec<(f64, f64, f64, f64)>,
    ) -> Self {
        self.series.push(Series {
            name: name.into(),
            points: points.iter().map(|p| (p.0, p.1)).collect(),
            errors: points.iter().map(|p| (p.2, p.3)).collect(),
        });
        self
    }
    /// Plot x on a log10 axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }
    /// Plot y on a log10 axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }
    /// Put the legend somewhere else, e.g. `SeriesLabelPosition::LowerRight`.
    pub fn legend_at(mut self, pos: SeriesLabelPosition) -> Self {
        self.legend = pos;
        self
    }
    pub fn size(mut self, w: u32, h: u32) -> Self {
        self.size = (w, h);
        self
    }
    /// Make the y axis reach `y` too (e.g. to leave the legend an empty corner).
    pub fn y_include(mut self, y: f64) -> Self {
        self.y_include.push(y);
        self
    }

    /// A point in plotting coordinates: log10 where the axis is logarithmic, `None` when it
    /// cannot be drawn.
    fn project(&self, (x, y): (f64, f64)) -> Option<(f64, f64)> {
        let t = |v: f64, log: bool| match log {
            true if v > 0.0 => Some(v.log10()),
            true => None,
            false => Some(v),
        };
        let p = (t(x, self.log_x)?, t(y, self.log_y)?);
        (p.0.is_finite() && p.1.is_finite()).then_some(p)
    }
}

impl Chart for LineChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult {
        let lines: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| s.points.iter().filter_map(|&p| self.project(p)).collect())
            .collect();
        let bars = self.error_bars();
        let all = || lines.iter().flatten();
        let (x0, x1) = padded_range(all().map(|p| p.0))
            .ok_or(format!("line chart `{}` has no point to draw", self.title))?;
        let bar_ends = bars.iter().flatten().flat_map(|b| [b.2, b.3]);
        let extra = self
            .y_include
            .iter()
            .filter_map(|&y| self.project((1.0, y)).map(|p| p.1));
        let (y0, y1) =
            padded_range(all().map(|p| p.1).chain(bar_ends).chain(extra)).ok_or("no point")?;
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, TITLE_FONT)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let (log_x, log_y) = (self.log_x, self.log_y);
        let x_fmt = move |v: &f64| {
            if log_x {
                log_tick(*v, x1 - x0)
            } else {
                tick(*v)
            }
        };
        let y_fmt = move |v: &f64| {
            if log_y {
                log_tick(*v, y1 - y0)
            } else {
                tick(*v)
            }
        };
        chart
            .configure_mesh()
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .x_desc(axis(&self.x_label, log_x))
            .y_desc(axis(&self.y_label, log_y))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, (s, pts)) in self.series.iter().zip(&lines).enumerate() {
            let c = colour(i);
            // A lone point draws no line: mark every point of short series, and of series
            // with intervals.
            if pts.len() <= 2 || !s.errors.is_empty() {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            }
            chart.draw_series(bars[i].iter().map(|&(x, y, lo, hi)| {
                ErrorBar::new_vertical(x, lo, y, hi, c.stroke_width(2), 8)
            }))?;
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        if self.series.len() > 1 || self.series.iter().any(|s| !s.name.is_empty()) {
            draw_legend(&mut chart, self.legend.clone())?;
        }
        Ok(())
    }
}

impl LineChart {
    /// Error bars, where y is linear (a log x axis moves only where they stand): (x, y,
    /// low, high) per point of each series, in plotting coordinates.
    fn error_bars(&self) -> Vec<Vec<(f64, f64, f64, f64)>> {
        self.series
            .iter()
            .map(|s| match self.log_y {
                true => Vec::new(),
                false => s
                    .points
                    .iter()
                    .zip(&s.errors)
                    .filter(|(_, e)| e.0.is_finite() && e.1.is_finite())
                    .filter_map(|(&p, e)| self.project(p).map(|(x, y)| (x, y, e.0, e.1)))
                    .collect(),
            })
            .collect()
    }
}

/// A tick on a log axis at log₁₀ value `v`; on an axis spanning two decades or more
/// (`span`), only the powers of ten are labelled.
fn log_tick(v: f64, span: f64) -> String {
    if span >= 2.0 && (v - v.round()).abs() > 1e-6 {
        String::new()
    } else {
        tick(10f64.powf(v))
    }
}

/// An axis's description, saying when its scale is logarithmic.
fn axis(label: &str, log: bool) -> String {
    if log {
        format!("{label} (log scale)")
    } else {
        label.to_string()
    }
}
