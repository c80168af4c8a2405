//! One name for the size of a run, shared by every stage's configuration.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The size of a run. Every stage's configuration has one preset of each size (`Config::preset`),
/// so one `--preset` sets them all:
///
/// - `tiny`: seconds, for tests and a first look;
/// - `small`: the real thing on a laptop CPU (the default pipeline);
/// - `gpu`: GPT-2's width and depth, for a CUDA GPU (chapter 9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Tiny,
    #[default]
    Small,
    Gpu,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Tiny, Preset::Small, Preset::Gpu];

    /// The configuration of a study that runs on a CPU only (chapters 7 and 8): `tiny()` or
    /// `small()`; `gpu` is an error naming `what` (the GPU run ends at PPO, chapter 9).
    pub fn tiny_or_small<T>(
        self,
        what: &str,
        tiny: impl FnOnce() -> T,
        small: impl FnOnce() -> T,
    ) -> Result<T> {
        match self {
            Preset::Tiny => Ok(tiny()),
            Preset::Small => Ok(small()),
            Preset::Gpu => bail!(
                "{what}: no `gpu` preset (the GPU run ends at PPO, chapter 9); expected `tiny` or `small`"
            ),
        }
    }

    /// The name on the command line and in reports: `tiny`, `small` or `gpu`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Gpu => "gpu",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = anyhow::Error;

    /// `"small".parse::<Preset>()`; an unknown name is an error that lists the known ones.
    fn from_str(s: &str) -> Result<Self> {
        match Preset::ALL.into_iter().find(|p| p.name() == s) {
            Some(p) => Ok(p),
            None => bail!("unknown preset `{s}`, expected `tiny`, `small` or `gpu`"),
        }
    }
}
