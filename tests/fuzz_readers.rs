//! Every reader of a user's file, fuzzed: valid files mutated at random (bits flipped, bytes
//! set, inserted, deleted, files cut short, tokens such as `-1`, `1e400` or `nan` spliced into
//! text) must give a value that holds together or an error, never a panic (proptest catches
//! one and shrinks the input that caused it).
//!
//! Each reader runs for `IMCNAS_FUZZ_SECONDS` seconds (default 2, as CI runs it);
//! `scripts/fuzz.sh` runs each for ten minutes.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

mod common;

use imcnas::data::{DatasetName, Split};
use imcnas::network::Network;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One change to a file's bytes; positions are taken modulo the file's length.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Token(usize, usize),
}

/// Text that readers of numbers, tables and lists find hard.
const TOKENS: &[&str] = &[
    "-1",
    "0",
    "1e400",
    "-1e400",
    "nan",
    "NaN",
    "inf",
    "4294967296",
    "18446744073709551616",
    "1e-45",
    "-0.0",
    "\"\"",
    "[]",
    "{}",
    "[[",
    "]]",
    "=",
    "\n[x]\n",
    "\"pcm\"",
    "true",
    "null",
    ",",
    "\"shape\":[4294967295,4294967295]",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..8u8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Set(p, v)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), 1..64usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Token(p, t)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(p, bit) => {
                if !bytes.is_empty() {
                    bytes[p % len] ^= 1 << bit;
                }
            }
            Mutation::Set(p, v) => {
                if !bytes.is_empty() {
                    bytes[p % len] = *v;
                }
            }
            Mutation::Insert(p, v) => {
                let at = p % (bytes.len() + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Mutation::Delete(p, n) => {
                if !bytes.is_empty() {
                    let at = p % len;
                    let end = (at + n).min(bytes.len());
                    bytes.drain(at..end);
                }
            }
            Mutation::Truncate(p) => bytes.truncate(p % len),
            Mutation::Token(p, t) => {
                let at = p % (bytes.len() + 1);
                bytes.splice(at..at, TOKENS[*t].bytes());
            }
        }
    }
}

/// Mutations of one file.
fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..8)
}

/// A scratch folder of this thread.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "imcnas-fuzz-{}-{name}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `check` on inputs drawn from `strategy` for the time budget, in rounds of fresh seeds;
/// a failing case (an `Err` or a panic) fails the test with the smallest input proptest finds.
fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let seconds: f64 = std::env::var("IMCNAS_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let cases = std::cell::Cell::new(0u64);
    let mut round = 0u64;
    while started.elapsed() < budget {
        let config = Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        };
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&round.to_le_bytes());
        seed[8..16].copy_from_slice(&(name.len() as u64).to_le_bytes());
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        if let Err(e) = runner.run(&strategy, |value| {
            cases.set(cases.get() + 1);
            check(value)
        }) {
            panic!("{name}: {e}");
        }
        round += 1;
    }
    eprintln!(
        "fuzz {name}: {} cases in {:.0} s, no failure",
        cases.get(),
        started.elapsed().as_secs_f64()
    );
}

/// An error from a reader is fine; a value must hold together.
fn holds(ok: bool, what: &str) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what.to_string()))
    }
}

#[test]
fn npy_reader() {
    let dir = scratch("npy");
    let valid = dir.join("valid.npy");
    imcnas::io::write_npy(&valid, &[3, 4], &common::uniform(12, -1.0, 1.0, 1)).unwrap();
    let bytes = std::fs::read(&valid).unwrap();
    fuzz("npy", mutations(), |m| {
        let mut b = bytes.clone();
        apply(&mut b, &m);
        let path = dir.join("mutated.npy");
        std::fs::write(&path, &b).unwrap();
        match imcnas::io::read_npy(&path) {
            Ok(a) => holds(
                a.shape.iter().product::<usize>() == a.data.len(),
                "shape and data disagree",
            ),
            Err(_) => Ok(()),
        }
    });
}

