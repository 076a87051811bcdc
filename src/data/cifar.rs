//! CIFAR-10 binary batches (`cifar-10-binary.tar.gz`).
//!
//! A batch file is a sequence of 3073-byte records: one label byte, then the 32 x 32 red
//! plane, the green plane and the blue plane, each row-major. That is already the C x H x W
//! layout of [`Dataset`], so a record's pixels are copied in order.

use super::dataset::{Dataset, DatasetName, Split};
use super::files::{dataset_file, read_at_most};
use crate::error::{Error, Result};
use std::path::Path;

/// Image side in pixels.
const SIDE: usize = 32;
/// Values per image: 3 planes of 32 x 32.
const PIXELS: usize = 3 * SIDE * SIDE;
/// Bytes per record: the label and the pixels.
const RECORD: usize = 1 + PIXELS;
/// CIFAR-10 has ten classes.
const CLASSES: usize = 10;
/// Most records read from one batch file: the whole of CIFAR-10 (the official files hold
/// 10,000 each). A file that inflates to more is refused as it is read, not after.
const MAX_RECORDS: usize = 60_000;

/// Loads the `split` of CIFAR-10 from `dir`.
pub(super) fn load(dir: &Path, split: Split) -> Result<Dataset> {
    let files = match split {
        Split::Train => training_files(dir)?,
        Split::Test => vec!["test_batch.bin".to_string()],
    };
    let mut ds = Dataset {
        name: DatasetName::Cifar10.to_string(),
        shape: [3, SIDE, SIDE],
        classes: CLASSES,
        images: Vec::new(),
        labels: Vec::new(),
    };
    for file in &files {
        let path = dataset_file(dir, file)?;
        let bytes = read_at_most(&path, MAX_RECORDS * RECORD, "CIFAR-10 batch file")?;
        append_records(&path, &bytes, &mut ds)?;
    }
    Ok(ds)
}

/// The names (without `.gz`) of the training batches in `dir`: every
/// `data_batch_*.bin(.gz)`, ordered by the number in the name (so that a
/// `data_batch_10.bin` would follow `data_batch_9.bin`), then by name.
fn training_files(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = name.strip_suffix(".gz").unwrap_or(&name);
        let is_batch = base
            .strip_prefix("data_batch_")
            .and_then(|rest| rest.strip_suffix(".bin"))
            .is_some_and(|middle| !middle.is_empty());
        if is_batch && entry.path().is_file() {
            names.push(base.to_string());
        }
    }
    // `data_batch_1.bin` and `data_batch_1.bin.gz` together are one batch (read once).
    names.sort_by_key(|n| (batch_number(n), n.clone()));
    names.dedup();
    if names.is_empty() {
        return Err(Error::data(
            dir.display(),
            "no training batches (data_batch_*.bin or data_batch_*.bin.gz) in this folder",
        ));
    }
    Ok(names)
}

/// The number in `data_batch_<n>.bin`, or `u64::MAX` for names without one (sorted last).
fn batch_number(name: &str) -> u64 {
    name.trim_start_matches("data_batch_")
        .trim_end_matches(".bin")
        .parse()
        .unwrap_or(u64::MAX)
}

/// Checks a batch read into `bytes` and appends its records, pixels scaled to [0, 1].
fn append_records(path: &Path, bytes: &[u8], ds: &mut Dataset) -> Result<()> {
    let bad = |message: String| Error::data(path.display(), message);
    if bytes.is_empty() {
        return Err(bad("empty: holds no records".to_string()));
    }
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(bad(format!(
            "truncated: {} bytes is not a multiple of the {RECORD}-byte record",
            bytes.len()
        )));
    }
    // Check every label before growing the dataset, so that a bad file leaves it unchanged.
    if let Some(i) = bytes
        .chunks_exact(RECORD)
        .position(|r| usize::from(r[0]) >= CLASSES)
    {
        return Err(bad(format!(
            "record {i} has label {}, expected < {CLASSES}",
            bytes[i * RECORD]
        )));
    }
    let count = bytes.len() / RECORD;
    ds.images.reserve(count * PIXELS);
    ds.labels.reserve(count);
    for record in bytes.chunks_exact(RECORD) {
        ds.labels.push(record[0]);
        ds.images
            .extend(record[1..].iter().map(|&p| f32::from(p) / 255.0));
    }
    Ok(())
}
