//! Each chart writes an SVG that holds its title, labels and series, and the evcxr figure
//! is the same drawing.

use plot::{BarChart, Chart, Heatmap, Histogram, LineChart};

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

/// The texts of the SVG's `<text>` elements, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .map(|t| {
            t.split_once('>')
                .unwrap()
                .1
                .split("</text>")
                .next()
                .unwrap()
                .trim()
                .to_string()
        })
        .collect()
}

/// The `points` of every polyline stroked in `colour` (e.g. series 0's "#1F77B4").
fn lines_in(svg: &str, colour: &str) -> Vec<String> {
    svg.split("<polyline")
        .skip(1)
        .map(|l| l.split("/>").next().unwrap())
        .filter(|l| l.to_uppercase().contains(&format!("STROKE=\"{colour}\"")))
        .map(|l| {
            l.split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn assert_texts(svg: &str, wanted: &[&str]) {
    let have = texts(svg);
    for w in wanted {
        assert!(have.iter().any(|h| h == w), "no text `{w}` in {have:?}");
    }
}

#[test]
fn line_chart_holds_every_series_and_label() {
    let chart = LineChart::new("Loss over training")
        .x_label("step")
        .y_label("cross-entropy")
        .series(
            "train",
            (0..50)
                .map(|i| (i as f64, 3.0 / (1.0 + i as f64)))
                .collect(),
        )
        .series(
            "held-out",
            (0..50)
                .map(|i| (i as f64, 3.2 / (1.0 + i as f64)))
                .collect(),
        );
    let svg = chart.to_svg().unwrap();
    assert_texts(
        &svg,
        &[
            "Loss over training",
            "step",
            "cross-entropy",
            "train",
            "held-out",
        ],
    );
    // Each series is one line in its colour, plus its legend mark.
    assert_eq!(lines_in(&svg, "#1F77B4").len(), 2);
    assert_eq!(lines_in(&svg, "#FF7F0E").len(), 2);
    assert_eq!(lines_in(&svg, "#1F77B4")[0].split_whitespace().count(), 50);
    // The evcxr figure is the same SVG, wrapped for the notebook.
    let fig = format!("{:?}", chart.figure());
    assert!(fig.starts_with("EVCXR_BEGIN_CONTENT text/html") && fig.contains(&svg));
}

#[test]
fn log_axis_labels_are_powers_and_skip_non_positive_points() {
    let chart = LineChart::new("Zipf")
        .x_label("rank")
        .y_label("count")
        .log_x()
        .log_y()
        .series(
            "tokens",
            vec![
                (0.0, 5.0),
                (1.0, 1000.0),
                (10.0, 100.0),
                (100.0, 10.0),
                (1000.0, 1.0),
            ],
        );
    let svg = chart.to_svg().unwrap();
    // Ticks show values, not their logarithms.
    assert_texts(
        &svg,
        &["rank (log scale)", "count (log scale)", "100", "10"],
    );
    // Only points with both coordinates positive are drawn: (0, 5) is skipped.
    assert_eq!(lines_in(&svg, "#1F77B4")[0].split_whitespace().count(), 4);
}

#[test]
fn empty_charts_are_errors_that_name_the_chart() {
    let err = LineChart::new("nothing here")
        .series("a", vec![(f64::NAN, 1.0)])
        .to_svg()
        .unwrap_err();
    assert!(err.to_string().contains("nothing here"), "{err}");
    assert!(Histogram::new("empty hist").to_svg().is_err());
    assert!(
        Heatmap::new("ragged", vec![vec![1.0, 2.0], vec![3.0]])
            .to_svg()
            .unwrap_err()
            .to_string()
            .contains("ragged")
    );
    let err = BarChart::new("bars")
        .categories(["a", "b"])
        .group("g", vec![1.0])
        .to_svg()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`g` has 1 values for 2 categories"),
        "{err}"
    );
}

#[test]
fn histogram_counts_and_draws_each_sample() {
    let chosen: Vec<f64> = (0..100).map(|i| 1.0 + i as f64 / 100.0).collect();
    let rejected: Vec<f64> = (0..60).map(|i| -1.0 + i as f64 / 60.0).collect();
    let h = Histogram::new("Reward scores")
        .x_label("score")
        .bins(20)
        .series("chosen", chosen)
        .series("rejected", rejected);
    let (edges, counts) = h.counts().unwrap();
    assert_eq!(edges.len(), 21);
    assert_eq!(counts[0].iter().sum::<usize>(), 100);
    assert_eq!(counts[1].iter().sum::<usize>(), 60);
    let svg = h.to_svg().unwrap();
    assert_texts(
        &svg,
        &["Reward scores", "score", "count", "chosen", "rejected"],
    );
    let bars = counts.iter().flatten().filter(|c| **c > 0).count();
    // The bars, the two legend swatches, the background and the legend box are rectangles.
    assert!(
        count(&svg, "<rect") >= bars + 2,
        "{} rects for {bars} bars",
        count(&svg, "<rect")
    );
}

#[test]
fn heatmap_draws_one_cell_per_value_with_labels() {
    let values: Vec<Vec<f64>> = (0..4)
        .map(|r| {
            (0..4)
                .map(|c| if c <= r { 1.0 / (r + 1) as f64 } else { 0.0 })
                .collect()
        })
        .collect();
    let labels: Vec<String> = ["The", "flag", "is", "green"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let h = Heatmap::new("Attention, head 0", values)
        .row_labels(labels.clone())
        .col_labels(labels)
        .x_label("key")
        .y_label("query")
        .annotate();
    let svg = h.to_svg().unwrap();
    assert_texts(
        &svg,
        &["Attention, head 0", "flag", "green", "key", "query", "0.33"],
    );
    // 16 cells + 64 colour-bar steps + background rectangles.
    assert!(count(&svg, "<rect") >= 16 + 64);
}

#[test]
fn bar_chart_draws_groups_per_category() {
    let b = BarChart::new("Capabilities")
        .y_label("fraction")
        .categories(["format", "helpful", "harmless"])
        .group("base", vec![0.1, 0.2, 0.0])
        .group("SFT", vec![0.9, 0.5, 0.6]);
    let svg = b.to_svg().unwrap();
    assert_texts(
        &svg,
        &[
            "Capabilities",
            "format",
            "helpful",
            "harmless",
            "base",
            "SFT",
            "fraction",
        ],
    );
}

#[test]
fn save_svg_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.svg");
    LineChart::new("t")
        .series("s", vec![(0.0, 0.0), (1.0, 1.0)])
        .save_svg(&path)
        .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let err = LineChart::new("t")
        .series("s", vec![(0.0, 0.0)])
        .save_svg(&dir.path().join("no/such/dir.svg"));
    assert!(format!("{:#}", err.unwrap_err()).contains("no/such/dir.svg"));
}

#[test]
fn error_bars_span_their_interval_and_widen_the_axis() {
    // One point at y = 1 with the interval [0, 5]: the y axis must reach 5, and the bar is
    // a vertical `<line>` in the series' colour from 0 to 5 (with two caps).
    let svg = LineChart::new("Intervals")
        .series_with_errors("method", vec![(1.0, 1.0, 0.0, 5.0)])
        .series("other", vec![(0.0, 1.0), (2.0, 1.2)])
        .to_svg()
        .unwrap();
    assert!(
        texts(&svg).iter().any(|t| t == "5"),
        "the axis reaches the interval's top"
    );
    let bars = svg
        .split("<line")
        .skip(1)
        .filter(|l| {
            l.split("/>")
                .next()
                .unwrap()
                .to_uppercase()
                .contains("STROKE=\"#1F77B4\"")
        })
        .count();
    assert_eq!(bars, 3, "one vertical line and two caps");
    assert!(count(&svg, "<circle") >= 1, "the point itself is marked");
    // On a log x axis the bar stands at log10(x), the same line and caps.
    let svg = LineChart::new("log x")
        .log_x()
        .series_with_errors("m", vec![(10.0, 1.0, 0.0, 5.0), (1000.0, 2.0, 1.0, 3.0)])
        .to_svg()
        .unwrap();
    assert_eq!(
        count(&svg, "<line") - count(&svg, "opacity=\"0.2\""),
        6,
        "two bars with their caps: {svg}"
    );
    // The y axis reaches a value asked for, beyond the points and bars.
    let svg = LineChart::new("room")
        .series("s", vec![(0.0, 1.0), (1.0, 2.0)])
        .y_include(-40.0)
        .to_svg()
        .unwrap();
    assert!(texts(&svg).iter().any(|t| t == "-40"), "{:?}", texts(&svg));
    // On a log y axis the bars are left out (not drawn wrongly).
    let svg = LineChart::new("log")
        .log_y()
        .series_with_errors("m", vec![(1.0, 1.0, 0.5, 50.0)])
        .to_svg()
        .unwrap();
    assert_eq!(
        count(&svg, "<line") - count(&svg, "opacity=\"0.2\""),
        0,
        "{svg}"
    );
}
