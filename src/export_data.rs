//! `rlhf export-data`: the world's data and a run's comparisons as a Hugging Face dataset
//! directory, in the formats TRL, OpenRLHF and verl read — so that a learner who moves to
//! the Python ecosystem takes the same data along, and our losses can be checked against
//! theirs on the same rows.
//!
//! ```text
//! <out>/README.md              the dataset card; its YAML `configs` name every subset
//! <out>/sft/{train,validation,test}.jsonl          {"messages": [user, assistant], …}
//! <out>/preference/{train,test}.jsonl              {"prompt": [user], "chosen": [assistant],
//!                                                   "rejected": [assistant], …}
//! <out>/prompts/{train,test}.jsonl                 {"prompt": [user], "reference", …}
//! ```
//!
//! `datasets.load_dataset(out, "sft")` (or `"preference"`, `"prompts"`) opens each subset
//! with no code. Messages carry the answer without `<|end|>`: the chat template
//! (`tokenizer_config.json` of every exported checkpoint) adds it.

use crate::args::FromRun;
use crate::run_dir::RunDir;
use anyhow::{Context, Result, ensure};
use clap::Args;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use world::chat::{END, answer_part};
use world::{Prompt, World};

fn user(text: &str) -> Value {
    json!({ "role": "user", "content": text })
}

fn assistant(text: &str) -> Value {
    json!({ "role": "assistant", "content": text })
}

/// A response as a message: its answer, and whether the model finished it (`<|end|>`). An
/// unfinished response (it hit the length limit) cannot be told apart in a message; the
/// `*_finished` columns keep that.
fn response_message(response: &str) -> (Value, bool) {
    (assistant(answer_part(response)), response.contains(END))
}

/// The one answer the labeler rates highest for a prompt where it is a fixed string (a
/// sum's number, a fact's object), for rule-based rewards (verl's `ground_truth`); `null`
/// for kind words, which have no single right string.
fn ground_truth(p: &Prompt) -> Value {
    match &p.target {
        world::prompts::Target::Fact { object, .. } => json!(object),
        world::prompts::Target::Arithmetic { answer, .. } => json!(answer.to_string()),
        world::prompts::Target::Harmful { .. } => json!("refusal"),
        world::prompts::Target::Unknown { .. } => json!("I don't know"),
        world::prompts::Target::Kindness { .. } => Value::Null,
    }
}

fn reference(w: &World, p: &Prompt) -> String {
    // The ideal answer draws a kind word at random: a fixed stream, the same on every export.
    world::demos::ideal_answer(&w.entities, p, &mut world::rng(0, 0))
}

fn prompt_row(w: &World, p: &Prompt) -> Value {
    json!({
        "prompt": [user(&p.text)],
        "family": p.family.name(),
        "reference": reference(w, p),
        "ground_truth": ground_truth(p),
        "target": serde_json::to_string(&p.target).expect("a target serialises"),
    })
}

fn jsonl(rows: &[Value]) -> String {
    let mut s = String::new();
    for r in rows {
        s += &r.to_string();
        s.push('\n');
    }
    s
}

/// The comparisons a reward stage wrote (`rlhf reward`), as preference rows.
fn preference_rows(prompts: &[Prompt], path: &Path) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for p in ch05_reward::read_pairs(path, prompts.len())? {
        let prompt = &prompts[p.prompt];
        let (chosen, chosen_finished) = response_message(&p.chosen);
        let (rejected, rejected_finished) = response_message(&p.rejected);
        rows.push(json!({
            "prompt": [user(&prompt.text)],
            "chosen": [chosen],
            "rejected": [rejected],
            "family": prompt.family.name(),
            "chosen_finished": chosen_finished,
            "rejected_finished": rejected_finished,
            "u_chosen": p.u_chosen,
            "u_rejected": p.u_rejected,
            "p_chosen": p.p_chosen,
            "agreement": p.agreement,
            "labeler": p.labeler,
        }));
    }
    Ok(rows)
}