/// A small valid model folder: convolution, batch norm, linear.
fn model(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let json = r#"{"format": "imcnas-network", "version": 1, "input": [1, 6, 6], "classes": 3,
      "normalization": {"mean": [0.5], "std": [0.25]},
      "nodes": [
        {"name": "c", "op": "conv2d", "in_channels": 1, "out_channels": 2, "kernel": 3},
        {"name": "n", "op": "batch_norm", "channels": 2},
        {"name": "r", "op": "relu"},
        {"name": "f", "op": "flatten"},
        {"name": "fc", "op": "linear", "in_features": 32, "out_features": 3}]}"#;
    let file: imcnas::network::GraphFile = serde_json::from_str(json).unwrap();
    let graph = imcnas::network::Graph::from_file(&file, "fuzz").unwrap();
    let mut tensors = std::collections::BTreeMap::new();
    for (k, node) in graph.nodes.iter().enumerate() {
        for (suffix, shape) in node.op.tensors() {
            let len = shape.iter().product();
            let values = match suffix {
                "running_var" => common::uniform(len, 0.5, 1.5, k as u64),
                _ => common::uniform(len, -0.5, 0.5, k as u64),
            };
            tensors.insert(format!("{}.{suffix}", node.name), values);
        }
    }
    let net = Network::new(graph, file.normalization.clone(), tensors, "fuzz").unwrap();
    net.save(dir).unwrap();
    (
        std::fs::read(dir.join("network.json")).unwrap(),
        std::fs::read(dir.join("weights.safetensors")).unwrap(),
    )
}

#[test]
fn network_and_weights_readers() {
    let dir = scratch("network");
    let (json, weights) = model(&dir);
    let images = common::uniform(36 * 2, 0.0, 1.0, 5);
    fuzz(
        "network.json + weights.safetensors",
        (mutations(), mutations(), any::<bool>(), any::<bool>()),
        |(mj, mw, mutate_json, mutate_weights)| {
            let (mut j, mut w) = (json.clone(), weights.clone());
            if mutate_json || !mutate_weights {
                apply(&mut j, &mj);
            }
            if mutate_weights {
                apply(&mut w, &mw);
            }
            std::fs::write(dir.join("network.json"), &j).unwrap();
            std::fs::write(dir.join("weights.safetensors"), &w).unwrap();
            let Ok(net) = Network::load(&dir) else {
                return Ok(());
            };
            // What loads runs: its float reference gives logits or an error, never a panic.
            let classes = net.graph.classes;
            let per: usize = net.graph.input.iter().product();
            if per * 2 != images.len() {
                return Ok(());
            }
            let float = imcnas::runtime::ChipSet::float(&imcnas::backend::cpu::CpuBackend, &net)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            match float.logits(&images, 2, 0) {
                Ok(logits) => holds(
                    logits.len() == 2 * classes && logits.iter().all(|v| v.is_finite()),
                    "logits of the wrong size or not finite",
                ),
                Err(_) => Ok(()),
            }
        },
    );
}

fn be(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn idx_reader() {
    let dir = scratch("idx");
    let mut images = be(&[2051, 3, 2, 3]);
    images.extend(0..18u8);
    let mut labels = be(&[2049, 3]);
    labels.extend([0u8, 4, 9]);
    fuzz(
        "IDX (MNIST)",
        (mutations(), mutations(), any::<bool>(), any::<bool>()),
        |(mi, ml, gzipped, mutate_labels)| {
            let (mut i, mut l) = (images.clone(), labels.clone());
            apply(&mut i, &mi);
            if mutate_labels {
                apply(&mut l, &ml);
            }
            for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
                let _ = std::fs::remove_file(dir.join(name));
                let _ = std::fs::remove_file(dir.join(format!("{name}.gz")));
            }
            if gzipped {
                std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(&i)).unwrap();
            } else {
                std::fs::write(dir.join("train-images-idx3-ubyte"), &i).unwrap();
            }
            std::fs::write(dir.join("train-labels-idx1-ubyte"), &l).unwrap();
            match imcnas::data::load(DatasetName::Mnist, Split::Train, Some(&dir)) {
                Ok(d) => holds(
                    d.images.len() == d.labels.len() * d.image_len()
                        && d.labels.iter().all(|&l| usize::from(l) < d.classes)
                        && d.images.iter().all(|p| (0.0..=1.0).contains(p)),
                    "images, labels and shape disagree",
                ),
                Err(_) => Ok(()),
            }
        },
    );
}

