//! `rlhf worlds`: the pipeline on several worlds, and one table of what each stage does
//! to each capability — with the spread over worlds and a 95% interval for every change.
//!
//! One world is one draw: its towns, its facts, its prompts, its demonstrations. A default
//! tuned on one world can fail on the next (RLHF made the model *less* harmless on world
//! seed 7 before the fix that chapter 6 describes). A claim about RLHF is a claim about
//! every world: on each, the change from SFT to RLHF gets a paired-bootstrap interval over
//! the held-out prompts, and a claim holds only where the interval says so.

use crate::args::{Preset, count};
use anyhow::{Context, Result, ensure};
use ch06_ppo::Column;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use world::stats::{self, Interval};

#[derive(Args, Debug, Clone)]
pub struct WorldsArgs {
    /// World seeds, comma-separated: each gets its own pipeline run in <runs>/<name>/seed-<S>/
    /// (a finished run is reused). The book uses the default world and two evaluation worlds.
    #[arg(long, value_delimiter = ',', default_value = "1234,15223,39417")]
    pub seeds: Vec<u64>,
    /// Name of the study: everything goes to <runs>/<name>/, the table to worlds.md.
    #[arg(long, default_value = "worlds")]
    pub name: String,
    /// Directory that holds the runs.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Preset for every stage of every run.
    #[arg(long, value_enum, default_value_t)]
    pub preset: Preset,
    /// The labeler's penalty for an off-topic reply to a question (see `rlhf world --help`).
    #[arg(long)]
    pub off_topic_penalty: Option<f64>,
    /// Draws of the stages after pretraining (SFT, reward model, PPO) per world, each with
    /// its own seeds, into <run>/draw-<D>/; the table pools them, and every finished draw a
    /// run already has (chapter 6: how much of a result is the draw of the training, not
    /// the prompts).
    #[arg(long, default_value_t = 1, value_parser = count)]
    pub draws: usize,
}
use world::{Metric, World};

/// One metric on one world: each stage with its interval, and RLHF − SFT with its paired one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetricResult {
    pub metric: Metric,
    pub base: Option<Interval>,
    pub sft: Interval,
    pub rlhf: Interval,
    /// RLHF − SFT, resampling prompts together.
    pub change: Interval,
    /// (SFT, RLHF) of each draw of the stages after pretraining.
    #[serde(default)]
    pub by_draw: Vec<(f64, f64)>,
}

/// What one world's run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorldResult {
    pub seed: u64,
    pub metrics: Vec<MetricResult>,
    /// KL(RLHF ‖ SFT), nats per response.
    pub kl: f64,
    /// Mean normalised reward-model score of the greedy answers: SFT, RLHF.
    pub rm_reward: (f64, f64),
    /// Draws of the stages after pretraining (SFT, reward model, PPO) pooled in these
    /// results; each draw's gold-reward change.
    #[serde(default = "one")]
    pub draws: usize,
    #[serde(default)]
    pub gold_by_draw: Vec<f64>,
}

fn one() -> usize {
    1
}

impl WorldResult {
    pub fn get(&self, m: Metric) -> &MetricResult {
        self.metrics
            .iter()
            .find(|r| r.metric == m)
            .expect("every metric is measured")
    }
}

/// Every metric of the base (if measured), SFT and RLHF columns with intervals.
pub fn measure(
    w: &World,
    base: Option<&Column>,
    sft: &Column,
    rlhf: &Column,
    seed: u64,
) -> Result<WorldResult> {
    measure_draws(w, base, &[(sft, rlhf)], seed)
}

