//! The stages of the pipeline, each also a subcommand.

use crate::progress;
use anyhow::{Context, Result, ensure};
use ch01_tokenizer::TokenizerConfig;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use world::{World, WorldConfig};

/// The world stage's summary.
pub struct WorldSummary {
    pub facts: usize,
    pub train_prompts: usize,
    pub heldout_prompts: usize,
    pub demonstrations: usize,
    pub documents: usize,
    pub corpus_bytes: usize,
}

/// `rlhf world`: generate the world and write it into `out`.
pub fn world_command(
    out: &Path,
    preset: &str,
    seed: Option<u64>,
    corpus_mb: Option<f64>,
    off_topic_penalty: Option<f64>,
) -> Result<WorldSummary> {
    let mut cfg = WorldConfig::preset(preset)?;
    if let Some(s) = seed {
        cfg.seed = s;
    }
    if let Some(p) = off_topic_penalty {
        cfg.labeler.off_topic_penalty = p;
        cfg.validate().context("--off-topic-penalty")?;
    }
    if let Some(mb) = corpus_mb {
        ensure!(
            mb.is_finite() && mb > 0.0 && mb <= 1000.0,
            "--corpus-mb {mb}: expected a size in (0, 1000] megabytes"
        );
        cfg.corpus.bytes = (mb * 1e6) as usize;
    }
    files::ensure_dir(out, "--out")?;
    let world = World::generate(&cfg)?;
    let bar = progress::bytes(cfg.corpus.bytes as u64, "writing the corpus");
    let docs = world.corpus(|b| bar.set_position(b as u64));
    bar.finish_and_clear();
    world.write_to(out, &docs)?;
    let s = WorldSummary {
        facts: world.facts().len(),
        train_prompts: world.prompts.train.len(),
        heldout_prompts: world.prompts.heldout.len(),
        demonstrations: world.demonstrations.len(),
        documents: docs.len(),
        corpus_bytes: docs.iter().map(|d| d.text.len()).sum(),
    };
    println!(
        "world: {} facts, {} documents ({:.2} MB), {} train / {} held-out prompts, {} demonstrations → {}",
        s.facts,
        s.documents,
        s.corpus_bytes as f64 / 1e6,
        s.train_prompts,
        s.heldout_prompts,
        s.demonstrations,
        out.display()
    );
    Ok(s)
}

/// `rlhf tokenizer`: train the tokenizer on `corpus` and write it with its plots into `out`.
pub fn tokenizer_command(
    out: &Path,
    corpus: &Path,
    preset: &str,
    vocab_size: Option<usize>,
) -> Result<ch01_tokenizer::Report> {
    let mut cfg = TokenizerConfig::preset(preset)?;
    if let Some(v) = vocab_size {
        cfg.vocab_size = v;
    }
    cfg.validate().context("--vocab-size")?;
    files::ensure_dir(out, "--out")?;
    let text = files::read_string(corpus, "corpus")?;
    let docs = world::split_corpus(&text);
    ensure!(
        !docs.is_empty(),
        "corpus `{}` holds no documents",
        corpus.display()
    );
    let bar = progress::steps(1);
    let (_, report) = ch01_tokenizer::run(&docs, &cfg, out, &mut |what, done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(what.to_string());
    })?;
    bar.finish_and_clear();
    println!(
        "tokenizer: {} tokens, {:.2} bytes/token on held-out text; hand BPE {:.2} ({} of the first {} merges shared) → {}",
        report.vocab_size,
        report.bytes_per_token,
        report.hand_vs_library.hand_bytes_per_token,
        report.hand_vs_library.shared,
        report.hand_vs_library.k,
        out.display()
    );
    Ok(report)
}

/// `rlhf attention`: train chapter 2's hand-written transformer on `corpus` and draw its
/// attention on a sentence from the corpus.
pub fn attention_command(
    out: &Path,
    corpus: &Path,
    tokenizer: &Path,
    preset: &str,
    steps: Option<usize>,
) -> Result<ch02_attention::Report> {
    let mut cfg = ch02_attention::AttentionConfig::preset(preset)?;
    if let Some(s) = steps {
        ensure!(s > 0, "--steps must be positive");
        cfg.train.steps = s;
    }
    let tok = ch01_tokenizer::library::load(tokenizer)?;
    let text = files::read_string(corpus, "corpus")?;
    let docs = world::split_corpus(&text);
    ensure!(
        !docs.is_empty(),
        "corpus `{}` holds no documents",
        corpus.display()
    );
    // A sentence of the world's own text: the first one that names a flag.
    let sentence = docs
        .iter()
        .flat_map(|d| d.lines())
        .flat_map(|l| l.split_inclusive(". "))
        .map(str::trim)
        .find(|s| s.starts_with("The flag of"))
        .unwrap_or("The flag of Bramford is green.");
    let bar = progress::steps(cfg.train.steps as u64);
    bar.set_message("training the hand-written GPT");
    let report = ch02_attention::run(&docs, &tok, sentence, &cfg, out, |s, _| {
        bar.set_position(s as u64)
    })?;
    bar.finish_and_clear();
    let (first, last) = (report.curve.first().unwrap(), report.curve.last().unwrap());
    println!(
        "attention: {} parameters, held-out loss {:.2} → {:.2} in {} steps → {}",
        report.parameters,
        first.heldout,
        last.heldout,
        last.step,
        out.display()
    );
    Ok(report)
}

