//! Tests of the dataset module: helpers shared by the submodules, and the in-memory
//! operations (selection, shuffles, splits, normalisation, names). The readers are tested in
//! `files` (every malformed-file case, on small synthetic files written to a scratch folder)
//! and `real` (the shared datasets in `../shared/datasets`).

mod files;
mod real;

use super::*;
use std::io::Write;
use std::path::PathBuf;

/// The shared datasets next to the repository.
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/datasets");

/// A fresh, empty scratch folder for one test (tests run in parallel threads).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcnas-data-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn be(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// An IDX image file of `n` images of `h` x `w` whose pixel `k` (flat) is `k % 251`.
fn idx_images(n: u32, h: u32, w: u32) -> Vec<u8> {
    let mut bytes = be(&[2051, n, h, w]);
    bytes.extend((0..n * h * w).map(|k| (k % 251) as u8));
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = be(&[2049, labels.len() as u32]);
    bytes.extend(labels);
    bytes
}

/// Writes a consistent MNIST training pair (3 images of 2 x 3, labels 0, 9, 4) into `dir`.
fn write_mnist(dir: &Path, gzipped: bool) {
    let (images, labels) = (idx_images(3, 2, 3), idx_labels(&[0, 9, 4]));
    if gzipped {
        write(dir, "train-images-idx3-ubyte.gz", &gz(&images));
        write(dir, "train-labels-idx1-ubyte.gz", &gz(&labels));
    } else {
        write(dir, "train-images-idx3-ubyte", &images);
        write(dir, "train-labels-idx1-ubyte", &labels);
    }
}

/// The error of a load that must fail, checked to be one line.
fn error(result: Result<Dataset>) -> String {
    let message = result.expect_err("the load should fail").to_string();
    assert!(!message.contains('\n'), "not one line: {message}");
    message
}

fn load_mnist_train(dir: &Path) -> Result<Dataset> {
    load(DatasetName::Mnist, Split::Train, Some(dir))
}

/// A dataset of `n` 2 x 1 x 1 images whose image `i` is `[i, -i]`, labelled `i % 10`.
fn counting(n: usize) -> Dataset {
    Dataset {
        name: "counting".into(),
        shape: [2, 1, 1],
        classes: 10,
        images: (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    }
}
#[test]
fn normalization_per_channel_constant_channel_and_serde() {
    let mut ds = counting(4); // channel 0: 0,1,2,3; channel 1: 0,-1,-2,-3
    let norm = Normalization::from_dataset(&ds);
    let std = 1.25f32.sqrt();
    assert_eq!(norm.mean, [1.5, -1.5]);
    assert!((norm.std[0] - std).abs() < 1e-6 && (norm.std[1] - std).abs() < 1e-6);
    ds.normalize(&norm);
    assert!((ds.image(0)[0] - (-1.5 / std)).abs() < 1e-6);
    assert!((ds.image(0)[1] - (1.5 / std)).abs() < 1e-6);
    // A constant channel is centred, not divided by zero.
    let mut flat = counting(3);
    flat.images
        .iter_mut()
        .skip(1)
        .step_by(2)
        .for_each(|x| *x = 0.5);
    let norm = Normalization::from_dataset(&flat);
    assert_eq!((norm.mean[1], norm.std[1]), (0.5, 1.0));
    flat.normalize(&norm);
    assert!(flat.images.iter().all(|x| x.is_finite()));
    // Stored with a model as JSON, read back identical and checked.
    let json = serde_json::to_string(&norm).unwrap();
    let back: Normalization = serde_json::from_str(&json).unwrap();
    assert_eq!(back, norm);
    back.validate(2).unwrap();
    let err = back.validate(3).unwrap_err().to_string();
    assert_eq!(
        err,
        "dataset normalization: 2 means and 2 stds for 3 channels"
    );
    let zero = Normalization {
        mean: vec![0.0],
        std: vec![0.0],
    };
    assert!(
        zero.validate(1)
            .unwrap_err()
            .to_string()
            .contains("std[0] = 0")
    );
}

#[test]
fn shuffles_are_deterministic_permutations() {
    // Pinned: a change here changes every seeded split and shuffle of earlier runs.
    assert_eq!(permutation(10, 42), PINNED_42);
    assert_eq!(permutation(1000, 7), permutation(1000, 7));
    assert_ne!(permutation(1000, 7), permutation(1000, 8));
    let mut sorted = permutation(1000, 7);
    sorted.sort();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_eq!(permutation(0, 1), Vec::<usize>::new());
    assert_eq!(permutation(1, 1), [0]);

    let ds = counting(50);
    let a = ds.shuffled(3);
    assert_eq!(a, ds.shuffled(3));
    assert_ne!(a.labels, ds.labels);
    // Each image moves with its label.
    for i in 0..a.len() {
        let original = a.image(i)[0] as usize;
        assert_eq!(a.labels[i], ds.labels[original]);
        assert_eq!(a.image(i), ds.image(original));
    }
    let picked = ds.select(&[4, 4, 0]);
    assert_eq!(picked.labels, [4, 4, 0]);
    assert_eq!(picked.images, [4.0, -4.0, 4.0, -4.0, 0.0, -0.0]);
    assert!(ds.select(&[]).is_empty());
}

/// `permutation(10, 42)`, checked against an independent splitmix64 + Fisher-Yates in Python.
const PINNED_42: [usize; 10] = [8, 3, 6, 5, 4, 0, 9, 2, 1, 7];

#[test]
fn validation_split_is_seeded_and_disjoint() {
    let ds = counting(100);
    let (train, valid) = ds.clone().split_validation(0.2, 5).unwrap();
    assert_eq!((train.len(), valid.len()), (80, 20));
    let mut seen: Vec<usize> = train
        .images
        .iter()
        .chain(&valid.images)
        .step_by(2)
        .map(|&x| x as usize)
        .collect();
    seen.sort();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    let (train2, valid2) = ds.clone().split_validation(0.2, 5).unwrap();
    assert_eq!((train2, valid2), (train, valid.clone()));
    let (_, other) = ds.clone().split_validation(0.2, 6).unwrap();
    assert_ne!(other, valid);
    for bad in [0.0, 1.0, -0.1, f32::NAN, 0.001, 0.999] {
        let err = ds.clone().split_validation(bad, 5).unwrap_err().to_string();
        assert!(
            err.starts_with("dataset counting: validation fraction"),
            "{err}"
        );
    }
}

#[test]
fn dataset_names_parse_and_display() {
    for name in DatasetName::ALL {
        assert_eq!(name.to_string().parse::<DatasetName>().unwrap(), name);
    }
    assert_eq!(
        "cifar-10".parse::<DatasetName>().unwrap(),
        DatasetName::Cifar10
    );
    assert_eq!("MNIST".parse::<DatasetName>().unwrap(), DatasetName::Mnist);
    assert_eq!(DatasetName::FashionMnist.to_string(), "fashion-mnist");
    assert_eq!(Split::Test.to_string(), "test");
    let err = "imagenet".parse::<DatasetName>().unwrap_err().to_string();
    assert_eq!(
        err,
        "dataset imagenet: unknown dataset; known: digits, mnist, fashion-mnist, cifar10"
    );
}