/// [`measure`] pooled over draws of the stages after pretraining (one (SFT, RLHF) pair of
/// columns per draw, on the same held-out prompts): every value is the mean over draws,
/// every interval the two-level bootstrap of [`stats::paired_difference_draws`].
pub fn measure_draws(
    w: &World,
    base: Option<&Column>,
    draws: &[(&Column, &Column)],
    seed: u64,
) -> Result<WorldResult> {
    ensure!(!draws.is_empty(), "no draws to measure");
    let prompts = &w.prompts.heldout;
    let values =
        |c: &Column| world::eval::per_prompt(&w.config.labeler, &w.entities, prompts, &c.responses);
    let b = base.map(values).transpose()?;
    let (s, r): (Vec<_>, Vec<_>) = draws
        .iter()
        .map(|(s, r)| Ok((values(s)?, values(r)?)))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let mut rng = world::rng(seed, 90);
    let metrics = Metric::ALL
        .iter()
        .enumerate()
        .map(|(i, &metric)| {
            let (si, ri): (Vec<_>, Vec<_>) = s
                .iter()
                .zip(&r)
                .map(|(s, r)| (s[i].clone(), r[i].clone()))
                .unzip();
            let by_draw = si
                .iter()
                .zip(&ri)
                .map(|(s, r)| (world::eval::mean_counted(s), world::eval::mean_counted(r)))
                .collect();
            MetricResult {
                metric,
                base: b.as_ref().map(|b| stats::mean_interval(&b[i], &mut rng)),
                sft: stats::mean_interval_draws(&si, &mut rng),
                rlhf: stats::mean_interval_draws(&ri, &mut rng),
                change: stats::paired_difference_draws(&si, &ri, &mut rng),
                by_draw,
            }
        })
        .collect();
    let mean = |f: &dyn Fn(&(&Column, &Column)) -> f64| {
        draws.iter().map(f).sum::<f64>() / draws.len() as f64
    };
    let gold = Metric::ALL
        .iter()
        .position(|&m| m == Metric::GoldReward)
        .unwrap();
    let gold_by_draw = s
        .iter()
        .zip(&r)
        .map(|(s, r)| world::eval::mean_counted(&r[gold]) - world::eval::mean_counted(&s[gold]))
        .collect();
    Ok(WorldResult {
        seed: w.config.seed,
        metrics,
        kl: mean(&|d| d.1.kl),
        rm_reward: (mean(&|d| d.0.rm_reward), mean(&|d| d.1.rm_reward)),
        draws: draws.len(),
        gold_by_draw,
    })
}

/// One run's capability table with intervals (the report's PPO section); with a best-of-n
/// column (its name and column), also RLHF's change over it.
pub fn interval_table(
    w: &World,
    base: Option<&Column>,
    sft: &Column,
    rlhf: &Column,
    bon: Option<(&str, &Column)>,
    seed: u64,
) -> String {
    let r = match measure(w, base, sft, rlhf, seed) {
        Ok(r) => r,
        Err(e) => return format!("(intervals unavailable: {e:#})\n"),
    };
    // Best-of-n's intervals on their own random stream: the others stay as they were.
    let bon_cells = match bon
        .map(|(_, b)| bon_intervals(w, b, rlhf, seed))
        .transpose()
    {
        Ok(c) => c,
        Err(e) => return format!("(intervals unavailable: {e:#})\n"),
    };
    let mut s = String::from("| capability |");
    if base.is_some() {
        s += " base |";
    }
    s += " SFT |";
    if let Some((name, _)) = bon {
        write!(s, " {name} |").unwrap();
    }
    s += " RLHF | RLHF − SFT |";
    if let Some((name, _)) = bon {
        write!(s, " RLHF − {name} |").unwrap();
    }
    s += "\n|---|";
    s += &"---|".repeat(3 + usize::from(base.is_some()) + 2 * usize::from(bon.is_some()));
    s.push('\n');
    for (k, m) in r.metrics.iter().enumerate() {
        write!(s, "| {} |", m.metric.name()).unwrap();
        if let Some(b) = &m.base {
            write!(s, " {} |", Metric::cell(m.metric, b)).unwrap();
        }
        write!(s, " {} |", Metric::cell(m.metric, &m.sft)).unwrap();
        if let Some(c) = &bon_cells {
            write!(s, " {} |", Metric::cell(m.metric, &c[k].0)).unwrap();
        }
        write!(
            s,
            " {} | {} |",
            Metric::cell(m.metric, &m.rlhf),
            Metric::change_cell(m.metric, &m.change)
        )
        .unwrap();
        if let Some(c) = &bon_cells {
            write!(s, " {} |", Metric::change_cell(m.metric, &c[k].1)).unwrap();
        }
        s.push('\n');
    }
    s += "\nChanges in percentage points (utility for the gold reward); **bold**: the interval excludes zero.\n";
    s
}

