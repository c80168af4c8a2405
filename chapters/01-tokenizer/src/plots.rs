//! The chapter's figures. Each function returns a chart: `.save_svg(path)` writes it, and
//! as the last expression of a notebook cell it shows inline.

use plot::LineChart;
use plot::plotters::prelude::SeriesLabelPosition;

/// Bytes per token against vocabulary size: the library's sweep (held-out text) and the
/// hand-written BPE's curve as it learns merge after merge (training text).
pub fn compression_chart(sweep: &[(usize, f64)], hand_curve: &[(usize, f64)]) -> LineChart {
    let pts = |xs: &[(usize, f64)]| xs.iter().map(|&(v, b)| (v as f64, b)).collect();
    LineChart::new("Compression grows with the vocabulary")
        .legend_at(SeriesLabelPosition::LowerRight)
        .x_label("vocabulary size (tokens)")
        .y_label("bytes per token")
        .series("tokenizers, held-out text", pts(sweep))
        .series("hand-written BPE, training text", pts(hand_curve))
}

/// Token count against frequency rank, log–log, with Zipf's law count(r) ∝ 1/r through
/// the most frequent token for comparison.
pub fn zipf_chart(freqs: &[(u32, usize)]) -> LineChart {
    let ranked: Vec<(f64, f64)> = freqs
        .iter()
        .enumerate()
        .map(|(r, &(_, n))| ((r + 1) as f64, n as f64))
        .collect();
    let top = ranked.first().map_or(1.0, |p| p.1);
    let zipf = ranked.iter().map(|&(r, _)| (r, top / r)).collect();
    LineChart::new("Token frequency against rank (Zipf)")
        .x_label("rank")
        .y_label("count")
        .log_x()
        .log_y()
        .series("tokens of the corpus", ranked)
        .series("Zipf: count ∝ 1 / rank", zipf)
}