/// `rlhf pipeline`: every stage, in order, into `runs/name/`, then `report.md`.
pub fn pipeline(
    runs: &Path,
    name: &str,
    preset: &str,
    seed: Option<u64>,
    off_topic_penalty: Option<f64>,
) -> Result<()> {
    ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && name != "..",
        "--name `{name}`: expected letters, digits, `-`, `_` or `.`"
    );
    let dir: PathBuf = runs.join(name);
    files::ensure_dir(&dir, "run directory")?;
    println!("pipeline `{preset}` → {}", dir.display());
    let mut times = Vec::new();

    let (corpus, tokenizer) = (
        dir.join("world").join(world::CORPUS_FILE),
        dir.join("tokenizer").join("tokenizer.json"),
    );
    let pretrained = dir.join("pretrain").join("checkpoint");
    let w = timed(&mut times, "world", || {
        world_command(&dir.join("world"), preset, seed, None, off_topic_penalty)
    })?;
    let tok = timed(&mut times, "tokenizer", || {
        tokenizer_command(&dir.join("tokenizer"), &corpus, preset, None)
    })?;
    let att = timed(&mut times, "attention", || {
        attention_command(&dir.join("attention"), &corpus, &tokenizer, preset, None)
    })?;
    let pre = timed(&mut times, "pretrain", || {
        crate::gpt::pretrain_command(
            &dir.join("pretrain"),
            &corpus,
            &tokenizer,
            preset,
            None,
            false,
        )
    })?;
    let (sft, rm, ppo) = later_stages(&dir, &dir, preset, 0, &mut times)?;
    let model = ch03_gpt::GptConfig::from_hf_file(&pretrained.join("config.json"))?;
    let sections = [
        crate::gpt::report_section(&pre),
        crate::sft::report_section(&sft),
        crate::reward::report_section(&rm),
        crate::ppo::report_section(&ppo),
        speed_section(&model, &pre, &sft, &rm, &ppo),
    ];

    let report = render_report(name, preset, &w, &tok, &att, &sections, &times);
    files::write_string_atomic(&dir.join("report.md"), &report)?;
    println!("\n{report}");
    Ok(())
}

/// The stages after pretraining — SFT, the reward model, PPO and the evaluation — into
/// `out`, from the world and pretrained checkpoint of the run `src` (the same directory
/// for a plain pipeline), with draw `draw` of their randomness (0: the presets' seeds).
fn later_stages(
    src: &Path,
    out: &Path,
    preset: &str,
    draw: u64,
    times: &mut Vec<StageTime>,
) -> Result<(
    ch04_sft::Report,
    ch05_reward::Report,
    crate::ppo::PpoSummary,
)> {
    let (world, pretrained) = (src.join("world"), src.join("pretrain").join("checkpoint"));
    let sft_ckpt = out.join("sft").join("checkpoint");
    let sft = timed(times, "sft", || {
        crate::sft::sft_command(&out.join("sft"), &world, &pretrained, preset, None, draw)
    })?;
    let rm = timed(times, "reward model", || {
        crate::reward::reward_command(
            &out.join("reward"),
            &world,
            &sft_ckpt,
            preset,
            &crate::reward::Overrides {
                draw,
                ..Default::default()
            },
        )
    })?;
    let ppo = timed(times, "PPO and evaluation", || {
        let rm_ckpt = out.join("reward").join("checkpoint");
        crate::ppo::ppo_command(
            &out.join("ppo"),
            &world,
            &sft_ckpt,
            &rm_ckpt,
            Some(&pretrained),
            preset,
            &crate::ppo::Overrides {
                draw,
                ..Default::default()
            },
        )
    })?;
    Ok((sft, rm, ppo))
}

