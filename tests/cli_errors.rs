//! Bad input to `imcnas mvm` and `imcnas cost` gives a one-line error naming the problem and a
//! non-zero exit, never a panic, and writes nothing.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch() -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("imcnas-cli-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn npy(dir: &Path, name: &str, shape: &[usize], data: &[f32]) -> PathBuf {
    let path = dir.join(name);
    imcnas::io::write_npy(&path, shape, data).unwrap();
    path
}

/// A valid 8x6 layer, 3 inputs, in `dir`.
fn valid_files(dir: &Path) -> (PathBuf, PathBuf) {
    (
        npy(dir, "w.npy", &[8, 6], &common::uniform(48, -0.5, 0.5, 1)),
        npy(dir, "x.npy", &[3, 6], &common::uniform(18, -1.0, 1.0, 2)),
    )
}

/// Runs `imcnas mvm` and returns (success, stderr); checks that a failure printed exactly one
/// line, no panic, and left no output file.
fn mvm(w: &Path, x: &Path, config: &str, extra: &[&str]) -> (bool, String) {
    let out = w.with_file_name("y.npy");
    let output = Command::new(env!("CARGO_BIN_EXE_imcnas"))
        .args(["mvm", "--backend", "cpu", "--config", config, "--out"])
        .arg(&out)
        .arg("--weights")
        .arg(w)
        .arg("--inputs")
        .arg(x)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "not one line: {stderr}"
        );
        assert!(!out.exists(), "output written despite the error");
    }
    (output.status.success(), stderr)
}

fn fails_with(w: &Path, x: &Path, config: &str, extra: &[&str], needles: &[&str]) {
    let (ok, stderr) = mvm(w, x, config, extra);
    assert!(!ok, "expected failure, got success: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "error lacks `{needle}`: {stderr}");
    }
}

#[test]
fn a_valid_call_writes_outputs_and_the_config_beside_them() {
    let dir = scratch();
    let (w, x) = valid_files(&dir);
    let (ok, stderr) = mvm(&w, &x, "aihwkit-default", &["--instances", "3"]);
    assert!(ok, "{stderr}");
    let y = imcnas::io::read_npy(&dir.join("y.npy")).unwrap();
    assert_eq!(y.shape, vec![3, 3, 8]);
    let saved = std::fs::read_to_string(dir.join("y.config.toml")).unwrap();
    assert!(saved.contains("model = \"pcm\""), "{saved}");
}

#[test]
fn shape_mismatch_between_weights_and_inputs() {
    let dir = scratch();
    let (w, _) = valid_files(&dir);
    let x = npy(&dir, "x5.npy", &[3, 5], &[0.1; 15]);
    fails_with(
        &w,
        &x,
        "ideal",
        &[],
        &["shape mismatch", "x5.npy", "6 columns"],
    );
}

#[test]
fn nan_or_inf_in_weights_or_inputs() {
    let dir = scratch();
    let (w, x) = valid_files(&dir);
    let mut bad = common::uniform(48, -0.5, 0.5, 1);
    bad[7] = f32::NAN;
    let w_nan = npy(&dir, "w_nan.npy", &[8, 6], &bad);
    fails_with(
        &w_nan,
        &x,
        "ideal",
        &[],
        &["w_nan.npy", "non-finite", "NaN", "index 7"],
    );
    let mut inf = vec![0.0; 18];
    inf[1] = f32::INFINITY;
    let x_inf = npy(&dir, "x_inf.npy", &[3, 6], &inf);
    fails_with(&w, &x_inf, "ideal", &[], &["x_inf.npy", "inf", "index 1"]);
}

#[test]
fn non_float32_and_truncated_npy_files() {
    let dir = scratch();
    let (w, x) = valid_files(&dir);
    // A float64 file, written by hand: magic, version 1.0, header, 8-byte values.
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (8, 6), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<117}\n");
    bytes.extend((padded.len() as u16).to_le_bytes());
    bytes.extend(padded.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 8 * 48));
    let f64_path = dir.join("w64.npy");
    std::fs::write(&f64_path, bytes).unwrap();
    fails_with(&f64_path, &x, "ideal", &[], &["w64.npy", "<f8", "float32"]);

    let full = std::fs::read(&w).unwrap();
    let cut = dir.join("w_cut.npy");
    std::fs::write(&cut, &full[..full.len() - 10]).unwrap();
    fails_with(&cut, &x, "ideal", &[], &["w_cut.npy", "truncated"]);

    let junk = dir.join("junk.npy");
    std::fs::write(&junk, b"not an array at all").unwrap();
    fails_with(&junk, &x, "ideal", &[], &["junk.npy", "not a valid .npy"]);
    fails_with(&dir.join("missing.npy"), &x, "ideal", &[], &["missing.npy"]);
}

