//! The chapter's studies, one function each, in the order [`crate::run`] runs them: they
//! share one [`Study`] (the pipeline's models, the samples, where to write).

use crate::hacking::{self, HackRun, HackingReport};
use crate::mitigations::{self, MitigationReport};
use crate::population::{self, PopulationReport};
use crate::study::{self, Curve, FamilyRow, Pick, RmPoint, Samples};
use crate::{Inputs, OveroptConfig, RmSummary, rm_point};
use anyhow::Result;
use ch04_sft::EvalConfig;
use ch05_reward::train::RmConfig;
use ch06_ppo::{Column, Env};
use std::path::Path;

/// What every study reads: the pipeline's models and settings, the study's configuration,
/// the SFT model's samples of the held-out prompts, and the output directory.
pub struct Study<'a> {
    pub inp: Inputs<'a>,
    pub cfg: &'a OveroptConfig,
    pub samples: Samples,
    /// The n of every best-of-n curve.
    pub ns: Vec<usize>,
    pub out: &'a Path,
}

/// Best-of-n against reward models trained on fractions of the comparisons, then against
/// the pipeline's own.
pub struct BonStudy {
    pub rms: Vec<RmPoint>,
    pub bon: Vec<Curve>,
    /// Each fraction's reward model's scores of the samples, (prompts, N).
    pub fraction_proxies: Vec<Vec<Vec<f64>>>,
    /// The pipeline's reward model's scores of the samples.
    pub proxy: Vec<Vec<f64>>,
    pub bon_by_family: Vec<FamilyRow>,
    pub bon_picks: Vec<Pick>,
}

/// PPO at each β against the pipeline's reward model.
pub struct PpoStudy {
    pub ppo: Vec<Curve>,
    pub ppo_heldout: Vec<Column>,
    pub sft_heldout: Column,
    /// The run at the pipeline's β, for the reward-hacking table.
    pub pipeline_run: Option<HackRun>,
}

