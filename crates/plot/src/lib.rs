//! # Charts for the book, the notebooks and the runs
//!
//! Four kinds of chart — [`LineChart`], [`Histogram`], [`Heatmap`], [`BarChart`] — each
//! drawn by one function on plotters' SVG backend. The same drawing writes an SVG file
//! (for runs and the book) and shows inline in an evcxr notebook (the last expression of
//! a cell), so a figure in the book is exactly what the notebook shows.
//!
//! ```
//! use plot::{Chart, LineChart};
//! let chart = LineChart::new("loss")
//!     .x_label("step")
//!     .y_label("nats")
//!     .series("train", vec![(0.0, 3.0), (1.0, 2.0), (2.0, 1.5)]);
//! let svg = chart.to_svg().unwrap();
//! assert!(svg.contains("train") && svg.contains("nats"));
//! ```
//!
//! SVG text needs no system fonts: labels are written as `<text>` elements and the
//! browser renders them.

mod bar;
mod heatmap;
mod histogram;
mod line;

pub use bar::BarChart;
pub use heatmap::Heatmap;
pub use histogram::Histogram;
pub use line::{LineChart, Series};
pub use plotters;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// What drawing code returns (the error type plotters' `evcxr_figure` expects).
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A chart that draws itself on an SVG drawing area.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draw on `root` (the whole figure).
    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult;

    /// The chart's title, for error messages.
    fn title(&self) -> &str;

    /// The chart as an SVG document.
    fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root)
                .map_err(|e| anyhow!("cannot draw chart `{}`: {e}", self.title()))?;
            root.present()
                .map_err(|e| anyhow!("cannot draw chart `{}`: {e}", self.title()))?;
        }
        Ok(svg)
    }

    /// Write the chart to `path` as SVG, atomically.
    fn save_svg(&self, path: &Path) -> Result<()> {
        let svg = self.to_svg()?;
        files::write_string_atomic(path, &svg)
            .with_context(|| format!("cannot save chart `{}`", self.title()))
    }

    /// The chart as an evcxr figure: the same drawing, shown inline in a notebook.
    fn figure(&self) -> plotters::evcxr::SVGWrapper {
        plotters::evcxr::evcxr_figure(self.size(), |root| self.draw(&root))
    }

    /// Called by evcxr when a chart is the last expression of a cell: shows it inline.
    fn evcxr_display(&self) {
        self.figure().evcxr_display()
    }
}

/// Colours for series, in order (Tableau 10: distinct and colour-blind friendly).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Font of chart titles.
pub(crate) const TITLE_FONT: (&str, u32) = ("sans-serif", 20);
/// Font of tick labels and legends.
pub(crate) const LABEL_FONT: (&str, u32) = ("sans-serif", 14);
/// Font of axis descriptions.
pub(crate) const AXIS_FONT: (&str, u32) = ("sans-serif", 15);

/// Draw the legend of the series that have a label, at `pos`, on a light box.
pub(crate) fn draw_legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    pos: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .label_font(LABEL_FONT)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(pos)
        .draw()?;
    Ok(())
}

/// The colour of the `i`-th series.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The range [lo, hi] of `values`, widened a little (and never empty) so that points do
/// not sit on the frame.
pub(crate) fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    let pad = if hi > lo {
        0.04 * (hi - lo)
    } else {
        0.5 * lo.abs().max(1.0)
    };
    Some((lo - pad, hi + pad))
}

/// A short label for a number: `1.5`, `2000`, `3.2e-5`.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    // Ticks are stepped from the axis' start: zero arrives as rounding error (−2.8e-17).
    if a < 1e-12 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn ticks_read_as_a_person_writes_them() {
        assert_eq!(tick(-2.8e-17), "0", "rounding error at zero is zero");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(-0.1), "-0.1");
        assert_eq!(tick(3.0), "3");
        assert_eq!(tick(2.5e-5), "2.5e-5");
    }
}