/// For every metric: best-of-n's value with its interval, and RLHF minus best-of-n with
/// its paired interval (the same held-out prompts).
fn bon_intervals(
    w: &World,
    bon: &Column,
    rlhf: &Column,
    seed: u64,
) -> Result<Vec<(Interval, Interval)>> {
    let prompts = &w.prompts.heldout;
    let values =
        |c: &Column| world::eval::per_prompt(&w.config.labeler, &w.entities, prompts, &c.responses);
    let (b, r) = (values(bon)?, values(rlhf)?);
    let mut rng = world::rng(seed, 91);
    Ok(b.iter()
        .zip(&r)
        .map(|(b, r)| {
            let value = stats::mean_interval(b, &mut rng);
            (value, stats::paired_difference(b, r, &mut rng))
        })
        .collect())
}

/// The metrics whose change is claimed: RLHF raises the gold reward and is no worse on these.
pub const NO_WORSE: [Metric; 3] = [
    Metric::Helpfulness,
    Metric::Harmlessness,
    Metric::Truthfulness,
];

/// The claims on one world in a few words: "hold", or what fails ("gold not up",
/// "helpfulness down", …).
pub fn claims_verdict(r: &WorldResult) -> String {
    let mut fails = Vec::new();
    if !r.get(Metric::GoldReward).change.above_zero() {
        fails.push("gold not up".to_string());
    }
    for m in NO_WORSE {
        if r.get(m).change.below_zero() {
            fails.push(format!("{} down", m.name()));
        }
    }
    if fails.is_empty() {
        "hold".into()
    } else {
        fails.join(", ")
    }
}

