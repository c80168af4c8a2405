//! Each PPO equation on hand-computed values.

use candle_core::{Device, Tensor};
use ch06_ppo::core::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn t(v: &[f32]) -> Tensor {
    Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap()
}

#[test]
fn kl_estimators() {
    // log π = −1, log π_ref = −2: k1 = 1; ρ = e^{−1}, k3 = e^{−1} − 1 + 1 = 0.367879.
    assert!(close(kl_estimate(-1.0, -2.0, KlEstimator::K1), 1.0));
    assert!(close(
        kl_estimate(-1.0, -2.0, KlEstimator::K3),
        (-1f64).exp()
    ));
    // k1 can be negative per token; k3 never is; both vanish when the policies agree.
    assert!(kl_estimate(-2.0, -1.0, KlEstimator::K1) < 0.0);
    assert!(kl_estimate(-2.0, -1.0, KlEstimator::K3) > 0.0);
    assert_eq!(kl_estimate(-0.7, -0.7, KlEstimator::K3), 0.0);
    // Averaged over samples from π, both estimate KL(π‖π_ref): two outcomes, π = (0.8, 0.2), π_ref = (0.5, 0.5).
    let (p, q) = ([0.8f64, 0.2], [0.5f64, 0.5]);
    let exact: f64 = p.iter().zip(&q).map(|(a, b)| a * (a / b).ln()).sum();
    for est in [KlEstimator::K1, KlEstimator::K3] {
        let mean: f64 = p
            .iter()
            .zip(&q)
            .map(|(a, b)| a * kl_estimate(a.ln(), b.ln(), est))
            .sum();
        assert!(close(mean, exact), "{est:?}: {mean} vs {exact}");
    }
}

#[test]
fn shaped_rewards_put_the_score_on_the_last_token() {
    let r = shaped_rewards(
        2.0,
        &[-1.0, -0.5, -0.2],
        &[-1.5, -0.5, -0.1],
        0.1,
        KlEstimator::K1,
    );
    // −0.1 · (0.5, 0, −0.1) + (0, 0, 2)
    assert!(
        close(r[0], -0.05) && close(r[1], 0.0) && close(r[2], 0.01 + 2.0),
        "{r:?}"
    );
}

#[test]
fn gae_and_returns_by_hand() {
    // r = (0, 0, 1), V = (0.5, 0.6, 0.7), γ = 1, λ = 0.95.
    // δ2 = 1 − 0.7 = 0.3; δ1 = 0 + 0.7 − 0.6 = 0.1; δ0 = 0 + 0.6 − 0.5 = 0.1.
    // A2 = 0.3; A1 = 0.1 + 0.95·0.3 = 0.385; A0 = 0.1 + 0.95·0.385 = 0.46575.
    let (a, ret) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.6, 0.7], 1.0, 0.95);
    assert!(
        close(a[2], 0.3) && close(a[1], 0.385) && close(a[0], 0.46575),
        "{a:?}"
    );
    assert!(
        close(ret[0], 0.96575) && close(ret[1], 0.985) && close(ret[2], 1.0),
        "{ret:?}"
    );
    // λ = 1, γ = 1: the advantage is the return-to-go minus the value.
    let (a, _) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.6, 0.7], 1.0, 1.0);
    assert!(close(a[0], 0.5) && close(a[1], 0.4));
    // λ = 0: one-step TD errors.
    let (a, _) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.6, 0.7], 1.0, 0.0);
    assert!(close(a[0], 0.1) && close(a[1], 0.1) && close(a[2], 0.3));
}

