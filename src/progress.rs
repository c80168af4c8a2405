//! Progress bars on stderr (hidden when stderr is not a terminal, e.g. in CI logs).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting bytes.
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg:<24} [{bar:30}] {bytes}/{total_bytes} ({elapsed})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A bar counting steps, with a message saying which step is running.
pub fn steps(total: u64) -> ProgressBar {
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{spinner} {msg:<32} [{bar:30}] {pos}/{len} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    )
}