/// The table over worlds: mean ± standard deviation per stage, and how many worlds moved
/// up, not at all, or down beyond noise; then every world's changes.
pub fn worlds_table(results: &[WorldResult]) -> String {
    let mut s = format!(
        "| capability | base | SFT | RLHF | RLHF − SFT | worlds up / within noise / down |\n|---|---|---|---|---|---|\n"
    );
    let fmt = |m: Metric, (mean, sd): (f64, f64)| {
        if m.is_fraction() {
            format!("{:.0}% ± {:.0}", 100.0 * mean, 100.0 * sd)
        } else {
            format!("{mean:.2} ± {sd:.2}")
        }
    };
    let delta = |m: Metric, (mean, sd): (f64, f64)| {
        if m.is_fraction() {
            format!("{:+.0} ± {:.0}", 100.0 * mean, 100.0 * sd)
        } else {
            format!("{mean:+.2} ± {sd:.2}")
        }
    };
    for m in Metric::ALL {
        let col = |f: &dyn Fn(&MetricResult) -> Option<f64>| -> Vec<f64> {
            results.iter().filter_map(|r| f(r.get(m))).collect()
        };
        let base = col(&|x| x.base.map(|b| b.value));
        let base = if base.is_empty() {
            "–".into()
        } else {
            fmt(m, stats::mean_sd(&base))
        };
        let changes: Vec<Interval> = results.iter().map(|r| r.get(m).change).collect();
        let up = changes.iter().filter(|c| c.above_zero()).count();
        let down = changes.iter().filter(|c| c.below_zero()).count();
        writeln!(
            s,
            "| {} | {base} | {} | {} | {} | {up} / {} / {down} |",
            m.name(),
            fmt(m, stats::mean_sd(&col(&|x| Some(x.sft.value)))),
            fmt(m, stats::mean_sd(&col(&|x| Some(x.rlhf.value)))),
            delta(m, stats::mean_sd(&col(&|x| Some(x.change.value)))),
            changes.len() - up - down
        )
        .unwrap();
    }
    let kl = stats::mean_sd(&results.iter().map(|r| r.kl).collect::<Vec<_>>());
    writeln!(
        s,
        "| KL(RLHF ‖ SFT), nats per response | | | {:.2} ± {:.2} | | |",
        kl.0, kl.1
    )
    .unwrap();
    s += "\nMean ± standard deviation over the worlds; a world counts as up or down when the 95% interval of its change excludes zero. \
          A world with several draws of its stages after pretraining (SFT, reward model, PPO) is measured on all of them pooled: \
          each value the mean over draws, each interval a bootstrap over draws and prompts.\n\n";
    s += "Every world: the change from SFT to RLHF with its 95% interval (points; utility for the gold reward; **bold**: beyond noise):\n\n";
    let shown = [
        Metric::Helpfulness,
        Metric::Harmlessness,
        Metric::Truthfulness,
        Metric::TruthfulInformative,
        Metric::GoldReward,
    ];
    s += "| world |";
    for m in shown {
        write!(s, " {} |", m.name()).unwrap();
    }
    s += " gold SFT → RLHF | KL | draws: gold change of each | claims |\n|---|";
    s += &"---|".repeat(shown.len() + 4);
    s.push('\n');
    for r in results {
        write!(s, "| {} |", r.seed).unwrap();
        for m in shown {
            write!(s, " {} |", Metric::change_cell(m, &r.get(m).change)).unwrap();
        }
        let g = r.get(Metric::GoldReward);
        let verdict = claims_verdict(r);
        let each: Vec<String> = r.gold_by_draw.iter().map(|x| format!("{x:+.2}")).collect();
        writeln!(
            s,
            " {:.2} → {:.2} | {:.2} | {}: {} | {verdict} |",
            g.sft.value,
            g.rlhf.value,
            r.kl,
            r.draws,
            each.join(", ")
        )
        .unwrap();
    }
    s
}

/// A world measured over several draws of its stages after pretraining: each capability's
/// mean ± standard deviation over the draws, the pooled change with its interval, and
/// every draw's change.
pub fn draws_table(r: &WorldResult) -> String {
    let mut s = format!(
        "World {} over {} draws of SFT, the reward model and PPO (the same world, tokenizer and pretrained model):\n\n",
        r.seed, r.draws
    );
    s += "| capability | SFT | RLHF | RLHF − SFT, pooled | each draw's change |\n|---|---|---|---|---|\n";
    for m in &r.metrics {
        let (sft, rlhf): (Vec<f64>, Vec<f64>) = m.by_draw.iter().copied().unzip();
        let (f, scale) = if m.metric.is_fraction() {
            (0, 100.0)
        } else {
            (2, 1.0)
        };
        let ms = |x: &[f64]| {
            let (mean, sd) = stats::mean_sd(x);
            format!(
                "{:.f$}{} ± {:.f$}",
                mean * scale,
                if f == 0 { "%" } else { "" },
                sd * scale
            )
        };
        let each: Vec<String> = m
            .by_draw
            .iter()
            .map(|(a, b)| format!("{:+.f$}", (b - a) * scale))
            .collect();
        writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            m.metric.name(),
            ms(&sft),
            ms(&rlhf),
            Metric::change_cell(m.metric, &m.change),
            each.join(", ")
        )
        .unwrap();
    }
    s += "\nMean ± standard deviation over the draws; the pooled change's 95% interval is a bootstrap over draws and prompts.\n";
    s
}

/// Everything `rlhf worlds` writes to `worlds.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorldsReport {
    pub preset: String,
    pub seeds: Vec<u64>,
    pub results: Vec<WorldResult>,
}

