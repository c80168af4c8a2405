//! # The synthetic world
//!
//! Real RLHF data cannot be downloaded here, and a learner gains more from a world whose
//! "human preferences" are known exactly. So the world is generated — seeded and
//! deterministic — with:
//!
//! - [`entities`]: invented towns and people, and a few hundred facts about them;
//! - [`corpus`]: the pretraining "web text" (encyclopedia with rumours, stories,
//!   arithmetic, forum threads with helpful, off-topic, rude and harmful replies);
//! - [`prompts`]: instruction prompts in five families, split train / held-out;
//! - [`demos`]: imperfect demonstrations for supervised fine-tuning;
//! - [`labeler`]: the hidden gold utility u(prompt, response) that plays the human;
//! - [`preference`]: Bradley–Terry comparisons sampled from it;
//! - [`eval`]: the metrics of the capability table.
//!
//! ```
//! use world::{World, WorldConfig};
//! let w = World::generate(&WorldConfig::tiny()).unwrap();
//! let p = &w.prompts.heldout[0];
//! let best = world::demos::ideal_answer(&w.entities, p, &mut world::rng(0, 0));
//! let u = w.utility(p, &world::chat::finished(&best));
//! assert_eq!(u.total, 3.0); // the ideal answer scores 3 in every family
//! ```

pub mod chat;
pub mod corpus;
pub mod demos;
pub mod entities;
pub mod eval;
pub mod labeler;
pub mod phrases;
pub mod preference;
pub mod prompts;
pub mod stats;

mod preset;
pub use preset::Preset;

use anyhow::{Context, Result, ensure};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

// The generators the world is made with, for chapters and notebooks that draw from it.
pub use rand;
pub use rand_chacha;

pub use corpus::{CorpusConfig, DocKind, Document};
pub use demos::{AnswerKind, DemoConfig, Demonstration};
pub use entities::{Entities, Fact, Relation};
pub use eval::{Capabilities, Metric, evaluate};
pub use labeler::{Judgement, LabelerSpec, Utility};
pub use preference::{BradleyTerry, Labeler, Population};
pub use prompts::{Family, Prompt, PromptSplit, Target};

/// Everything that shapes a world. Same config, same world, byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    pub seed: u64,
    pub n_towns: usize,
    pub n_people: usize,
    /// Fraction of each prompt family's items held out for evaluation.
    pub heldout_fraction: f64,
    pub corpus: CorpusConfig,
    pub demos: DemoConfig,
    /// The hidden labeler's choices of specification.
    #[serde(default)]
    pub labeler: LabelerSpec,
}

impl WorldConfig {
    /// The default world: 30 towns and 60 people (300 facts), a 3 MB corpus.
    pub fn small() -> Self {
        WorldConfig {
            seed: 1234,
            n_towns: 30,
            n_people: 60,
            heldout_fraction: 0.2,
            corpus: CorpusConfig::default(),
            demos: DemoConfig::default(),
            labeler: LabelerSpec::default(),
        }
    }

    /// A world for fast tests: 12 towns, 24 people (120 facts), a 200 KB corpus.
    pub fn tiny() -> Self {
        WorldConfig {
            n_towns: 12,
            n_people: 24,
            corpus: CorpusConfig {
                bytes: 200_000,
                ..CorpusConfig::default()
            },
            ..Self::small()
        }
    }

    /// The GPU pipeline's world: the `small` world (same facts, prompts and
    /// demonstrations, so its capability table compares with the CPU run's), with a corpus
    /// four times larger for a model a hundred times larger.
    pub fn gpu() -> Self {
        WorldConfig {
            corpus: CorpusConfig {
                bytes: 12_000_000,
                ..CorpusConfig::default()
            },
            ..Self::small()
        }
    }

    /// The world of a run's preset.
    pub fn preset(p: Preset) -> Self {
        match p {
            Preset::Tiny => Self::tiny(),
            Preset::Small => Self::small(),
            Preset::Gpu => Self::gpu(),
        }
    }