#[test]
fn cifar_reader() {
    let dir = scratch("cifar");
    let mut records = Vec::new();
    for label in [3u8, 7] {
        records.push(label);
        records.extend((0..3072).map(|i| (i % 251) as u8));
    }
    fuzz("CIFAR-10", (mutations(), any::<bool>()), |(m, gzipped)| {
        let mut b = records.clone();
        apply(&mut b, &m);
        let _ = std::fs::remove_file(dir.join("test_batch.bin"));
        let _ = std::fs::remove_file(dir.join("test_batch.bin.gz"));
        if gzipped {
            std::fs::write(dir.join("test_batch.bin.gz"), gzip(&b)).unwrap();
        } else {
            std::fs::write(dir.join("test_batch.bin"), &b).unwrap();
        }
        match imcnas::data::load(DatasetName::Cifar10, Split::Test, Some(&dir)) {
            Ok(d) => holds(
                d.images.len() == d.labels.len() * 3072 && d.labels.iter().all(|&l| l < 10),
                "records and labels disagree",
            ),
            Err(_) => Ok(()),
        }
    });
}

#[test]
fn toml_configuration_readers() {
    let dir = scratch("toml");
    let hardware = include_str!("../models/pcm.toml").as_bytes().to_vec();
    let experiment = include_str!("../models/experiment-digits.toml")
        .as_bytes()
        .to_vec();
    fuzz(
        "TOML (hardware, experiment)",
        (mutations(), any::<bool>()),
        |(m, is_experiment)| {
            let mut b = if is_experiment {
                experiment.clone()
            } else {
                hardware.clone()
            };
            apply(&mut b, &m);
            let path = dir.join("mutated.toml");
            std::fs::write(&path, &b).unwrap();
            if is_experiment {
                if let Ok(e) = imcnas::config::Experiment::load(Some(&path), &[]) {
                    holds(
                        e.devices.len() == e.file.hardware.devices.len() && e.drift.seconds >= 0.0,
                        "experiment does not hold together",
                    )?;
                }
            } else if let Ok(hw) = imcnas::config::load(path.to_str().unwrap(), &[]) {
                holds(
                    (4..=1024).contains(&hw.tile_rows)
                        && hw.out_noise.is_finite()
                        && hw.device().t_inference_s.is_finite(),
                    "hardware out of its checked ranges",
                )?;
            }
            Ok(())
        },
    );
}

#[test]
fn evaluation_log_reader() {
    use imcnas::supernet::evaluate::Measurement;
    use imcnas::supernet::genome::JointSpace;
    use imcnas::supernet::records::{EvalRecord, read_evaluation_log};
    let dir = scratch("log");
    let experiment = imcnas::config::Experiment::load(None, &[]).unwrap();
    let joint = JointSpace::new(&experiment.file);
    let space = joint.space();
    let mut text = String::new();
    for index in 0..3 {
        let genome = vec![index as f64 % 2.0; space.genes.len()];
        let candidate = joint.decode(&genome);
        let record = EvalRecord {
            index,
            description: candidate.describe(),
            candidate,
            genome,
            measurement: Measurement {
                float_accuracy: 0.9,
                accuracies: vec![0.8, 0.85],
                accuracy: 0.825,
                energy_uj: 0.1,
                latency_us: 2.0,
                area_mm2: 3.0,
                tops_per_w: 10.0,
                parameters: 1000,
            },
            objectives: vec![0.175, 0.1, 2.0, 3.0],
            violation: 0.0,
            seconds: 1.0,
        };
        text.push_str(&serde_json::to_string(&record).unwrap());
        text.push('\n');
    }
    let bytes = text.into_bytes();
    fuzz("evaluations.jsonl", mutations(), |m| {
        let mut b = bytes.clone();
        apply(&mut b, &m);
        let path = dir.join("evaluations.jsonl");
        std::fs::write(&path, &b).unwrap();
        if let Ok(records) = read_evaluation_log(&path, &space) {
            for r in &records {
                holds(
                    r.check(&space).is_ok() && r.measurement.accuracy <= 1.0,
                    "a record that cannot be was read",
                )?;
                // A record read back decodes without a panic.
                let _ = joint.decode(&r.genome);
            }
        }
        Ok(())
    });
}