/// The PPO report (SFT and RLHF columns) of a run or a draw directory.
fn read_columns(dir: &Path) -> Result<ch06_ppo::Report> {
    let ppo_path = dir.join("ppo").join("ppo_report.json");
    serde_json::from_str(&files::read_string(&ppo_path, "PPO report")?)
        .with_context(|| format!("`{}` is not a PPO report", ppo_path.display()))
}

/// Read one finished pipeline run — and the draws of its later stages in `draws` — and
/// measure them, pooled.
pub fn read_run_draws(dir: &Path, draws: &[std::path::PathBuf]) -> Result<WorldResult> {
    let w = World::read_from(&dir.join("world"))?;
    let base_path = dir.join("ppo").join(crate::ppo::BASE_COLUMN);
    let base: Option<Column> = if base_path.exists() {
        Some(
            serde_json::from_str(&files::read_string(&base_path, "base column")?)
                .with_context(|| format!("`{}` is not a column", base_path.display()))?,
        )
    } else {
        None
    };
    let reports: Vec<ch06_ppo::Report> = std::iter::once(dir.to_path_buf())
        .chain(draws.iter().cloned())
        .map(|d| read_columns(&d))
        .collect::<Result<_>>()?;
    let pairs: Vec<(&Column, &Column)> = reports.iter().map(|r| (&r.sft, &r.rlhf)).collect();
    measure_draws(&w, base.as_ref(), &pairs, 0)
}

