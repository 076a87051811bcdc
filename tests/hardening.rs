//! Bad input that once got through: each test here guards a case that gave a wrong number with
//! exit 0, a panic, a silent loss or an unclear error, and now gives one clear line and a
//! non-zero exit (or the right behaviour) instead.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::backend::cpu::CpuBackend;
use imcnas::network::{Graph, GraphFile, Network};
use imcnas::runtime::ChipSet;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcnas-hard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn imcnas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imcnas"))
}

/// Runs `command`; on failure checks that stderr is one line without a panic.
fn run(command: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    if !status.success() {
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        // One line of error, the last; progress lines may come before it.
        let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
        assert_eq!(errors, 1, "not one error line: {stderr}");
        assert!(
            stderr
                .trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("error:")),
            "{stderr}"
        );
        assert_eq!(status.code(), Some(1), "{stderr}");
    }
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    )
}

/// Runs `command`, which must fail; returns its one line.
fn fails(command: &mut Command) -> String {
    let (ok, _, stderr) = run(command);
    assert!(!ok, "succeeded: {stderr}");
    stderr
}

/// A tiny run of the digits experiment: a supernet epoch on a few images, 4 evaluations, a
/// final evaluation of one subnet at one time.
const TINY: &[&str] = &[
    "--set",
    "data.max_train=96",
    "--set",
    "data.search_images=40",
    "--set",
    "data.test_images=20",
    "--set",
    "space.stem_widths=[4]",
    "--set",
    "space.stage_widths=[[4], [4], [4]]",
    "--set",
    "space.depths=[1]",
    "--set",
    "supernet.epochs=1",
    "--set",
    "search.population=2",
    "--set",
    "search.sample_size=2",
    "--set",
    "search.budget=4",
    "--set",
    "hardware.instances=1",
    "--set",
    "finetune.top_k=0",
    "--set",
    "final.instances=1",
    "--set",
    "final.times=[\"0\"]",
    "--set",
    "final.adc_sweep=[]",
];

fn tiny_run(out: &Path, extra: &[&str]) -> Command {
    let mut command = imcnas();
    command
        .args(["run", "--backend", "cpu", "--quiet", "--out"])
        .arg(out)
        .args(TINY)
        .args(extra);
    command
}

