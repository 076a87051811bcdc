//! Network-level agreement with IBM aihwkit 1.2: the LeNet of
//! `../shared/reference/aihwkit-network` (trained on Fashion-MNIST) on all 10,000 test
//! images, against aihwkit's own accuracies over its 10 chip draws. The quantisation-only
//! chip is deterministic and must agree to a tenth of a point; under the `aihwkit-default`
//! PCM chip one year after programming, with and without global drift compensation (the
//! points furthest from programming, where drift and its compensation matter most), our
//! chips' mean must lie within 3 combined standard errors of aihwkit's and their spread
//! within a factor 1.5 of aihwkit's.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::cpu::CpuBackend;
use imcnas::config::{self, DriftTime};
use imcnas::data::{self, DatasetName, Split};
use imcnas::eval::{EvalOptions, evaluate};
use imcnas::network::Network;

/// Chip instances on our side per point: enough for the spread to be known within ~13%.
const CHIPS: u32 = 30;

fn reference() -> serde_json::Value {
    let path = common::shared().join("reference/aihwkit-network/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Our chips' accuracies on `preset` (plus overrides) at `time`.
fn ours(preset: &str, overrides: &[&str], time: &str, chips: u32) -> Vec<f64> {
    let dir = common::shared().join("reference/aihwkit-network");
    let net = Network::load(&dir).unwrap();
    let data = data::load(
        DatasetName::FashionMnist,
        Split::Test,
        Some(&common::shared().join("datasets")),
    )
    .unwrap();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let hw = config::load(preset, &overrides).unwrap();
    let options = EvalOptions {
        instances: chips,
        times: vec![time.parse::<DriftTime>().unwrap()],
        seed: 0,
        batch: 500,
        calibration: None,
    };
    let report = evaluate(&CpuBackend, &hw, preset, &net, &data, &options, &[], |_| {
        Ok(())
    })
    .unwrap();
    assert_eq!(report.images, 10_000);
    report.points[0].accuracies.clone()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn quantisation_alone_gives_aihwkit_s_accuracy() {
    let expected = reference()["results"]["quant-only"]["acc"]
        .as_f64()
        .unwrap();
    let got = ours("quant-only", &[], "0", 1)[0];
    eprintln!("quant-only: ours {got:.4}, aihwkit {expected:.4}");
    assert!((got - expected).abs() <= 0.001, "{got} vs {expected}");
}

#[test]
fn a_year_of_pcm_drift_agrees_with_aihwkit_with_and_without_compensation() {
    let reference = reference();
    for (config, overrides) in [
        ("aihwkit-default", &[][..]),
        (
            "aihwkit-default-nocomp",
            &["device.drift_compensation=\"none\""][..],
        ),
    ] {
        let theirs: Vec<f64> =
            reference["results"][config]["by_time"]["31536000.0"]["acc_per_seed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
        let (m_t, s_t) = mean_std(&theirs);
        let (m_o, s_o) = mean_std(&ours("aihwkit-default", overrides, "1y", CHIPS));
        let se = (s_t * s_t / theirs.len() as f64 + s_o * s_o / f64::from(CHIPS)).sqrt();
        eprintln!(
            "{config} at 1 year: ours {:.2} ± {:.2} ({CHIPS} chips), aihwkit {:.2} ± {:.2} ({} chips), {:.1} combined SE apart",
            100.0 * m_o,
            100.0 * s_o,
            100.0 * m_t,
            100.0 * s_t,
            theirs.len(),
            (m_o - m_t).abs() / se
        );
        assert!(
            (m_o - m_t).abs() <= 3.0 * se,
            "{config}: mean {m_o} vs {m_t}"
        );
        assert!(
            s_o <= 1.5 * s_t && s_t <= 1.5 * s_o,
            "{config}: chip-to-chip spread {s_o} vs {s_t}"
        );
    }
}
