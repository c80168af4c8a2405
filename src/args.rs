//! What the subcommands' flags share: the preset, checks of numbers, and the inputs of the
//! training stages. A bad value is refused by the parser, with the flag's name, before any
//! work starts.

use clap::Args;
use std::path::PathBuf;
pub use world::Preset;

/// A number that must be positive and finite: a learning rate, a temperature, a β.
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        Ok(x) => Err(format!("expected a positive number, got {x}")),
        Err(e) => Err(format!("expected a positive number: {e}")),
    }
}

/// A fraction in (0, 1]: a share of the training prompts.
pub fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        Ok(x) => Err(format!("expected a fraction in (0, 1], got {x}")),
        Err(e) => Err(format!("expected a fraction in (0, 1]: {e}")),
    }
}

/// A count that must be at least 1: steps, iterations, a batch.
pub fn count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        Ok(_) => Err("expected at least 1".into()),
        Err(e) => Err(format!("expected a whole number of at least 1: {e}")),
    }
}

/// What the training stages of chapters 2 and 3 read, and how long they train.
#[derive(Args, Debug, Clone)]
pub struct TrainInputs {
    /// The corpus to train on, as written by `rlhf world`.
    #[arg(long, default_value = "runs/default/world/corpus.txt")]
    pub corpus: PathBuf,
    /// The tokenizer, as written by `rlhf tokenizer`.
    #[arg(long, default_value = "runs/default/tokenizer/tokenizer.json")]
    pub tokenizer: PathBuf,
    /// The size of the run: every stage has one configuration of each size.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// Training steps (default: the preset's).
    #[arg(long, value_parser = count)]
    pub steps: Option<usize>,
}

/// A finished pipeline run that a later study starts from, and where the study writes.
#[derive(Args, Debug, Clone)]
pub struct FromRun {
    /// A finished pipeline run (`rlhf pipeline`): its world, models and comparisons.
    #[arg(long, default_value = "runs/default")]
    pub run: PathBuf,
    /// Output directory (default: <run>/<command>: overopt, dpo or ipo, grpo, frontier or
    /// dataset).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl FromRun {
    /// `--out`, or `<run>/<default>`.
    pub fn out_or(&self, default: &str) -> PathBuf {
        self.out.clone().unwrap_or_else(|| self.run.join(default))
    }
}

/// A number that must be finite and at least 0: a coefficient that 0 switches off.
pub fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        Ok(x) => Err(format!("expected a number ≥ 0, got {x}")),
        Err(e) => Err(format!("expected a number ≥ 0: {e}")),
    }
}
