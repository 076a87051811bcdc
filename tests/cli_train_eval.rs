//! `imcnas train` then `imcnas eval` end to end on the embedded digits: a run killed after its
//! first checkpoint resumes without losing or repeating an epoch and ends where an
//! uninterrupted run ends; the evaluation writes its JSON, CSV and plot; bad input fails in
//! one line.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcnas-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn imcnas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imcnas"))
}

const TRAIN: [&str; 10] = [
    "train",
    "--dataset",
    "digits",
    "--arch",
    "resnet8-w8",
    "--epochs",
    "4",
    "--seed",
    "5",
    "--noise-eta",
];

fn train_args(out: &Path) -> Command {
    let mut cmd = imcnas();
    cmd.args(TRAIN)
        .args([
            "0.05",
            "--fake-quant",
            "aihwkit-default",
            "--clip-sigma",
            "2.5",
            "--gain-noise",
            "0.1",
            "--out",
        ])
        .arg(out);
    cmd
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn killed_training_resumes_to_the_same_result_and_evaluates() {
    let whole = scratch("whole");
    ok(train_args(&whole).output().unwrap());
    let full = metrics(&whole);
    assert_eq!(full.len(), 4);

    // Kill a second run as soon as its first epoch is on disk: the metrics file is written
    // right after the checkpoint.
    let killed = scratch("killed");
    let mut child = train_args(&killed)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !killed.join("metrics.jsonl").exists() && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done_before = metrics(&killed).len();
    assert!(
        done_before < 4,
        "the run finished before it could be killed"
    );

    // Without --resume the folder is refused; with it, the run continues.
    let refused = train_args(&killed).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--resume"));
    ok(train_args(&killed).arg("--resume").output().unwrap());
    let resumed = metrics(&killed);
    let epochs: Vec<u64> = resumed
        .iter()
        .map(|m| m["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4], "each epoch exactly once");
    for (a, b) in resumed.iter().zip(&full) {
        for key in ["train_loss", "val_accuracy"] {
            let (a, b) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{key}: {a} vs {b}"
            );
        }
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(killed.join("train.json")).unwrap()).unwrap();
    assert_eq!(saved["arch"], "resnet8-w8");

    // Evaluate the model on PCM hardware at two drift times.
    let report = scratch("eval");
    let stdout = ok(imcnas()
        .args([
            "eval",
            "--backend",
            "cpu",
            "--config",
            "pcm",
            "--dataset",
            "digits",
        ])
        .args([
            "--instances",
            "3",
            "--t-inference",
            "0,1d",
            "--json",
            "--cost",
            "--model",
        ])
        .arg(&whole)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap());
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1]["time"]["seconds"].as_f64(), Some(86_400.0));
    assert_eq!(points[0]["accuracies"].as_array().unwrap().len(), 3);
    // The cost of the same network on the same configuration's chip.
    let layers = json["cost"]["layers"].as_array().unwrap();
    assert_eq!(
        layers.len(),
        10,
        "resnet8: 9 convolutions and the classifier"
    );
    assert!(json["cost"]["tops_per_w"].as_f64().unwrap() > 0.0);
    assert!(report.join("cost.json").exists());
    let float = json["float_accuracy"].as_f64().unwrap();
    assert!(float > 0.9, "float accuracy {float}");
    for p in points {
        let mean = p["mean"].as_f64().unwrap();
        assert!(mean > 0.1 && mean <= 1.0, "mean {mean}");
    }
    let csv = std::fs::read_to_string(report.join("eval.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3);
    let svg = std::fs::read_to_string(report.join("accuracy-vs-drift.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("accuracy"));
    assert!(report.join("eval.config.toml").exists());
    assert!(
        !report.join("eval.partial.json").exists(),
        "partial results removed when done"
    );

    // A killed evaluation keeps the chips it finished and measures only the rest.
    let eval = |dir: &Path| {
        let mut cmd = imcnas();
        cmd.args([
            "eval",
            "--backend",
            "cpu",
            "--config",
            "pcm",
            "--instances",
            "12",
        ])
        .args(["--t-inference", "1d", "--json", "--model"])
        .arg(&whole)
        .arg("--out")
        .arg(dir);
        cmd
    };
    let accuracies = |stdout: &str| -> Vec<f64> {
        let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
        serde_json::from_value(v["points"][0]["accuracies"].clone()).unwrap()
    };
    let uninterrupted = accuracies(&ok(eval(&scratch("eval-whole")).output().unwrap()));
    let interrupted = scratch("eval-killed");
    let mut child = eval(&interrupted)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = interrupted.join("eval.partial.json");
    let started = Instant::now();
    while !partial.exists() && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&partial).unwrap()).unwrap();
    let kept = saved["accuracies"][0].as_array().unwrap().len();
    assert!((1..12).contains(&kept), "{kept} chips saved");
    assert_eq!(
        accuracies(&ok(eval(&interrupted).output().unwrap())),
        uninterrupted
    );
}

/// Runs a command expected to fail; returns its one-line error.
fn fails(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert!(!output.status.success(), "succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn bad_training_and_evaluation_input_fails_in_one_line() {
    let out = scratch("bad");
    let e = fails(
        imcnas()
            .args(["train", "--dataset", "imagenet", "--out"])
            .arg(&out),
    );
    assert!(e.contains("imagenet"), "{e}");
    let e = fails(
        imcnas()
            .args(["train", "--arch", "resnet9", "--out"])
            .arg(&out),
    );
    assert!(e.contains("resnet9"), "{e}");
    let e = fails(
        imcnas()
            .args(["train", "--arch", "lenet", "--out"])
            .arg(&out),
    );
    assert!(e.contains("conv2"), "{e}");
    let e = fails(
        imcnas()
            .args([
                "train",
                "--dataset",
                "mnist",
                "--data-dir",
                "/nonexistent",
                "--out",
            ])
            .arg(&out),
    );
    assert!(e.contains("/nonexistent"), "{e}");
    let e = fails(
        imcnas()
            .args(["train", "--gain-noise", "1.5", "--out"])
            .arg(&out),
    );
    assert!(e.contains("gain noise") && e.contains("1.5"), "{e}");
    assert!(!out.exists(), "nothing written on bad input");
    let e = fails(imcnas().args(["eval", "--config", "pcm", "--model", "/nonexistent"]));
    assert!(e.contains("network.json"), "{e}");
    let e = fails(imcnas().args([
        "eval",
        "--config",
        "pcm",
        "--t-inference",
        "1x",
        "--model",
        "/x",
    ]));
    assert!(e.contains("1x"), "{e}");
}