/// Another draw of a finished run's stages after pretraining (`rlhf worlds --draws`): SFT,
/// reward model and PPO into `out`, reusing `src`'s world and pretrained model; `out/draw.md`
/// holds the capability table and the time per stage.
pub fn draw(src: &Path, out: &Path, preset: &str, draw: u64) -> Result<()> {
    ensure!(draw > 0, "draw 0 is the run itself");
    files::ensure_dir(out, "draw directory")?;
    println!(
        "draw {draw} of the stages after pretraining → {}",
        out.display()
    );
    let mut times = Vec::new();
    let (_, _, ppo) = later_stages(src, out, preset, draw, &mut times)?;
    let mut s = format!(
        "# Draw {draw} of `{}` (preset `{preset}`)\n\n",
        src.display()
    );
    s += &crate::ppo::report_section(&ppo);
    s += "\n| stage | seconds |\n|---|---|\n";
    for t in &times {
        writeln!(s, "| {} | {:.1} |", t.stage, t.seconds).unwrap();
    }
    files::write_string_atomic(&out.join("draw.md"), &s)
}

/// Training throughput of each stage that trains the GPT: tokens/s, and MFU on a GPU whose
/// peak is known (chapter 9).
fn speed_section(
    model: &ch03_gpt::GptConfig,
    pre: &crate::gpt::PretrainSummary,
    sft: &ch04_sft::Report,
    rm: &ch05_reward::Report,
    ppo: &crate::ppo::PpoSummary,
) -> String {
    use ch03_gpt::device::Throughput;
    let compute = crate::compute::get();
    // (stage, tokens/s, mean padded sequence length) from (tokens, seconds, Σ widths, steps).
    let row = |stage: &'static str, tokens: usize, seconds: f64, widths: usize, steps: usize| {
        (
            stage,
            tokens as f64 / seconds.max(1e-9),
            (widths / steps.max(1)).max(1),
        )
    };
    let sft_steps = &sft.history[1..];
    let rm_steps = &rm.history[1..];
    let (h, c) = (&ppo.report.history, &ppo.report.config);
    let rows = [
        ("pretrain", pre.tokens_per_s, pre.seq_len),
        row(
            "SFT",
            sft_steps.iter().map(|r| r.tokens).sum(),
            sft_steps.iter().map(|r| r.seconds).sum(),
            sft_steps.iter().map(|r| r.seq_len).sum(),
            sft_steps.len(),
        ),
        row(
            "reward model",
            rm_steps.iter().map(|r| r.tokens).sum(),
            rm_steps.iter().map(|r| r.seconds).sum(),
            rm_steps.iter().map(|r| r.seq_len).sum(),
            rm_steps.len(),
        ),
        row(
            "PPO updates",
            h.iter().map(|s| s.update_tokens).sum(),
            h.iter().map(|s| s.update_seconds).sum(),
            h.iter().map(|s| s.update_seq_len).sum(),
            h.len(),
        ),
    ];
    let mut s = format!(
        "## Speed\n\n<!-- ANCHOR: speed -->\nOn {}",
        compute.describe()
    );
    if let Some(gpu) = (!compute.device.is_cpu())
        .then(ch03_gpt::device::gpu_name)
        .flatten()
    {
        write!(s, " ({gpu})").unwrap();
    }
    s += ". Training steps only (forward, backward, update). MFU = FLOPs per token (6N + 12·L·C·T) × tokens/s ÷ the GPU's peak.\n\n";
    s += "| stage | tokens/s | mean sequence | MFU |\n|---|---|---|---|\n";
    for (stage, tps, seq) in rows {
        let th = Throughput::training(model, seq, tps, compute);
        let mfu = th
            .mfu
            .map_or("—".to_string(), |m| format!("{:.1}%", 100.0 * m));
        writeln!(s, "| {stage} | {tps:.0} | {seq} | {mfu} |").unwrap();
    }
    let rollout: f64 = h.iter().map(|s| s.rollout_seconds).sum();
    let generated: f64 = h.iter().map(|s| s.length * c.rollout_batch as f64).sum();
    writeln!(
        s,
        "\nPPO rollouts (sampling with the KV cache, then scoring): {:.0} generated tokens/s.",
        generated / rollout.max(1e-9)
    )
    .unwrap();
    s += "<!-- ANCHOR_END: speed -->\n\n";
    s
}