    /// Check every field is in range; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let max_towns = entities::all_town_names().len() / 2 - 1;
        let max_people = entities::all_person_names().len() / 2 - 1;
        ensure!(
            (2..=max_towns).contains(&self.n_towns),
            "n_towns = {} must be in 2..={max_towns}",
            self.n_towns
        );
        ensure!(
            (2..=max_people).contains(&self.n_people),
            "n_people = {} must be in 2..={max_people}",
            self.n_people
        );
        let frac = |name: &str, x: f64| -> Result<()> {
            ensure!(
                (0.0..=1.0).contains(&x),
                "{name} = {x} must be a fraction in [0, 1]"
            );
            Ok(())
        };
        frac("heldout_fraction", self.heldout_fraction)?;
        ensure!(
            self.heldout_fraction < 1.0,
            "heldout_fraction = 1 leaves no training prompts"
        );
        frac("corpus.rumour_fraction", self.corpus.rumour_fraction)?;
        frac("demos.coverage", self.demos.coverage)?;
        frac("demos.verbose_fraction", self.demos.verbose_fraction)?;
        frac("demos.wrong_fraction", self.demos.wrong_fraction)?;
        frac(
            "demos.verbose_fraction + demos.wrong_fraction",
            self.demos.verbose_fraction + self.demos.wrong_fraction,
        )?;
        ensure!(self.corpus.bytes > 0, "corpus.bytes must be positive");
        ensure!(
            self.labeler.off_topic_penalty.is_finite() && self.labeler.off_topic_penalty >= 0.0,
            "labeler.off_topic_penalty = {} must be a number ≥ 0",
            self.labeler.off_topic_penalty
        );
        ensure!(
            self.corpus.mix.iter().all(|w| w.is_finite() && *w >= 0.0)
                && self.corpus.mix.iter().sum::<f64>() > 0.0,
            "corpus.mix = {:?} must be non-negative weights with a positive sum",
            self.corpus.mix
        );
        Ok(())
    }
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self::small()
    }
}

/// A seeded generator for one purpose: `stream` keeps the parts of the world independent,
/// so a bigger corpus does not change the prompts.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

const STREAM_ENTITIES: u64 = 1;
const STREAM_PROMPTS: u64 = 2;
const STREAM_DEMOS: u64 = 3;
const STREAM_CORPUS: u64 = 4;

/// A generated world (the corpus is made on demand by [`World::corpus`]: it is large).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct World {
    pub config: WorldConfig,
    pub entities: Entities,
    pub prompts: PromptSplit,
    pub demonstrations: Vec<Demonstration>,
}

impl World {
    pub fn generate(config: &WorldConfig) -> Result<World> {
        config.validate().context("invalid world config")?;
        let entities = Entities::generate(
            config.n_towns,
            config.n_people,
            &mut rng(config.seed, STREAM_ENTITIES),
        );
        let prompts = prompts::generate(
            &entities,
            config.heldout_fraction,
            &mut rng(config.seed, STREAM_PROMPTS),
        );
        let demonstrations = demos::generate(
            &entities,
            &prompts.train,
            &config.demos,
            &mut rng(config.seed, STREAM_DEMOS),
        );
        Ok(World {
            config: config.clone(),
            entities,
            prompts,
            demonstrations,
        })
    }

    /// All facts of the world.
    pub fn facts(&self) -> Vec<Fact> {
        self.entities.facts()
    }

    /// The pretraining corpus. `progress(bytes_so_far)` is called after each document.
    pub fn corpus(&self, progress: impl FnMut(usize)) -> Vec<Document> {
        corpus::generate(
            &self.entities,
            &self.config.corpus,
            &mut rng(self.config.seed, STREAM_CORPUS),
            progress,
        )
    }

    /// The gold utility of `response` to `prompt`.
    pub fn utility(&self, prompt: &Prompt, response: &str) -> Utility {
        self.judge(prompt, response).utility
    }

    /// The gold labeler's full verdict.
    pub fn judge(&self, prompt: &Prompt, response: &str) -> Judgement {
        labeler::judge_with(&self.config.labeler, &self.entities, prompt, response)
    }

    /// Capabilities of a model from its responses to `prompts`.
    pub fn evaluate(&self, prompts: &[Prompt], responses: &[String]) -> Result<Capabilities> {
        eval::evaluate(&self.config.labeler, &self.entities, prompts, responses)
    }

