//! DPO's and GRPO's training curves, one chart each.

use crate::dpo_train::DpoRecord;
use crate::grpo_train::GrpoRecord;
use anyhow::Result;
use plot::plotters::chart::SeriesLabelPosition;
use plot::{Chart, LineChart};
use std::path::Path;

/// DPO's curves in `out`: loss, the implicit reward's accuracy (batch and held out),
/// and the log-ratios of chosen and rejected responses.
pub fn dpo(history: &[DpoRecord], name: &str, out: &Path) -> Result<()> {
    let step = |f: fn(&DpoRecord) -> f64| history.iter().map(|r| (r.step as f64, f(r))).collect();
    let held = |f: fn(&crate::dpo_train::Heldout) -> f64| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|r| r.heldout.as_ref().map(|h| (r.step as f64, f(h))))
            .collect()
    };
    LineChart::new(format!("{name}: loss on each batch"))
        .x_label("step")
        .y_label("loss")
        .series("loss", step(|r| r.loss))
        .save_svg(&out.join("loss.svg"))?;
    LineChart::new(format!("{name}: does the implicit reward order the pairs?"))
        .x_label("step")
        .y_label("fraction of pairs")
        .legend_at(SeriesLabelPosition::LowerRight)
        .series("training batch (labels)", step(|r| r.accuracy))
        .series("held out (labels)", held(|h| h.accuracy))
        .series("held out (gold order)", held(|h| h.gold_accuracy))
        .save_svg(&out.join("accuracy.svg"))?;
    LineChart::new(format!(
        "{name}: the implicit reward's margin on each batch"
    ))
    .x_label("step")
    .y_label("β (log-ratio chosen − rejected)")
    .series("margin", step(|r| r.margin))
    .save_svg(&out.join("margins.svg"))?;
    LineChart::new(format!(
        "{name}: KL to the SFT model (64 held-out prompts, sampled)"
    ))
    .x_label("step")
    .y_label("nats per response")
    .series(
        "",
        // At step 0 the policy is the reference: KL 0.
        std::iter::once((0.0, 0.0))
            .chain(held(|h| h.kl.unwrap_or(f64::NAN)))
            .collect(),
    )
    .save_svg(&out.join("kl.svg"))?;
    LineChart::new(format!(
        "{name}: log π/π_ref of chosen and rejected responses"
    ))
    .x_label("step")
    .y_label("nats per response (held out)")
    .legend_at(SeriesLabelPosition::LowerLeft)
    .series("chosen", held(|h| h.chosen_log_ratio))
    .series("rejected", held(|h| h.rejected_log_ratio))
    .save_svg(&out.join("log_ratios.svg"))?;
    Ok(())
}

/// GRPO's curves in `out`: the verifiable reward, informative groups, and KL.
pub fn grpo(history: &[GrpoRecord], out: &Path) -> Result<()> {
    let it =
        |f: fn(&GrpoRecord) -> f64| history.iter().map(|r| (r.iteration as f64, f(r))).collect();
    LineChart::new("GRPO: arithmetic answered right (sampled)")
        .x_label("iteration")
        .y_label("fraction")
        .legend_at(SeriesLabelPosition::UpperLeft)
        .series("verifiable reward", it(|r| r.reward))
        .series("groups that disagree", it(|r| r.informative_groups))
        .save_svg(&out.join("reward.svg"))?;
    LineChart::new("GRPO: KL to the SFT model")
        .x_label("iteration")
        .y_label("nats per response")
        .series("KL", it(|r| r.kl))
        .save_svg(&out.join("kl.svg"))?;
    Ok(())
}