fn render_report(
    name: &str,
    preset: &str,
    w: &WorldSummary,
    tok: &ch01_tokenizer::Report,
    att: &ch02_attention::Report,
    sections: &[String],
    times: &[StageTime],
) -> String {
    // The ANCHOR comments let the book include a section of a run's report.
    let mut s =
        format!("# Run `{name}` (preset `{preset}`)\n\n## The world\n\n<!-- ANCHOR: world -->\n");
    writeln!(s, "| | |\n|---|---|").unwrap();
    writeln!(s, "| facts | {} |", w.facts).unwrap();
    writeln!(
        s,
        "| corpus | {} documents, {:.2} MB |",
        w.documents,
        w.corpus_bytes as f64 / 1e6
    )
    .unwrap();
    writeln!(
        s,
        "| prompts | {} train, {} held out |",
        w.train_prompts, w.heldout_prompts
    )
    .unwrap();
    writeln!(s, "| demonstrations | {} |", w.demonstrations).unwrap();
    writeln!(
        s,
        "<!-- ANCHOR_END: world -->\n\n## Tokenizer\n\n<!-- ANCHOR: tokenizer -->"
    )
    .unwrap();
    writeln!(
        s,
        "| vocabulary asked | reached | held-out bytes per token |\n|---|---|---|"
    )
    .unwrap();
    for p in &tok.sweep {
        writeln!(
            s,
            "| {} | {} | {:.2} |",
            p.requested, p.vocab_size, p.bytes_per_token
        )
        .unwrap();
    }
    let h = &tok.hand_vs_library;
    writeln!(
        s,
        "\nThe pipeline's tokenizer has {} tokens: {:.2} bytes per token on held-out text. The hand-written \
         BPE at the same size: {:.2}; {} of the first {} merges are the same.\n",
        tok.vocab_size, tok.bytes_per_token, h.hand_bytes_per_token, h.shared, h.k
    )
    .unwrap();
    let top: Vec<String> = tok
        .top_tokens
        .iter()
        .take(10)
        .map(|(t, _)| format!("`{}`", t.replace('\n', "\\n")))
        .collect();
    writeln!(s, "Most frequent tokens: {}.\n", top.join(" ")).unwrap();
    writeln!(
        s,
        "A held-out sentence, cut into tokens: `{}`\n<!-- ANCHOR_END: tokenizer -->\n",
        tok.example.join("|")
    )
    .unwrap();
    writeln!(
        s,
        "![compression](tokenizer/compression.svg)\n\n![zipf](tokenizer/zipf.svg)\n"
    )
    .unwrap();
    writeln!(s, "## Attention from scratch\n\n<!-- ANCHOR: attention -->").unwrap();
    let m = &att.config.model;
    let (first, last) = (att.curve.first().unwrap(), att.curve.last().unwrap());
    writeln!(
        s,
        "A GPT of {} layers, {} heads, {} channels and a context of {} tokens ({} parameters), trained \
         with hand-written gradients and Adam for {} steps of {} sequences: held-out loss {:.2} → {:.2} \
         nats per token (a uniform guess over {} tokens costs {:.2}).",
        m.n_layer,
        m.n_head,
        m.n_embd,
        m.n_ctx,
        att.parameters,
        last.step,
        att.config.train.batch,
        first.heldout,
        last.heldout,
        m.vocab_size,
        (m.vocab_size as f64).ln()
    )
    .unwrap();
    writeln!(
        s,
        "<!-- ANCHOR_END: attention -->\n\n![loss](attention/loss.svg)\n"
    )
    .unwrap();
    for section in sections {
        s += section;
    }
    writeln!(
        s,
        "## Time and memory per stage\n\n| stage | seconds | peak memory (MiB) |\n|---|---|---|"
    )
    .unwrap();
    let mib = |m: Option<u64>| {
        m.map_or("–".to_string(), |kib| {
            format!("{:.0}", kib as f64 / 1024.0)
        })
    };
    for t in times {
        writeln!(
            s,
            "| {} | {:.1} | {} |",
            t.stage,
            t.seconds,
            mib(t.peak_kib)
        )
        .unwrap();
    }
    let peak = times.iter().filter_map(|t| t.peak_kib).max();
    writeln!(
        s,
        "| **total** | **{:.1}** | **{}** |",
        times.iter().map(|t| t.seconds).sum::<f64>(),
        mib(peak)
    )
    .unwrap();
    writeln!(
        s,
        "\nPeak memory is the process's largest resident set during the stage (Linux's `VmHWM`, reset \
         at each stage's start); it includes what the process kept from earlier stages."
    )
    .unwrap();
    s
}

/// One stage's wall time and peak resident memory.
struct StageTime {
    stage: &'static str,
    seconds: f64,
    /// Largest resident set during the stage, in KiB (Linux only).
    peak_kib: Option<u64>,
}

/// Runs one stage, recording its wall time and peak memory in `times`.
fn timed<T>(
    times: &mut Vec<StageTime>,
    stage: &'static str,
    run: impl FnOnce() -> Result<T>,
) -> Result<T> {
    reset_peak_memory();
    let t = Instant::now();
    let out = run()?;
    times.push(StageTime {
        stage,
        seconds: t.elapsed().as_secs_f64(),
        peak_kib: peak_memory_kib(),
    });
    Ok(out)
}

/// Resets the kernel's record of this process's peak resident set (Linux: writing 5 to
/// `/proc/self/clear_refs`); elsewhere, or if refused, the peak stays the process's.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident set since the last reset, in KiB (`VmHWM` in
/// `/proc/self/status`; `None` where there is no such file).
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
