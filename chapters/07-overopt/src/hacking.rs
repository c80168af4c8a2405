//! Reward hacking you can read: PPO against the seed article's placeholder reward (a score
//! that grows with length), and against a reward model trained on a labeler who likes long
//! answers — the seed's "biased labelers lead to biased reward models and biased AI".

use world::Prompt;

// ANCHOR: seed_reward
/// The seed article's `placeholder_reward_function`: `min(len(text) / 50, 5)`, where the
/// text is the decoded prompt and response (its tensors hold both) — more characters, more
/// reward, up to 250 of them.
pub fn seed_length_reward(prompt: &Prompt, response: &str) -> f64 {
    let answer = response.strip_suffix(world::chat::END).unwrap_or(response);
    let chars = prompt.text.chars().count() + answer.chars().count();
    (chars as f64 / 50.0).min(5.0)
}
// ANCHOR_END: seed_reward

/// Words of a response's answer, as the labeler counts them.
pub fn words(response: &str) -> usize {
    world::labeler::words(world::chat::answer_part(response)).len()
}

/// A proxy's score per extra word: the [`slope`] over every sample that ended.
pub fn length_slope(samples: &crate::study::Samples, proxy: &[Vec<f64>]) -> f64 {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (rs, ps) in samples.responses.iter().zip(proxy) {
        for (r, &p) in rs.iter().zip(ps) {
            if r.ends_with(world::chat::END) {
                x.push(words(r) as f64);
                y.push(p);
            }
        }
    }
    slope(&x, &y)
}

/// The least-squares slope of `y` on `x`: cov(x, y) / var(x) (0 when x does not vary).
pub fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let var: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    if var > 0.0 { cov / var } else { 0.0 }
}

/// One PPO run of the hacking study, read three ways: its rollouts at the start and the end,
/// its held-out greedy answers, and samples.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct HackRun {
    /// What PPO optimised.
    pub label: String,
    /// Rollout means over the first and the last `window` iterations: (proxy, gold, tokens).
    pub first: (f64, f64, f64),
    pub last: (f64, f64, f64),
    /// The policy on held-out prompts (greedy), and the mean words of its answers.
    pub heldout: ch06_ppo::Column,
    pub words: f64,
    /// Sampled rollouts at a few iterations (markdown).
    pub samples: String,
}

impl HackRun {
    pub fn new(label: String, r: &ch06_ppo::Report, window: usize) -> Self {
        let mean = |h: &[ch06_ppo::train::Stats]| {
            let n = h.len().max(1) as f64;
            (
                h.iter().map(|s| s.rm_reward).sum::<f64>() / n,
                h.iter().map(|s| s.gold_reward).sum::<f64>() / n,
                h.iter().map(|s| s.length).sum::<f64>() / n,
            )
        };
        let w = window.min(r.history.len());
        HackRun {
            label,
            first: mean(&r.history[..w]),
            last: mean(&r.history[r.history.len() - w..]),
            heldout: r.rlhf.clone(),
            words: mean_words(&r.rlhf.responses),
            samples: r.samples.clone(),
        }
    }
}

/// Mean words of responses' answers.
pub fn mean_words(responses: &[String]) -> f64 {
    responses.iter().map(|r| words(r) as f64).sum::<f64>() / responses.len().max(1) as f64
}

/// What the hacking study measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct HackingReport {
    /// The biased labeler's liking for length, added to the utility per word.
    pub bias_per_word: f64,
    /// The reward model trained on the biased labeler's comparisons.
    pub biased_rm: crate::study::RmPoint,
    /// Reward-model score per extra word, by least squares over the best-of-n samples that
    /// ended: the pipeline's reward model, and the biased labeler's.
    pub slope_unbiased: f64,
    pub slope_biased: f64,
    /// Best-of-n with the biased labeler's reward model.
    pub bon_biased: crate::study::Curve,
    /// The SFT policy's held-out answers: mean words.
    pub sft_words: f64,
    /// PPO against the pipeline's reward model, the seed's length reward, the biased
    /// labeler's reward model.
    pub runs: Vec<HackRun>,
}