#[derive(Args, Debug, Clone)]
pub struct ExportDataArgs {
    /// A pipeline run (its world, and the SFT split and reward comparisons where those
    /// stages ran), and the dataset directory to write (default: <run>/dataset; replaced
    /// only once complete).
    #[command(flatten)]
    pub from: FromRun,
}

/// `rlhf export-data`: write the world of `run` (and its SFT split and reward comparisons,
/// where those stages ran) as a Hugging Face dataset directory `out`, replaced only once
/// complete.
pub fn export_data_command(a: &ExportDataArgs) -> Result<()> {
    let (run, out) = (a.from.run.as_path(), &a.from.out_or("dataset"));
    let world_dir = RunDir::new(run).world();
    ensure!(
        world_dir.join("world.json").is_file(),
        "--run `{}` has no world (`{}`): run `rlhf world` or the pipeline first",
        run.display(),
        world_dir.join("world.json").display()
    );
    let w = World::read_from(&world_dir)?;

    let held = sft_split(run)?;
    let (sft_train, sft_val, sft_test) = sft_rows(&w, held.as_deref());
    let prompts_train: Vec<Value> = w.prompts.train.iter().map(|p| prompt_row(&w, p)).collect();
    let prompts_test: Vec<Value> = w
        .prompts
        .heldout
        .iter()
        .map(|p| prompt_row(&w, p))
        .collect();
    let reward = RunDir::new(run).stage("reward");
    let prefs = preference_subset(&reward, &w)?;

    // Every file of the dataset: (subset, split, its rows as JSON lines).
    let mut parts: Vec<(&str, &str, &[Value])> = vec![("sft", "train", &sft_train)];
    if held.is_some() {
        parts.push(("sft", "validation", &sft_val));
    }
    parts.push(("sft", "test", &sft_test));
    if let Some((t, h, _)) = &prefs {
        parts.push(("preference", "train", t));
        parts.push(("preference", "test", h));
    }
    parts.push(("prompts", "train", &prompts_train));
    parts.push(("prompts", "test", &prompts_test));
    let files: Vec<Split<'static>> = parts
        .into_iter()
        .map(|(subset, split, rows)| Split {
            subset,
            split,
            rows: rows.len(),
            text: jsonl(rows),
        })
        .collect();
    let card = card(&w, &files, prefs.as_ref().map(|p| &p.2), held.is_some());

    files::write_dir_atomic(out, |dir| {
        for f in &files {
            files::ensure_dir(&dir.join(f.subset), "dataset subset")?;
            files::write_string_atomic(&dir.join(f.path()), &f.text)?;
        }
        files::write_string_atomic(&dir.join("README.md"), &card)
    })
    .context("--out")?;
    let rows: Vec<(&str, &str, usize)> =
        files.iter().map(|f| (f.subset, f.split, f.rows)).collect();
    for (sub, split, n) in &rows {
        println!("export-data: {sub}/{split}: {n} rows");
    }
    if prefs.is_none() {
        println!(
            "export-data: no preference subset: `{}` has no comparisons (run `rlhf reward`)",
            reward.display()
        );
    }
    println!(
        "export-data → {} (datasets.load_dataset(DIR, \"sft\"))",
        out.display()
    );
    Ok(())
}

/// SFT: which demonstrations chapter 4 kept aside (`sft_report.json`), when the stage ran.
fn sft_split(run: &Path) -> Result<Option<Vec<usize>>> {
    let sft_report = RunDir::new(run).stage("sft").join("sft_report.json");
    if !sft_report.is_file() {
        return Ok(None);
    }
    // Only the split is read (the report's metrics may hold NaN, written as null).
    let r: Value = serde_json::from_str(&files::read_string(&sft_report, "SFT report")?)
        .with_context(|| format!("`{}` is not JSON", sft_report.display()))?;
    let held: Vec<usize> = serde_json::from_value(r["heldout_demonstrations"].clone())
        .with_context(|| {
            format!(
                "`{}` has no list of held-out demonstrations: an SFT stage of an older build? \
                 Run `rlhf sft` again",
                sft_report.display()
            )
        })?;
    Ok(Some(held))
}

