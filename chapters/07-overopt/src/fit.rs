//! Gao, Schulman & Hilton (2022) found that the gold reward of an over-optimised policy,
//! as a function of d = √KL(π ‖ π_init), follows two simple forms:
//!
//! ```text
//! best-of-n:  R_bon(d) = d (α − β d)
//! RL:         R_RL(d)  = d (α − β ln d)
//! ```
//!
//! Both are linear in (α, β), so ordinary least squares fits them exactly: no optimiser.

use anyhow::{Result, ensure};
use serde::{Deserialize, Serialize};

/// Which of Gao's forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// R(d) = d (α − β d)
    BestOfN,
    /// R(d) = d (α − β ln d)
    Rl,
}

impl Form {
    /// The term β multiplies (with a minus sign): d² or d ln d.
    pub fn g(self, d: f64) -> f64 {
        match self {
            Form::BestOfN => d * d,
            Form::Rl if d > 0.0 => d * d.ln(),
            Form::Rl => 0.0,
        }
    }

    /// The fitted gold gain at d.
    pub fn eval(self, alpha: f64, beta: f64, d: f64) -> f64 {
        alpha * d - beta * self.g(d)
    }
}

/// A fit of one of Gao's forms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub form: Form,
    pub alpha: f64,
    pub beta: f64,
    /// 1 − SS_residual / SS_total (around the mean of the gains).
    pub r2: f64,
    /// Where the fitted gain peaks, and its value there; `None` when β ≤ 0 (no peak: the
    /// fit still rises at any distance).
    pub peak_d: Option<f64>,
    pub peak_gain: Option<f64>,
}

impl Fit {
    /// The fitted gain at d.
    pub fn eval(&self, d: f64) -> f64 {
        self.form.eval(self.alpha, self.beta, d)
    }
}

// ANCHOR: fit
/// Least squares for R(d) = α d − β g(d) through points (d, gain), no intercept (the gain
/// is 0 at d = 0 by construction). With x₁ = d and x₂ = −g(d), the normal equations
///
/// ```text
/// [Σx₁x₁ Σx₁x₂] [α]   [Σx₁y]
/// [Σx₁x₂ Σx₂x₂] [β] = [Σx₂y]
/// ```
///
/// are solved by Cramer's rule. The peak: d* = α / 2β for best-of-n (gain α²/4β), and
/// d* = e^(α/β − 1) for RL (gain β d*), where the derivative is zero.
pub fn fit(form: Form, points: &[(f64, f64)]) -> Result<Fit> {
    ensure!(
        points.len() >= 2,
        "a fit of two coefficients needs at least 2 points, got {}",
        points.len()
    );
    ensure!(
        points
            .iter()
            .all(|(d, y)| d.is_finite() && *d >= 0.0 && y.is_finite()),
        "points must be finite with d ≥ 0"
    );
    let (mut s11, mut s12, mut s22, mut s1y, mut s2y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(d, y) in points {
        let (x1, x2) = (d, -form.g(d));
        s11 += x1 * x1;
        s12 += x1 * x2;
        s22 += x2 * x2;
        s1y += x1 * y;
        s2y += x2 * y;
    }
    let det = s11 * s22 - s12 * s12;
    ensure!(
        det.abs() > 1e-12 * (s11 * s22).max(1e-300),
        "the points do not determine both coefficients (all at one distance?)"
    );
    let alpha = (s1y * s22 - s2y * s12) / det;
    let beta = (s11 * s2y - s12 * s1y) / det;
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|&(d, y)| (y - form.eval(alpha, beta, d)).powi(2))
        .sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    };
    let peak_d = (beta > 0.0).then(|| match form {
        Form::BestOfN => alpha / (2.0 * beta),
        Form::Rl => (alpha / beta - 1.0).exp(),
    });
    let peak_gain = peak_d.map(|d| form.eval(alpha, beta, d));
    Ok(Fit {
        form,
        alpha,
        beta,
        r2,
        peak_d,
        peak_gain,
    })
}
// ANCHOR_END: fit