#[test]
fn whitening_by_hand() {
    let w = whiten(&[1.0, 2.0, 3.0, 6.0], true); // mean 3, std √3.5
    let s = 3.5f64.sqrt();
    assert!(close(w[0], -2.0 / s) && close(w[3], 3.0 / s), "{w:?}");
    let keep = whiten(&[1.0, 2.0, 3.0, 6.0], false);
    assert!(close(keep[0], 3.0 - 2.0 / s));
    // Nested: responses of different lengths are whitened together.
    let n = whiten_nested(&[vec![1.0, 2.0], vec![3.0, 6.0]], true);
    assert_eq!(n.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
    assert!(close(n[1][1], 3.0 / s));
}

#[test]
fn clipped_policy_loss_by_hand() {
    // Token 0: ratio e^{0.5} = 1.6487 > 1.2 with A = 1 → clipped: −1.2.
    // Token 1: ratio e^{−0.5} = 0.6065 < 0.8 with A = 1 → unclipped is worse: −0.6065.
    // Token 2: ratio 1, A = −2 → 2. Token 3: masked out.
    let new = t(&[-0.5, -1.5, -1.0, 5.0]);
    let old = t(&[-1.0, -1.0, -1.0, 0.0]);
    let adv = t(&[1.0, 1.0, -2.0, 100.0]);
    let mask = t(&[1.0, 1.0, 1.0, 0.0]);
    let (l, clipfrac) = policy_loss(&new, &old, &adv, &mask, 0.2).unwrap();
    let want = (-1.2 - (-0.5f64).exp() + 2.0) / 3.0;
    assert!(
        close(l.to_scalar::<f32>().unwrap() as f64, want),
        "{} vs {want}",
        l
    );
    assert!(close(clipfrac, 1.0 / 3.0), "{clipfrac}");
    // No gradient through the clipped token.
    let v = candle_core::Var::from_tensor(&new).unwrap();
    let (l, _) = policy_loss(v.as_tensor(), &old, &adv, &mask, 0.2).unwrap();
    let g = l
        .backward()
        .unwrap()
        .get(&v)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(g[0], 0.0);
    assert!(g[1] < 0.0 && g[2] > 0.0 && g[3] == 0.0, "{g:?}");
}

#[test]
fn clipped_value_loss_by_hand() {
    // Token 0: V_new 1.0, V_old 0.5, R 2.0, ε 0.2: unclipped (1 − 2)² = 1, clipped
    // (0.7 − 2)² = 1.69 → 1.69. Token 1: V_new 0.6 within ε: (0.6 − 0)² = 0.36.
    let l = value_loss(
        &t(&[1.0, 0.6]),
        &t(&[0.5, 0.5]),
        &t(&[2.0, 0.0]),
        &t(&[1.0, 1.0]),
        0.2,
    )
    .unwrap();
    assert!(close(
        l.to_scalar::<f32>().unwrap() as f64,
        0.5 * (1.69 + 0.36) / 2.0
    ));
}

#[test]
fn adaptive_kl_controller() {
    let mut c = AdaptiveKl {
        beta: 0.1,
        target: 6.0,
        horizon: 10_000.0,
    };
    c.update(12.0, 1000); // error clipped to +0.2: β · (1 + 0.2 · 0.1)
    assert!(close(c.beta, 0.102));
    c.update(6.0, 1000); // on target: unchanged
    assert!(close(c.beta, 0.102));
    c.update(3.0, 1000); // error −0.5 clipped to −0.2
    assert!(close(c.beta, 0.102 * 0.98));
}

#[test]
fn approx_kl_and_explained_variance() {
    let kl = approx_kl(&t(&[-1.0, -2.0]), &t(&[-1.5, -2.0]), &t(&[1.0, 1.0])).unwrap();
    assert!(close(kl, 0.5 * 0.25 / 2.0));
    assert!(close(
        explained_variance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]),
        1.0
    ));
    assert!(close(
        explained_variance(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]),
        0.0
    ));
}

#[test]
fn clipping_zeroes_the_gradient_where_it_binds() {
    // One token, logp_old = 0, ε = 0.2. d/d(logp_new) of the loss −A ρ is −A ρ inside the
    // clip range (ρ = e^{logp_new}); where clipping binds the objective is flat: gradient 0.
    let grad = |rho: f64, a: f32| {
        let new = candle_core::Var::new(&[[rho.ln() as f32]], &Device::Cpu).unwrap();
        let (loss, clipfrac) =
            policy_loss(new.as_tensor(), &t(&[0.0]), &t(&[a]), &t(&[1.0]), 0.2).unwrap();
        let g = loss
            .backward()
            .unwrap()
            .get(&new)
            .map(|g| g.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0])
            .unwrap_or(0.0);
        (g as f64, clipfrac)
    };
    for (rho, a, clipped) in [
        (1.1, 1.0, false),
        (1.5, 1.0, true),
        (0.5, 1.0, false),
        (0.9, -1.0, false),
        (0.5, -1.0, true),
        (1.5, -1.0, false),
    ] {
        let (g, clipfrac) = grad(rho, a);
        if clipped {
            assert_eq!(
                g, 0.0,
                "ρ = {rho}, A = {a}: clipped, the gradient must be zero"
            );
            assert_eq!(clipfrac, 1.0);
        } else {
            assert!(
                (g - (-(a as f64) * rho)).abs() < 1e-5,
                "ρ = {rho}, A = {a}: gradient {g}, expected {}",
                -(a as f64) * rho
            );
            assert_eq!(clipfrac, 0.0);
        }
    }
    // The figure's curves: flat beyond 1 + ε for A > 0, below 1 − ε for A < 0.
    let chart = ch06_ppo::plots::clip_objective(0.2).unwrap();
    let svg = plot::Chart::to_svg(&chart).unwrap();
    assert!(svg.contains("A = +1") && svg.contains("A = −1"));
}