/// Writes a safetensors file of `tensors` (name, shape, values).
fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, values)| {
            let bytes: &[u8] = bytemuck::cast_slice(values);
            (
                name.to_string(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// A linear layer of 32 inputs and 10 outputs, its weight stored as `shape`.
fn linear_model(dir: &Path, shape: Vec<usize>) -> Result<Network, imcnas::Error> {
    std::fs::write(
        dir.join("network.json"),
        r#"{"format": "imcnas-network", "version": 1, "input": [2, 4, 4], "classes": 10,
            "nodes": [{"name": "flat", "op": "flatten"},
                      {"name": "fc", "op": "linear", "in_features": 32, "out_features": 10}]}"#,
    )
    .unwrap();
    let len = shape.iter().product();
    write_safetensors(
        &dir.join("weights.safetensors"),
        &[
            ("fc.weight", shape, common::uniform(len, -0.5, 0.5, 1)),
            ("fc.bias", vec![10], vec![0.0; 10]),
        ],
    );
    Network::load(dir)
}

/// Case 1: a tensor of another shape with the same number of values (a transposed matrix, a
/// flat vector) is refused; only the layer's own shape loads.
#[test]
fn tensors_of_another_shape_are_refused() {
    let dir = scratch("shapes");
    assert!(linear_model(&dir, vec![10, 32]).is_ok());
    for shape in [vec![32, 10], vec![320], vec![10, 32, 1]] {
        let e = linear_model(&dir, shape.clone()).unwrap_err().to_string();
        assert!(
            e.contains("fc.weight") && e.contains(&format!("{shape:?}")) && e.contains("[10, 32]"),
            "{e}"
        );
    }
}

/// A network of one linear layer `a` (4 inputs) and one `b`, with the given weights.
fn two_linear(weight_a: f32, weight_b: f32, running_var: f32) -> Result<Network, imcnas::Error> {
    let json = r#"{"format": "imcnas-network", "version": 1, "input": [4, 1, 1], "classes": 2,
      "nodes": [{"name": "flat", "op": "flatten"},
                {"name": "a", "op": "linear", "in_features": 4, "out_features": 3},
                {"name": "b", "op": "linear", "in_features": 3, "out_features": 2},
                {"name": "norm", "op": "batch_norm", "channels": 2}]}"#;
    let file: GraphFile = serde_json::from_str(json).unwrap();
    let graph = Graph::from_file(&file, "test").unwrap();
    let mut tensors = BTreeMap::new();
    tensors.insert("a.weight".to_string(), vec![weight_a; 12]);
    tensors.insert("a.bias".to_string(), vec![0.0; 3]);
    tensors.insert("b.weight".to_string(), vec![weight_b; 6]);
    tensors.insert("b.bias".to_string(), vec![0.0; 2]);
    tensors.insert("norm.weight".to_string(), vec![1.0; 2]);
    tensors.insert("norm.bias".to_string(), vec![0.0; 2]);
    tensors.insert("norm.running_mean".to_string(), vec![0.0; 2]);
    tensors.insert("norm.running_var".to_string(), vec![1.0, running_var]);
    Network::new(graph, None, tensors, "test")
}

/// Case 2: a negative batch-norm variance is refused at load, and a network whose values
/// overflow f32 is an error naming the node where the overflow first shows, not an accuracy
/// computed from NaN logits.
#[test]
fn negative_variances_and_overflowing_networks_are_errors() {
    let e = two_linear(0.1, 0.1, -1.0).unwrap_err().to_string();
    assert!(
        e.contains("norm.running_var") && e.contains("negative"),
        "{e}"
    );
    let images = vec![1.0; 4 * 5];
    let fine = two_linear(0.1, 0.1, 1.0).unwrap();
    let float = ChipSet::float(&CpuBackend, &fine).unwrap();
    assert_eq!(float.logits(&images, 5, 0).unwrap().len(), 10);
    // 4 x 1e30 is finite; 3 x 4e30 x 1e30 is not: the overflow appears at node b.
    let big = two_linear(1e30, 1e30, 1.0).unwrap();
    let float = ChipSet::float(&CpuBackend, &big).unwrap();
    let e = float.logits(&images, 5, 0).unwrap_err().to_string();
    assert!(e.contains("node b") && e.contains("inf"), "{e}");
    let hw = imcnas::config::load("ideal", &[]).unwrap();
    let chips =
        ChipSet::program(&CpuBackend, &hw, &big, imcnas::physics::rng::Seed(1), 0..1).unwrap();
    let e = chips.logits(&images, 5, 0).unwrap_err().to_string();
    assert!(e.contains("node b"), "{e}");
}

/// Trains a ResNet of stem width `width` on 64 digits for `epochs` epochs into `out`.
fn train_digits(out: &Path, width: usize, epochs: usize, extra: &[&str]) -> Command {
    let mut command = imcnas();
    command
        .args(["train", "--dataset", "digits", "--max-train", "64"])
        .args(["--arch", &format!("resnet8-w{width}")])
        .args(["--epochs", &epochs.to_string(), "--out"])
        .arg(out)
        .args(extra);
    command
}

/// Cases 3, 5 and 9: a checkpoint of another architecture is refused by its settings before
/// its weights are loaded (it panicked in burn), and a corrupted one by its checksum, naming
/// the file (it was used, or misdiagnosed as a diverged run).
#[test]
fn checkpoints_of_other_runs_and_corrupted_ones_are_refused() {
    let dir = scratch("checkpoint");
    let out = dir.join("model");
    let (ok, _, stderr) = run(&mut train_digits(&out, 4, 1, &[]));
    assert!(ok, "{stderr}");
    let e = fails(&mut train_digits(&out, 8, 2, &["--resume"]));
    assert!(e.contains("different settings"), "{e}");

    let checkpoint = out.join("checkpoint.bin");
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let middle = bytes.len() / 2;
    for chunk in bytes[middle..middle + 4096].chunks_exact_mut(4) {
        chunk.copy_from_slice(&f32::INFINITY.to_le_bytes());
    }
    std::fs::write(&checkpoint, &bytes).unwrap();
    let e = fails(&mut train_digits(&out, 4, 2, &["--resume"]));
    assert!(e.contains("corrupt") && e.contains("checkpoint.bin"), "{e}");
}

/// Case 3: `search` on a supernet trained for another space is refused before its weights are
/// loaded.
#[test]
fn a_supernet_of_another_space_is_refused() {
    let dir = scratch("supernet");
    let out = dir.join("run");
    let (ok, _, stderr) = run(&mut tiny_run(&out, &[]));
    assert!(ok, "{stderr}");
    let mut search = imcnas();
    search
        .args(["search", "--backend", "cpu", "--quiet", "--supernet"])
        .arg(out.join("supernet"))
        .arg("--out")
        .arg(dir.join("search"))
        .args(TINY)
        .args(["--set", "space.stem_widths=[8]"]);
    let e = fails(&mut search);
    assert!(
        e.contains("another space") && e.contains("supernet.bin"),
        "{e}"
    );

    // Case 10: a log whose figures cannot be is refused on resume, naming the line.
    let log = out.join("evaluations.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[1]["measurement"]["accuracy"] = serde_json::json!(5.0);
    let damaged: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, damaged).unwrap();
    let e = fails(&mut tiny_run(&out, &["--resume"]));
    assert!(
        e.contains("evaluations.jsonl") && e.contains("line 2") && e.contains("accuracy"),
        "{e}"
    );
}

/// Case 6: finite inputs whose products overflow f32 are an error, and nothing is written.
#[test]
fn products_that_overflow_are_an_error() {
    let dir = scratch("overflow");
    let w = dir.join("w.npy");
    let x = dir.join("x.npy");
    imcnas::io::write_npy(&w, &[4, 3], &common::uniform(12, 0.5, 1.0, 2)).unwrap();
    imcnas::io::write_npy(&x, &[2, 3], &[3e38; 6]).unwrap();
    let y = dir.join("y.npy");
    let mut command = imcnas();
    command
        .args(["mvm", "--backend", "cpu", "--config", "ideal", "--weights"])
        .arg(&w)
        .arg("--inputs")
        .arg(&x)
        .arg("--out")
        .arg(&y);
    let e = fails(&mut command);
    assert!(e.contains("overflow"), "{e}");
    assert!(!y.exists());
}

/// Case 7: a value of the wrong type names its key, and the `--set` or file line it came from.
#[test]
fn type_errors_name_the_key_and_its_source() {
    for (set, key) in [
        ("dac.bits=-1", "dac.bits"),
        ("tile.rows=", "tile.rows"),
        ("adc.out_noise=NaN", "adc.out_noise"),
        ("dac.bits=7.5", "dac.bits"),
        ("device.t_inference_s=1e400", "device.t_inference_s"),
    ] {
        let e = fails(imcnas().args(["cost", "--arch", "lenet", "--config", "pcm", "--set", set]));
        assert!(
            e.contains(&format!("--set {set}")) && e.contains(key),
            "{e}"
        );
    }
    let e = fails(imcnas().args(["run", "--set", "search.budget=abc"]));
    assert!(
        e.contains("--set search.budget=abc") && e.contains("search.budget:"),
        "{e}"
    );
    let dir = scratch("types");
    let file = dir.join("hw.toml");
    std::fs::write(&file, "[adc]\nbits = 9\n\n[tile]\nrows = \"512\"\n").unwrap();
    let e = fails(
        imcnas()
            .args(["cost", "--arch", "lenet", "--config"])
            .arg(&file),
    );
    assert!(
        e.contains("hw.toml line 5") && e.contains("tile.rows:") && e.contains("string"),
        "{e}"
    );
}

/// Case 8: a bad drift time and an evaluation of no images say what they are.
#[test]
fn drift_times_and_empty_evaluations_say_what_is_wrong() {
    for (arg, needle) in [
        ("--t-inference=-1d", "drift time \"-1d\""),
        ("--max-images=0", "--max-images 0"),
    ] {
        let e = fails(imcnas().args(["eval", "--config", "pcm", "--model", "/x", arg]));
        assert!(e.contains(needle) && !e.contains("shape"), "{e}");
    }
}

/// Case 11: `rank` checks that it can write its report before it trains anything.
#[test]
fn rank_checks_its_output_before_the_work() {
    let dir = scratch("rank");
    let supernet = dir.join("supernet");
    let mut command = imcnas();
    command
        .args(["rank", "--quiet", "--supernet"])
        .arg(&supernet)
        .arg("--out")
        .arg(&dir);
    let e = fails(&mut command);
    assert!(e.contains("is a folder"), "{e}");
    assert!(!supernet.exists(), "training started");
}

/// Case 12: a stem width out of range says so, and what the range is.
#[test]
fn an_out_of_range_stem_width_says_so() {
    let dir = scratch("width");
    for arch in ["resnet8-w0", "resnet8-w100000", "resnet20-w65536"] {
        let e = fails(
            imcnas()
                .args(["train", "--arch", arch, "--out"])
                .arg(dir.join("m")),
        );
        assert!(
            e.contains("stem width") && e.contains("out of range") && e.contains("-w256"),
            "{e}"
        );
    }
}

/// Case 13: a validation fraction of 0 is refused before any folder is made.
#[test]
fn a_validation_fraction_of_zero_is_refused_first() {
    let dir = scratch("validation");
    let out = dir.join("m");
    let e = fails(&mut train_digits(&out, 4, 1, &["--validation", "0"]));
    assert!(
        e.contains("validation fraction") && e.contains("= 0"),
        "{e}"
    );
    assert!(!out.exists(), "a folder was made");
}

/// Case 14: a folder that holds files but no run is refused, resumed or not.
#[test]
fn a_folder_that_is_not_a_run_is_refused() {
    let dir = scratch("not-a-run");
    std::fs::write(dir.join("network.json"), "{}").unwrap();
    for extra in [&["--resume"][..], &[]] {
        let e = fails(&mut tiny_run(&dir, extra));
        assert!(e.contains("not a run folder"), "{e}");
    }
    assert!(!dir.join("experiment.toml").exists());
    assert!(!dir.join("supernet").exists());
}

/// Waits until `path` exists or `child` ends.
fn wait_for(path: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !path.exists() {
        assert!(child.try_wait().unwrap().is_none(), "ended too soon");
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Case 15: a run folder and a training folder are locked for the life of the process that
/// uses them: a second process is refused, and the folder is free again afterwards.
#[test]
fn output_folders_are_locked_while_in_use() {
    let dir = scratch("lock");
    let out = dir.join("run");
    let mut first = tiny_run(&out, &["--set", "supernet.epochs=20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&out.join("experiment.toml"), &mut first);
    let e = fails(&mut tiny_run(
        &out,
        &["--set", "supernet.epochs=20", "--resume"],
    ));
    assert!(e.contains("in use by another imcnas process"), "{e}");
    first.kill().unwrap();
    first.wait().unwrap();

    let model = dir.join("model");
    let mut first = train_digits(&model, 4, 500, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&model.join("train.json"), &mut first);
    let e = fails(&mut train_digits(&model, 4, 500, &["--resume"]));
    assert!(e.contains("in use by another imcnas process"), "{e}");
    first.kill().unwrap();
    first.wait().unwrap();
    // Killed, the process let go of the folder.
    let (_, _, stderr) = run(&mut train_digits(&model, 4, 1, &["--resume"]));
    assert!(!stderr.contains("in use"), "{stderr}");
}

/// Case 16: a file named like a preset does not replace it (a warning says which was read),
/// and saved configurations name their source.
#[test]
fn presets_are_not_shadowed_and_saved_configs_name_their_source() {
    let dir = scratch("preset");
    std::fs::write(dir.join("pcm"), "[tile]\nrows = 8\ncols = 8\n").unwrap();
    let cost = |config: &str| {
        let (ok, stdout, stderr) = run(imcnas()
            .current_dir(&dir)
            .args(["cost", "--arch", "lenet", "--json", "--config", config]));
        assert!(ok, "{stderr}");
        (stdout, stderr)
    };
    let (preset, warning) = cost("pcm");
    assert!(
        warning.contains("warning") && warning.contains("./pcm"),
        "{warning}"
    );
    let (file, _) = cost("./pcm");
    assert_ne!(preset, file, "the file and the preset describe other chips");

    let w = dir.join("w.npy");
    let x = dir.join("x.npy");
    imcnas::io::write_npy(&w, &[4, 3], &common::uniform(12, -0.5, 0.5, 2)).unwrap();
    imcnas::io::write_npy(&x, &[2, 3], &common::uniform(6, -1.0, 1.0, 3)).unwrap();
    let (ok, _, stderr) = run(imcnas()
        .args(["mvm", "--backend", "cpu", "--config", "aihwkit-default"])
        .args(["--set", "adc.bits=8", "--weights"])
        .arg(&w)
        .arg("--inputs")
        .arg(&x)
        .arg("--out")
        .arg(dir.join("y.npy")));
    assert!(ok, "{stderr}");
    let saved = std::fs::read_to_string(dir.join("y.config.toml")).unwrap();
    assert!(
        saved.contains("# source: preset aihwkit-default with --set adc.bits=8"),
        "{saved}"
    );
}

/// Case 17: an operating-system error is printed once; `train` says how many images it trains
/// on; a long evaluation reports progress when stderr is not a terminal.
#[test]
fn messages_say_what_happens_once_and_in_time() {
    let e = fails(imcnas().args(["eval", "--config", "pcm", "--model", "/nonexistent-model"]));
    assert_eq!(e.matches("os error").count(), 1, "{e}");

    let dir = scratch("messages");
    let (ok, _, stderr) = run(&mut train_digits(&dir.join("m"), 4, 1, &[]));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("training on 64 images"), "{stderr}");

    let mut eval = imcnas()
        .args([
            "eval",
            "--backend",
            "cpu",
            "--config",
            "pcm",
            "--dataset",
            "digits",
        ])
        .args(["--instances", "100000", "--model"])
        .arg(dir.join("m"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    eval.kill().unwrap();
    let output = eval.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("evaluating: 0/500000 chips"),
        "no progress: {stderr}"
    );
}

/// Found by the fuzz harness: an input shape whose product overflows usize reached the
/// flatten's shape arithmetic (a panic in debug builds, a wrapped shape in release).
#[test]
fn image_shapes_whose_products_overflow_are_refused() {
    for input in [
        "[1, 42949672966, 42949672966]",
        "[18446744073709551615, 2, 2]",
        "[4294967296, 4294967296, 4294967296]",
    ] {
        let json = format!(
            r#"{{"format": "imcnas-network", "version": 1, "input": {input}, "classes": 2,
              "nodes": [{{"name": "flat", "op": "flatten"}},
                        {{"name": "fc", "op": "linear", "in_features": 4, "out_features": 2}}]}}"#
        );
        let file: imcnas::network::GraphFile = serde_json::from_str(&json).unwrap();
        let err = imcnas::network::Graph::from_file(&file, "overflow.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("input") && err.contains("overflow.json"),
            "{err}"
        );
    }
}