impl<'a> Study<'a> {
    /// The pipeline's models in chapter 6's environment, optimising its reward model.
    fn env(&self) -> Env<'a> {
        Env {
            world: self.inp.world,
            tok: self.inp.tok,
            reference: self.inp.sft,
            rm: self.inp.rm,
            corpus: self.inp.corpus,
            score: None,
        }
    }

    /// The samples' best-of-n curve under the scores `proxy`.
    fn bon_curve(&self, label: String, proxy: &[Vec<f64>]) -> Curve {
        study::bon_curve(label, &self.samples, proxy, &self.ns, self.cfg.seed)
    }

    /// A reward model's scores of the samples.
    fn proxy(&self, rm: &ch05_reward::RewardModel) -> Result<Vec<Vec<f64>>> {
        study::proxy_scores(rm, self.inp.tok, &self.samples, self.cfg.missing_end_score)
    }

    /// One PPO run of the pipeline's configuration at `beta` (the study's settings), in
    /// `env`, into `out/dir`; `what` names the reward for the progress line.
    fn ppo(
        &self,
        what: &str,
        env: Env,
        beta: f64,
        dir: &str,
        on_progress: &mut dyn FnMut(&str),
    ) -> Result<ch06_ppo::Report> {
        let c = study::ppo_config(self.inp.ppo_config, beta, self.cfg);
        let eval = EvalConfig::default();
        ch06_ppo::run(env, &c, &eval, &self.out.join(dir), |s| {
            on_progress(&format!(
                "PPO against {what}, β = {beta}: iteration {}/{}, KL {:.1}, gold {:+.2}",
                s.iteration, c.iterations, s.kl, s.gold_reward
            ))
        })
        .map(|(_, report)| report)
    }

    /// Best-of-n against reward models on each fraction of the comparisons, then the
    /// pipeline's.
    pub fn best_of_n(&self, on_progress: &mut dyn FnMut(&str)) -> Result<BonStudy> {
        let (inp, cfg) = (&self.inp, self.cfg);
        let (mut rms, mut bon, mut fraction_proxies) = (Vec::new(), Vec::new(), Vec::new());
        for &f in &cfg.rm_fractions {
            on_progress(&format!(
                "training a reward model on {:.0}% of the comparisons",
                100.0 * f
            ));
            let w = study::with_fraction_of_prompts(inp.world, f);
            let out = self.out.join(format!("rm-{f}"));
            let (rm_f, rep) = ch05_reward::run(&w, inp.tok, inp.sft, inp.rm_config, &out, |_| {})?;
            rms.push(rm_point(f, &(&rep).into()));
            let proxy = self.proxy(&rm_f)?;
            bon.push(self.bon_curve(format!("RM on {} comparisons", rep.n_train_pairs), &proxy));
            fraction_proxies.push(proxy);
        }
        on_progress("scoring the samples with the pipeline's reward model");
        rms.push(rm_point(1.0, inp.rm_summary));
        let proxy = self.proxy(inp.rm)?;
        let label = format!("RM on {} comparisons", inp.rm_summary.n_train_pairs);
        bon.push(self.bon_curve(label, &proxy));
        let peak = bon.last().unwrap().peak.step;
        Ok(BonStudy {
            bon_by_family: study::by_family(&self.samples, &proxy, peak),
            bon_picks: study::picks(&self.samples, &proxy, 2),
            rms,
            bon,
            fraction_proxies,
            proxy,
        })
    }

    /// PPO at each β, each curve relative to the SFT policy on training prompts.
    pub fn ppo_at_each_beta(&self, on_progress: &mut dyn FnMut(&str)) -> Result<PpoStudy> {
        let (inp, cfg) = (&self.inp, self.cfg);
        let reference_prompts: Vec<world::Prompt> = (inp.world.prompts.train.iter())
            .cycle()
            .take(cfg.reference_prompts)
            .cloned()
            .collect();
        let (w, tok, sft, rm) = (inp.world, inp.tok, inp.sft, inp.rm);
        let reference = study::reference_point(w, tok, sft, rm, &reference_prompts, cfg)?;
        let (mut ppo, mut ppo_heldout, mut sft_heldout, mut pipeline_run) =
            (Vec::new(), Vec::new(), None, None);
        for &beta in &cfg.betas {
            let dir = format!("ppo-beta-{beta}");
            let report = self.ppo("the reward model", self.env(), beta, &dir, on_progress)?;
            let label = format!("PPO, β = {beta}");
            ppo.push(study::ppo_curve(
                label,
                &report.history,
                cfg.window,
                reference,
            ));
            if beta == inp.ppo_config.kl_coef {
                let label = "the pipeline's reward model".into();
                pipeline_run = Some(HackRun::new(label, &report, cfg.window));
            }
            ppo_heldout.push(report.rlhf);
            sft_heldout.get_or_insert(report.sft);
        }
        Ok(PpoStudy {
            ppo,
            ppo_heldout,
            sft_heldout: sft_heldout.expect("validate() asks for at least one β"),
            pipeline_run,
        })
    }

    /// Reward hacking you can read, at the pipeline's β: PPO against the seed's length
    /// reward, and a reward model trained on comparisons from a labeler who likes long
    /// answers (its best-of-n curve, and PPO against it). `runs` gains the two PPO runs;
    /// returns the report and the biased reward model's scores of the samples.
    pub fn hacking(
        &self,
        bon: &BonStudy,
        sft_heldout: &Column,
        mut runs: Vec<HackRun>,
        on_progress: &mut dyn FnMut(&str),
    ) -> Result<(HackingReport, Vec<Vec<f64>>)> {
        let (inp, cfg) = (&self.inp, self.cfg);
        let beta = inp.ppo_config.kl_coef;
        let length_env = Env {
            score: Some(hacking::seed_length_reward),
            ..self.env()
        };
        let what = "the seed's length reward";
        let report = self.ppo(what, length_env, beta, "ppo-seed-length", on_progress)?;
        runs.push(HackRun::new(what.into(), &report, cfg.window));
        on_progress(&format!(
            "training a reward model on a labeler who adds {} per word",
            cfg.bias_per_word
        ));
        let biased_cfg = RmConfig {
            labeler: world::BradleyTerry {
                bias_per_word: cfg.bias_per_word,
                ..inp.rm_config.labeler
            },
            ..inp.rm_config.clone()
        };
        let out = self.out.join("rm-biased");
        let (rm_b, rep_b) =
            ch05_reward::run(inp.world, inp.tok, inp.sft, &biased_cfg, &out, |_| {})?;
        let proxy_b = self.proxy(&rm_b)?;
        let bon_biased = self.bon_curve("RM of a labeler who likes length".into(), &proxy_b);
        let (slope_unbiased, slope_biased) = (
            hacking::length_slope(&self.samples, &bon.proxy),
            hacking::length_slope(&self.samples, &proxy_b),
        );
        let biased_env = Env {
            rm: &rm_b,
            ..self.env()
        };
        let what = "the biased labeler's reward model";
        let report = self.ppo(what, biased_env, beta, "ppo-biased-rm", on_progress)?;
        let label = format!(
            "the reward model of a labeler who adds {} per word",
            cfg.bias_per_word
        );
        runs.push(HackRun::new(label, &report, cfg.window));
        let report = HackingReport {
            bias_per_word: cfg.bias_per_word,
            biased_rm: rm_point(1.0, &RmSummary::from(&rep_b)),
            slope_unbiased,
            slope_biased,
            bon_biased,
            sft_words: hacking::mean_words(&sft_heldout.responses),
            runs,
        };
        Ok((report, proxy_b))
    }

    /// Whose preferences? A reward model of labelers who disagree about length, in unequal
    /// numbers, and the length slope of its scores.
    pub fn population(&self, on_progress: &mut dyn FnMut(&str)) -> Result<PopulationReport> {
        let inp = &self.inp;
        on_progress("training a reward model on labelers who disagree");
        let groups: Vec<(f64, f64)> = self.cfg.population.clone();
        let out = self.out.join("rm-population");
        let (rm_pop, mut population) = population::study(
            inp.world,
            inp.tok,
            inp.sft,
            inp.rm_config,
            inp.rm,
            &groups,
            &out,
        )?;
        population.slope = hacking::length_slope(&self.samples, &self.proxy(&rm_pop)?);
        Ok(population)
    }

    /// Mitigations at matched KL: best-of-n from the same samples with other proxies
    /// (ensembles of the larger reward models, a length penalty), and early stopping on a
    /// trusted gold check.
    pub fn mitigations(&self, bon: &BonStudy, proxy_b: &[Vec<f64>]) -> MitigationReport {
        let cfg = self.cfg;
        let proxy = &bon.proxy;
        let members: Vec<&[Vec<f64>]> = cfg
            .rm_fractions
            .iter()
            .zip(&bon.fraction_proxies)
            .filter(|(f, _)| **f >= 0.5)
            .map(|(_, p)| p.as_slice())
            .chain([proxy.as_slice()])
            .collect();
        let pw = cfg.length_penalty_per_word;
        let samples = &self.samples;
        let proxies = [
            ("the reward model".to_string(), proxy.clone()),
            (
                format!("mean of {} reward models", members.len()),
                mitigations::ensemble_mean(&members),
            ),
            (
                format!("min of {} reward models", members.len()),
                mitigations::ensemble_min(&members),
            ),
            (
                format!("the reward model − {pw} per word"),
                mitigations::length_penalised(samples, proxy, pw),
            ),
            (
                "the biased labeler's reward model".to_string(),
                proxy_b.to_vec(),
            ),
            (
                format!("the biased labeler's reward model − {pw} per word"),
                mitigations::length_penalised(samples, proxy_b, pw),
            ),
        ];
        let curves = proxies
            .into_iter()
            .map(|(label, p)| self.bon_curve(label, &p))
            .collect();
        let trusted = cfg.trusted_prompts.min(samples.prompts.len() - 1);
        MitigationReport {
            curves,
            per_word: pw,
            early_stop: mitigations::early_stop(samples, proxy, &self.ns, trusted),
        }
    }
}
