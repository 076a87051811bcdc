//! `imcnas run`: a bad experiment is refused before any work starts, and a run killed with
//! SIGKILL resumes with `--resume` to the same results as a run never killed, with no
//! evaluation lost or repeated.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcnas-exp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A small experiment on the digits: one supernet epoch, a narrow space, 24 evaluations.
const SMALL: &[&str] = &[
    "--set",
    "data.max_train=240",
    "--set",
    "data.search_images=200",
    "--set",
    "data.test_images=60",
    "--set",
    "space.stem_widths=[4]",
    "--set",
    "space.stage_widths=[[4, 6], [6], [8]]",
    "--set",
    "space.depths=[1, 2]",
    "--set",
    "supernet.epochs=1",
    "--set",
    "search.population=6",
    "--set",
    "search.budget=24",
    "--set",
    "hardware.instances=3",
    "--set",
    "finetune.top_k=1",
    "--set",
    "finetune.learning_rates=[0.001]",
    "--set",
    "finetune.noise_levels=[0.0, 0.02]",
    "--set",
    "final.instances=2",
    "--set",
    "final.times=[\"0\", \"1d\"]",
    "--set",
    "final.adc_sweep=[4, 6]",
];

fn imcnas(out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imcnas"));
    command
        .args(["run", "--backend", "cpu", "--quiet", "--out"])
        .arg(out)
        .args(SMALL)
        .args(extra);
    command
}

fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The logged evaluations without their timings.
fn evaluations(out: &Path) -> Vec<serde_json::Value> {
    log_lines(&out.join("evaluations.jsonl"))
        .into_iter()
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn a_killed_run_resumes_without_losing_or_repeating_an_evaluation() {
    let whole = scratch("whole");
    let status = imcnas(&whole, &[]).status().unwrap();
    assert!(status.success());
    let reference = evaluations(&whole);
    assert_eq!(reference.len(), 24);
    for (i, e) in reference.iter().enumerate() {
        assert_eq!(e["index"], i);
    }
    for file in [
        "experiment.toml",
        "pareto.json",
        "pareto.csv",
        "hypervolume.csv",
        "pareto.svg",
        "accuracy-vs-drift.svg",
        "accuracy-vs-adc-bits.svg",
        "summary.md",
        "final.json",
        "finetune.jsonl",
    ] {
        assert!(whole.join(file).is_file(), "{file} missing");
    }

    // Kill a second run during the search, then resume it.
    let killed = scratch("killed");
    let mut child = imcnas(&killed, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = killed.join("evaluations.jsonl");
    let deadline = Instant::now() + Duration::from_secs(600);
    while log_lines(&log).len() < 3 {
        assert!(Instant::now() < deadline, "the search never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended too soon"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = log_lines(&log).len();
    assert!(before < 24, "killed after the search");

    // Without --resume the folder is refused.
    let output = imcnas(&killed, &[]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--resume"));

    let status = imcnas(&killed, &["--resume"]).status().unwrap();
    assert!(status.success());
    assert_eq!(evaluations(&killed), reference);
    let read = |dir: &Path, f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read(&killed, "pareto.csv"), read(&whole, "pareto.csv"));
    assert_eq!(
        read(&killed, "hypervolume.csv"),
        read(&whole, "hypervolume.csv")
    );
    let hv: Vec<f64> = read(&whole, "hypervolume.csv")
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(hv.len(), 4);
    assert!(hv.windows(2).all(|w| w[1] >= w[0]), "{hv:?}");
    assert!(hv[3] > 0.0 && hv[3] <= 1.0);

    // Resuming with other settings is refused.
    let output = imcnas(&killed, &["--resume", "--set", "search.seed=9"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("other settings"));
}

#[test]
fn a_bad_experiment_is_refused_before_any_work() {
    let dir = scratch("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    for (text, sets, needle) in [
        ("[search]\nbudgte = 3\n", vec![], "budgte"),
        ("[search]\npopulation = 1\n", vec![], "search.population"),
        ("", vec!["hardware.devices=[\"pcm\", \"nope\"]"], "nope"),
        ("", vec!["hardware.tile_sizes=[8]"], "hardware.cols_per_adc"),
        (
            "",
            vec!["space.stage_widths=[[8], [8]]"],
            "space.stage_widths",
        ),
        ("", vec!["space.kernels=[4]"], "space.kernels"),
        ("", vec!["final.times=[\"2x\"]"], "final.times"),
        ("", vec!["data.dataset=imagenet"], "data.dataset"),
        (
            "",
            vec!["data.dataset=mnist", "data.data_dir=/nonexistent-data"],
            "nonexistent-data",
        ),
        ("[search\n", vec![], "bad.toml"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = dir.join("out");
        let mut command = Command::new(env!("CARGO_BIN_EXE_imcnas"));
        command
            .args(["run", "--backend", "cpu", "--quiet"])
            .arg(&file)
            .arg("--out")
            .arg(&out);
        for s in &sets {
            command.args(["--set", s]);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{text} {sets:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(!out.exists(), "work started for {needle}");
    }
}

mod common;

use imcnas::backend::Backend;
use imcnas::data::{self, DatasetName, Normalization, Split};
use imcnas::supernet::Experiment;
use imcnas::supernet::evaluate::{CandidateEvaluator, Measurement};
use imcnas::supernet::genome::JointSpace;

/// Two candidates of each device (calibrated and full ADC ranges), measured by the search's
/// evaluator on `backend`.
fn measure_candidates<B: Backend>(backend: &B) -> Vec<Measurement> {
    let experiment = Experiment::load(None, &["hardware.instances=2".into()]).unwrap();
    let joint = JointSpace::new(&experiment.file);
    let mut train = data::load(DatasetName::Digits, Split::Train, None).unwrap();
    let validation = train.select(&(0..40).collect::<Vec<_>>());
    let normalization = Normalization::from_dataset(&train);
    train.normalize(&normalization);
    let device = burn::tensor::Device::flex();
    device.seed(11);
    let graph = joint.largest().graph(train.shape, train.classes).unwrap();
    let supernet = imcnas::train::TrainNet::new(&graph, &device);
    let evaluator = CandidateEvaluator {
        experiment: &experiment,
        supernet: &supernet,
        device,
        calibration: train,
        normalization,
        validation,
        backend,
    };
    let space = joint.space();
    let device_gene = space.genes.iter().position(|g| g.name == "device").unwrap();
    // Every device option, with the second option of every other gene (a calibrated ADC
    // range among them), then with the first (full range).
    let devices = experiment.file.hardware.devices.len();
    (0..devices)
        .flat_map(|d| [(d, 1.0), (d, 0.0)])
        .map(|(d, option)| {
            let mut genome = vec![option; space.genes.len()];
            genome[device_gene] = d as f64;
            evaluator.measure(&joint.decode(&genome)).unwrap()
        })
        .collect()
}

// The search's candidate evaluation gives the same figures on the GPU as on the CPU: cost and
// float accuracy exactly, chip accuracies within two of the 40 images (the backends' sums
// round differently near a decision boundary).
on_both_backends!(candidate_evaluation_agrees_with_the_cpu, |b| {
    let got = measure_candidates(b);
    let reference = measure_candidates(&imcnas::backend::cpu::CpuBackend);
    for (g, r) in got.iter().zip(&reference) {
        assert_eq!(g.energy_uj, r.energy_uj);
        assert_eq!(g.area_mm2, r.area_mm2);
        assert_eq!(g.float_accuracy, r.float_accuracy);
        assert_eq!(g.accuracies.len(), 2);
        for (x, y) in g.accuracies.iter().zip(&r.accuracies) {
            assert!((x - y).abs() <= 2.0 / 40.0 + 1e-9, "{g:?} vs {r:?}");
        }
    }
});