    /// Write the world into `dir`: `world.json` (config and entities), `facts.tsv`,
    /// `prompts_train.jsonl`, `prompts_heldout.jsonl`, `demonstrations.jsonl`, and the
    /// corpus `corpus.txt` (documents separated by `<|endoftext|>` lines). Every file is
    /// written atomically; `corpus.txt` last, so its presence means the stage finished.
    pub fn write_to(&self, dir: &Path, documents: &[Document]) -> Result<()> {
        files::ensure_dir(dir, "world output")?;
        files::write_string_atomic(
            &dir.join("world.json"),
            &serde_json::to_string_pretty(self)?,
        )?;
        let mut tsv = String::from("subject\trelation\tobject\n");
        for f in self.facts() {
            tsv += &format!("{}\t{:?}\t{}\n", f.subject, f.relation, f.object);
        }
        files::write_string_atomic(&dir.join("facts.tsv"), &tsv)?;
        files::write_string_atomic(
            &dir.join("prompts_train.jsonl"),
            &jsonl(&self.prompts.train)?,
        )?;
        files::write_string_atomic(
            &dir.join("prompts_heldout.jsonl"),
            &jsonl(&self.prompts.heldout)?,
        )?;
        files::write_string_atomic(
            &dir.join("demonstrations.jsonl"),
            &jsonl(&self.demonstrations)?,
        )?;
        files::write_string_atomic(&dir.join("samples.md"), &self.samples_markdown(documents))?;
        files::write_string_atomic(&dir.join(CORPUS_FILE), &corpus_text(documents))?;
        Ok(())
    }

    /// A page to read: one document of each kind, and for each prompt family a few
    /// demonstrations with the gold utility of each.
    pub fn samples_markdown(&self, documents: &[Document]) -> String {
        let mut s = String::from("### A document of each kind\n\n");
        for kind in DocKind::ALL {
            if let Some(d) = documents.iter().find(|d| d.kind == kind) {
                s += &format!("*{kind:?}*\n\n```text\n{}\n```\n\n", d.text);
            }
        }
        s += "### Demonstrations, as the labeler sees them\n\n| family | prompt | demonstration | quality | u |\n|---|---|---|---|---|\n";
        let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
        for fam in Family::ALL {
            let qualities = [
                demos::Quality::Ideal,
                demos::Quality::Verbose,
                demos::Quality::Wrong,
            ];
            for q in qualities {
                let Some(d) = self
                    .demonstrations
                    .iter()
                    .find(|d| d.prompt.family == fam && d.quality == q)
                else {
                    continue;
                };
                let u = self.utility(&d.prompt, &d.response).total;
                s += &format!(
                    "| {} | {} | `{}` | {:?} | {u:.1} |\n",
                    fam.name(),
                    cell(&d.prompt.text),
                    cell(&d.response),
                    d.quality
                );
            }
        }
        s
    }

    /// Read a world written by [`World::write_to`] (without its corpus).
    pub fn read_from(dir: &Path) -> Result<World> {
        let path = dir.join("world.json");
        let text = files::read_string(&path, "world file")?;
        serde_json::from_str(&text)
            .with_context(|| format!("world file `{}` is not a valid world", path.display()))
    }
}

/// The corpus's file name in a world directory.
pub const CORPUS_FILE: &str = "corpus.txt";

/// The corpus as one text: every document followed by a line `<|endoftext|>`.
pub fn corpus_text(documents: &[Document]) -> String {
    let mut s = String::new();
    for d in documents {
        s.push_str(&d.text);
        s.push('\n');
        s.push_str(chat::ENDOFTEXT);
        s.push('\n');
    }
    s
}

/// The corpus file `path` (as `rlhf world` writes it), checked to hold at least one
/// document; [`split_corpus`] cuts it into documents.
pub fn read_corpus(path: &Path) -> Result<String> {
    let text = files::read_string(path, "corpus")?;
    ensure!(
        !split_corpus(&text).is_empty(),
        "corpus `{}` holds no documents",
        path.display()
    );
    Ok(text)
}

/// Split a corpus text (as written by [`corpus_text`]) back into document texts.
pub fn split_corpus(text: &str) -> Vec<&str> {
    text.split(chat::ENDOFTEXT)
        .map(|d| d.trim_matches('\n'))
        .filter(|d| !d.is_empty())
        .collect()
}

fn jsonl<T: Serialize>(items: &[T]) -> Result<String> {
    let mut s = String::new();
    for it in items {
        s += &serde_json::to_string(it)?;
        s.push('\n');
    }
    Ok(s)
}