#[test]
fn bits_or_tile_size_out_of_range() {
    let dir = scratch();
    let (w, x) = valid_files(&dir);
    fails_with(
        &w,
        &x,
        "aihwkit-default",
        &["--set", "dac.bits=30"],
        &["dac.bits", "30", "2..=24"],
    );
    fails_with(
        &w,
        &x,
        "aihwkit-default",
        &["--set", "adc.bits=1"],
        &["adc.bits", "= 1"],
    );
    fails_with(
        &w,
        &x,
        "aihwkit-default",
        &["--set", "tile.rows=2"],
        &["tile.rows", "4..=1024"],
    );
    fails_with(
        &w,
        &x,
        "aihwkit-default",
        &["--set", "tile.cols=4096"],
        &["tile.cols", "4096"],
    );
}

#[test]
fn unknown_config_key_or_preset() {
    let dir = scratch();
    let (w, x) = valid_files(&dir);
    let config = dir.join("hw.toml");
    std::fs::write(&config, "[adc]\nbits = 8\nbount = 10.0\n").unwrap();
    fails_with(&w, &x, config.to_str().unwrap(), &[], &["hw.toml", "bount"]);
    fails_with(
        &w,
        &x,
        "aihwkit-defualt",
        &[],
        &["aihwkit-defualt", "no preset", "aihwkit-default"],
    );
    fails_with(
        &w,
        &x,
        "ideal",
        &["--set", "device.colour=red"],
        &["colour"],
    );
    fails_with(
        &w,
        &x,
        "ideal",
        &["--set", "device.model=memristor"],
        &["memristor"],
    );
}

/// `imcnas cost` prints a table for a built-in architecture or a model folder, and refuses bad
/// arguments in one line.
#[test]
fn cost_command_prints_figures_and_refuses_bad_input() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_imcnas"))
            .arg("cost")
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let (ok, stdout, stderr) = run(&["--arch", "vgg8", "--config", "neurosim-rram-22nm"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("conv6") && stdout.contains("TOPS/W"),
        "{stdout}"
    );
    let (ok, stdout, _) = run(&[
        "--arch",
        "lenet",
        "--config",
        "neurosim-sram-22nm",
        "--json",
    ]);
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["layers"].as_array().unwrap().len(), 4);
    // A model folder needs only its architecture file.
    let dir = scratch();
    std::fs::write(
        dir.join("network.json"),
        r#"{"format": "imcnas-network", "version": 1, "input": [1, 8, 8], "classes": 10,
            "nodes": [{"name": "c", "op": "conv2d", "in_channels": 1, "out_channels": 4, "kernel": 3},
                      {"name": "f", "op": "flatten"},
                      {"name": "fc", "op": "linear", "in_features": 144, "out_features": 10}]}"#,
    )
    .unwrap();
    let model = dir.to_str().unwrap();
    let (ok, stdout, stderr) = run(&["--model", model, "--config", "neurosim-rram-22nm", "--json"]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let shapes: Vec<_> = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["shape"].clone())
        .collect();
    assert_eq!(
        shapes,
        [serde_json::json!([9, 4]), serde_json::json!([144, 10])]
    );
    for (args, needle) in [
        (
            vec!["--arch", "vgg9", "--config", "neurosim-rram-22nm"],
            "vgg9",
        ),
        (
            vec![
                "--arch",
                "vgg8",
                "--config",
                "neurosim-rram-22nm",
                "--set",
                "cost.node_nm=28",
            ],
            "cost.node_nm",
        ),
        (
            vec!["--arch", "vgg8", "--config", "no-such-chip"],
            "no-such-chip",
        ),
        (
            vec!["--model", "/nonexistent-model", "--config", "pcm"],
            "nonexistent-model",
        ),
        (
            vec!["--arch", "vgg8", "--input", "3,32", "--config", "pcm"],
            "--input",
        ),
    ] {
        let (ok, _, stderr) = run(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