/// The SFT subset's rows: the demonstrations, split as chapter 4 split them (all in
/// train when `held` is `None`), and the held-out prompts' reference answers as test.
fn sft_rows(w: &World, held: Option<&[usize]>) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let demo_row = |d: &world::demos::Demonstration| {
        json!({
            "messages": [user(&d.prompt.text), assistant(answer_part(&d.response))],
            "family": d.prompt.family.name(),
            "quality": format!("{:?}", d.quality).to_lowercase(),
            "gold_utility": w.utility(&d.prompt, &d.response).total,
        })
    };
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (i, d) in w.demonstrations.iter().enumerate() {
        match held {
            Some(h) if h.binary_search(&i).is_ok() => val.push(demo_row(d)),
            _ => train.push(demo_row(d)),
        }
    }
    let test: Vec<Value> = w
        .prompts
        .heldout
        .iter()
        .map(|p| {
            let r = world::chat::finished(&reference(w, p));
            json!({
                "messages": [user(&p.text), assistant(answer_part(&r))],
                "family": p.family.name(),
                "quality": "ideal",
                "gold_utility": w.utility(p, &r).total,
            })
        })
        .collect();
    (train, val, test)
}

/// Preferences: the reward stage's own comparisons (train and held out) and its labeler's
/// description, if the stage ran.
#[allow(clippy::type_complexity)]
fn preference_subset(reward: &Path, w: &World) -> Result<Option<(Vec<Value>, Vec<Value>, Value)>> {
    let (train_pairs, heldout_pairs) = (
        reward.join(ch05_reward::TRAIN_PAIRS),
        reward.join(ch05_reward::HELDOUT_PAIRS),
    );
    if !(train_pairs.is_file() && heldout_pairs.is_file()) {
        return Ok(None);
    }
    let report = reward.join("reward_report.json");
    let labeler: Value =
        serde_json::from_str::<Value>(&files::read_string(&report, "reward report")?)
            .with_context(|| format!("`{}` is not JSON", report.display()))?
            .get("labeler")
            .cloned()
            .unwrap_or(Value::Null);
    Ok(Some((
        preference_rows(&w.prompts.train, &train_pairs)?,
        preference_rows(&w.prompts.heldout, &heldout_pairs)?,
        labeler,
    )))
}

/// One file of the dataset.
struct Split<'a> {
    subset: &'a str,
    split: &'a str,
    rows: usize,
    text: String,
}

impl Split<'_> {
    fn path(&self) -> String {
        format!("{}/{}.jsonl", self.subset, self.split)
    }
}