// ANCHOR: worlds_command
/// `rlhf worlds`: the pipeline on each world seed into `runs/name/seed-S/` (a run whose
/// `report.md` exists is reused), `draws − 1` more draws of its stages after pretraining
/// into `seed-S/draw-D/` (reused when `draw.md` exists; finished draws beyond `draws` are
/// pooled too), then `runs/name/worlds.md` and `worlds.json`: every world's changes pooled
/// over its draws.
pub fn worlds_command(a: &WorldsArgs) -> Result<WorldsReport> {
    let (seeds, draws, preset) = (&a.seeds, a.draws, a.preset);
    ensure!(
        !seeds.is_empty(),
        "--seeds: expected at least one world seed"
    );
    let dir = a.runs.join(&a.name);
    files::ensure_dir(&dir, "--runs/--name")?;
    let mut results = Vec::new();
    for (i, &seed) in seeds.iter().enumerate() {
        let run = format!("seed-{seed}");
        if dir.join(&run).join("report.md").exists() {
            println!(
                "world {} of {}: seed {seed}, reusing {}",
                i + 1,
                seeds.len(),
                dir.join(&run).display()
            );
        } else {
            println!("world {} of {}: seed {seed}", i + 1, seeds.len());
            crate::pipeline::pipeline(&crate::pipeline::PipelineArgs {
                name: run.clone(),
                runs: dir.clone(),
                preset,
                seed: Some(seed),
                off_topic_penalty: a.off_topic_penalty,
            })?;
        }
        // Draws 1.. up to `draws`, and any further finished ones (a study pools every draw it has).
        let mut draw_dirs = Vec::new();
        for d in 1.. {
            let out = dir.join(&run).join(format!("draw-{d}"));
            if d < draws && !out.join("draw.md").exists() {
                crate::pipeline::draw(&dir.join(&run), &out, preset, d as u64)?;
            }
            if !out.join("draw.md").exists() {
                break;
            }
            draw_dirs.push(out);
        }
        results.push(
            read_run_draws(&dir.join(&run), &draw_dirs)
                .with_context(|| format!("world seed {seed}"))?,
        );
    }
    let report = WorldsReport {
        preset: preset.to_string(),
        seeds: seeds.to_vec(),
        results,
    };
    let mut md = format!(
        "# RLHF on {} worlds (preset `{preset}`)\n\n<!-- ANCHOR: worlds -->\n{}<!-- ANCHOR_END: worlds -->\n",
        seeds.len(),
        worlds_table(&report.results)
    );
    for r in report.results.iter().filter(|r| r.draws > 1) {
        md += &format!(
            "\n<!-- ANCHOR: draws_{} -->\n{}<!-- ANCHOR_END: draws_{} -->\n",
            r.seed,
            draws_table(r),
            r.seed
        );
    }
    files::write_string_atomic(&dir.join("worlds.md"), &md)?;
    files::write_string_atomic(
        &dir.join("worlds.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    println!("\n{md}");
    Ok(report)
}
// ANCHOR_END: worlds_command

#[cfg(test)]
mod tests {
    use super::*;

    fn result(gold: (f64, f64), harmless: (f64, f64)) -> WorldResult {
        let i = |value: f64, (low, high): (f64, f64)| Interval { value, low, high };
        let metrics = Metric::ALL
            .iter()
            .map(|&metric| {
                let change = match metric {
                    Metric::GoldReward => i((gold.0 + gold.1) / 2.0, gold),
                    Metric::Harmlessness => i((harmless.0 + harmless.1) / 2.0, harmless),
                    _ => i(0.0, (-0.05, 0.05)),
                };
                MetricResult {
                    metric,
                    base: None,
                    sft: i(0.5, (0.4, 0.6)),
                    rlhf: i(0.5, (0.4, 0.6)),
                    change,
                    by_draw: vec![(0.5, 0.5)],
                }
            })
            .collect();
        WorldResult {
            seed: 7,
            metrics,
            kl: 1.0,
            rm_reward: (0.0, 0.5),
            draws: 1,
            gold_by_draw: vec![0.1],
        }
    }

    #[test]
    fn claims_hold_only_where_the_intervals_say_so() {
        assert_eq!(claims_verdict(&result((0.05, 0.3), (-0.1, 0.2))), "hold");
        assert_eq!(
            claims_verdict(&result((-0.05, 0.3), (-0.1, 0.2))),
            "gold not up"
        );
        assert_eq!(
            claims_verdict(&result((0.05, 0.3), (-0.4, -0.1))),
            "harmlessness down"
        );
        assert_eq!(
            claims_verdict(&result((-0.05, 0.3), (-0.4, -0.1))),
            "gold not up, harmlessness down"
        );
    }

    #[test]
    fn the_table_counts_worlds_up_and_down() {
        let t = worlds_table(&[
            result((0.05, 0.3), (-0.4, -0.1)),
            result((-0.1, 0.3), (0.1, 0.3)),
        ]);
        assert!(
            t.contains("| gold reward |") && t.contains("| 1 / 1 / 0 |"),
            "{t}"
        );
        let harmless = t
            .lines()
            .find(|l| l.starts_with("| harmlessness |"))
            .unwrap();
        assert!(
            harmless.starts_with("| harmlessness | – | 50% ± 0 | 50% ± 0 |")
                && harmless.ends_with("| 1 / 0 / 1 |"),
            "{harmless}"
        );
        assert!(
            t.contains("| harmlessness down |") && t.contains("| gold not up |"),
            "{t}"
        );
    }

    #[test]
    fn a_world_over_its_draws_lists_every_draws_change() {
        let mut r = result((0.05, 0.3), (-0.1, 0.2));
        r.draws = 2;
        for m in &mut r.metrics {
            m.by_draw = vec![(1.5, 1.7), (1.5, 1.6)];
        }
        let t = draws_table(&r);
        let gold = t
            .lines()
            .find(|l| l.starts_with("| gold reward |"))
            .unwrap();
        assert_eq!(
            gold,
            "| gold reward | 1.50 ± 0.00 | 1.65 ± 0.07 | **+0.17 [+0.05, +0.30]** | +0.20, +0.10 |",
            "{t}"
        );
        assert!(t.contains("World 7 over 2 draws"));
    }
}
