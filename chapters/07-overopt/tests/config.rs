//! The study's configuration: the presets are valid, and a bad PPO setting of the study is
//! refused by name before anything is sampled or trained.

use ch07_overopt::OveroptConfig;

#[test]
fn presets_are_valid() {
    OveroptConfig::tiny().validate().unwrap();
    OveroptConfig::small().validate().unwrap();
}

#[test]
fn bad_ppo_rollouts_are_refused_by_name() {
    let zero_batch = OveroptConfig {
        ppo_rollout_batch: 0,
        ..OveroptConfig::tiny()
    };
    let e = zero_batch.validate().unwrap_err().to_string();
    assert!(e.contains("ppo_rollout_batch"), "{e}");
    for t in [0.0, -1.0, f64::NAN] {
        let bad = OveroptConfig {
            ppo_temperature: t,
            ..OveroptConfig::tiny()
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("ppo_temperature"), "{t}: {e}");
    }
}
