//! The 8x8 UCI optical digits (1797 samples, pixels 0..16), embedded or from a CSV file.
//!
//! The embedded copy is the one `smartcore` ships, so the crate can train and test on real
//! data without any download. A `digits.csv(.gz)` (as scikit-learn exports it: 64 pixel
//! values then the label per row, no header) takes precedence when the data directory holds
//! one. The set has no official split; [`split`] makes a fixed one.

use super::dataset::{Dataset, DatasetName, Split, permutation};
use super::files::read_at_most;
use crate::error::{Error, Result};
use std::path::Path;

/// Image side in pixels.
const SIDE: usize = 8;
/// Values per image.
const PIXELS: usize = SIDE * SIDE;
/// Largest pixel value; pixels are divided by it.
const MAX_VALUE: f32 = 16.0;
/// Ten digit classes.
const CLASSES: usize = 10;
/// Seed of the shuffle that makes the split; changing it changes every digits result.
const SPLIT_SEED: u64 = 0;
/// Largest digits CSV read (bytes, decompressed): 1,797 rows of 65 numbers take about 300 KB.
const MAX_CSV_BYTES: usize = 16 << 20;

/// The embedded digits (smartcore's copy of the UCI set).
pub(super) fn load_embedded(which: Split) -> Dataset {
    let raw = smartcore::dataset::digits::load_dataset();
    // Fixed data compiled into the binary: a mismatch is a bug in the dependency, not an
    // input error, and the tests compare it with the CSV of the shared datasets.
    assert_eq!(
        raw.num_features, PIXELS,
        "smartcore digits: features per sample"
    );
    assert_eq!(
        raw.data.len(),
        raw.num_samples * PIXELS,
        "smartcore digits: pixel count"
    );
    assert_eq!(
        raw.target.len(),
        raw.num_samples,
        "smartcore digits: label count"
    );
    let labels = raw
        .target
        .iter()
        .map(|&t| {
            assert!(
                (0.0..CLASSES as f32).contains(&t) && t.fract() == 0.0,
                "smartcore digits: label {t}"
            );
            t as u8
        })
        .collect();
    let ds = Dataset {
        name: DatasetName::Digits.to_string(),
        shape: [1, SIDE, SIDE],
        classes: CLASSES,
        images: raw.data.iter().map(|&v| v / MAX_VALUE).collect(),
        labels,
    };
    split(ds, which)
}

/// The digits from a CSV file (gzipped when its name ends in `.gz`).
pub(super) fn load_csv(path: &Path, which: Split) -> Result<Dataset> {
    let bytes = read_at_most(path, MAX_CSV_BYTES, "digits CSV")?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Error::data(
            path.display(),
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    Ok(split(parse_csv(path, text)?, which))
}

/// Parses rows of 64 pixel values (0..16) and a label (0..9); blank lines are skipped.
fn parse_csv(path: &Path, text: &str) -> Result<Dataset> {
    let bad = |line: usize, message: String| {
        Error::data(path.display(), format!("line {line}: {message}"))
    };
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != PIXELS + 1 {
            return Err(bad(
                line_no,
                format!(
                    "{} fields, expected {} ({PIXELS} pixels and the label)",
                    fields.len(),
                    PIXELS + 1
                ),
            ));
        }
        let number = |k: usize| -> Result<f32> {
            match fields[k].parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(bad(
                    line_no,
                    format!("field {}: {:?} is not a number", k + 1, fields[k]),
                )),
            }
        };
        for k in 0..PIXELS {
            let v = number(k)?;
            if !(0.0..=MAX_VALUE).contains(&v) {
                return Err(bad(
                    line_no,
                    format!("field {}: pixel value {v} is outside 0..{MAX_VALUE}", k + 1),
                ));
            }
            images.push(v / MAX_VALUE);
        }
        let label = number(PIXELS)?;
        if label < 0.0 || label.fract() != 0.0 {
            return Err(bad(line_no, format!("label {label} is not a class number")));
        }
        if label >= CLASSES as f32 {
            return Err(bad(line_no, format!("label {label}, expected < {CLASSES}")));
        }
        labels.push(label as u8);
    }
    if labels.is_empty() {
        return Err(Error::data(path.display(), "holds no rows"));
    }
    Ok(Dataset {
        name: DatasetName::Digits.to_string(),
        shape: [1, SIDE, SIDE],
        classes: CLASSES,
        images,
        labels,
    })
}

/// The fixed split: samples shuffled with [`permutation`] and seed 0; the first 80%
/// (rounded down; 1437 of 1797) train, the rest test.
fn split(all: Dataset, which: Split) -> Dataset {
    let order = permutation(all.len(), SPLIT_SEED);
    let (train, test) = order.split_at(all.len() * 4 / 5);
    all.select(match which {
        Split::Train => train,
        Split::Test => test,
    })
}