/// The dataset card: YAML `configs` (so that `load_dataset(dir, name)` finds every
/// subset) and `dataset_info` (rows and bytes of JSON per split and subset), then how the data were
/// made and what each column means. `datasets` keys its cache of a local directory by the
/// directory's name and this YAML, not by the files' contents: the sizes make a new export
/// to the same place a new cache entry instead of a stale one.
fn card(w: &World, files: &[Split<'static>], labeler: Option<&Value>, split: bool) -> String {
    let mut subsets: Vec<&'static str> = files.iter().map(|f| f.subset).collect();
    subsets.dedup();
    let of = |sub: &'static str| files.iter().filter(move |f| f.subset == sub);
    let mut s = String::from("---\nconfigs:\n");
    for sub in &subsets {
        writeln!(s, "- config_name: {sub}\n  data_files:").unwrap();
        for f in of(sub) {
            writeln!(s, "  - split: {}\n    path: {}", f.split, f.path()).unwrap();
        }
    }
    s += "dataset_info:\n";
    for sub in &subsets {
        writeln!(s, "- config_name: {sub}\n  splits:").unwrap();
        for f in of(sub) {
            let (name, n, bytes) = (f.split, f.rows, f.text.len());
            writeln!(
                s,
                "  - name: {name}\n    num_bytes: {bytes}\n    num_examples: {n}"
            )
            .unwrap();
        }
        let bytes: usize = of(sub).map(|f| f.text.len()).sum();
        writeln!(s, "  download_size: {bytes}").unwrap();
    }
    s += "language:\n- en\nlicense: mit\npretty_name: RLHF by building it — a synthetic world\n---\n\n";
    writeln!(
        s,
        "# A synthetic world for RLHF (world seed {})\n\n\
         Made by `rlhf export-data` (the workshop *RLHF by building it*) from a run of its \
         pipeline. Every row comes from a generated world — {} towns, {} people, {} facts — whose \
         \"human\" labeler is a program: its gold utility of any response is known exactly, so the \
         columns `gold_utility`, `u_chosen` and `u_rejected` are the truth, not an estimate. Train \
         on the labels; use the gold columns only to measure.\n",
        w.config.seed,
        w.entities.towns.len(),
        w.entities.people.len(),
        w.facts().len()
    )
    .unwrap();
    s += "| subset | split | rows |\n|---|---|---|\n";
    for f in files {
        writeln!(s, "| {} | {} | {} |", f.subset, f.split, f.rows).unwrap();
    }
    s += "\n```python\nfrom datasets import load_dataset\nsft = load_dataset(\"DIR\", \"sft\")            # messages\n\
          prefs = load_dataset(\"DIR\", \"preference\")   # prompt / chosen / rejected\n\
          prompts = load_dataset(\"DIR\", \"prompts\")    # prompt, reference, ground_truth\n```\n\n";
    s += "Messages are in the conversational format of TRL and OpenRLHF (`role`, `content`). The \
          answer carries no end token: the chat template of the exported checkpoints \
          (`tokenizer_config.json`) writes `<|user|>{content}\\n` for a user and \
          `<|assistant|>{content}<|end|>` for the assistant, exactly the text the project trains on.\n\n";
    s += "## sft\n\nThe demonstrations of a careful but imperfect human (chapter 4): they cover part of the \
          training prompts, and some are `verbose` or `wrong` on purpose (`quality`). ";
    if split {
        s += "`validation` holds the demonstrations the run's SFT stage kept aside for its held-out loss. ";
    }
    s += "`test` holds the ideal answer to each held-out prompt (for a held-out loss on answers no \
          stage trained on). Columns: `messages`, `family`, `quality`, `gold_utility`.\n\n";
    if let Some(l) = labeler {
        writeln!(
            s,
            "## preference\n\nThe reward model's comparisons (chapter 5): responses sampled from the run's \
             SFT model (and, in `train`, responses to other prompts and the two non-answers, a refusal and \
             \"I don't know\"), every pair labelled by the simulated labeler — `{}`. Its choice is \
             random: it prefers a with probability σ((u′_a − u′_b) / T), u′ the gold utility plus its \
             bias per word, so some labels disagree with the gold order on purpose. Columns: `prompt`, \
             `chosen`, `rejected` (conversational); `chosen_finished` / `rejected_finished` (false: the \
             response hit the length limit without `<|end|>`, which a message cannot show); `u_chosen`, \
             `u_rejected` (gold utilities: for evaluation only); `p_chosen` (the labeler's probability of \
             this choice); `agreement` (its probability of agreeing with the gold order on this pair: \
             averaged, the ceiling of any reward model's accuracy); `labeler` (which member of a \
             population labelled it; 0 for one labeler); `family`.\n",
            l
        )
        .unwrap();
    }
    s += "## prompts\n\nEvery instruction prompt, training and held out, for RL from prompts (PPO, GRPO): \
          `prompt` (conversational), `family` (fact, arithmetic, harmful, kindness, unknown), \
          `reference` (the ideal answer), `ground_truth` (what a rule-based reward checks: a sum's \
          number, a fact's object, `refusal`, `I don't know`; null for kind words) and `target` (the \
          world's own record of what is asked, as JSON).\n";
    s
}
