//! Image-classification datasets: MNIST, Fashion-MNIST, CIFAR-10 and the 8x8 digits; and
//! a tabular benchmark's accuracies by cell architecture ([`table`]).
//!
//! Every loader returns the same in-memory form, [`Dataset`]: f32 pixels scaled to [0, 1],
//! laid out N x C x H x W, with u8 labels. Files are read from a data directory given by
//! the user (see [`load`] for the layout), gzipped or not; the digits are also embedded so
//! that the crate can be tried without any download.
//!
//! Readers never trust a header: a file is read (and decompressed) fully first, and the
//! sizes its header declares are checked against the bytes actually present before anything
//! is allocated for them. Every error names the file and the field or record at fault on
//! one line.

mod cifar;
mod dataset;
mod digits;
mod files;
mod idx;
pub mod table;
#[cfg(test)]
mod tests;

pub use dataset::{Dataset, DatasetName, Normalization, Split, permutation};

use crate::error::{Error, Result};
use files::find_file;
use std::path::Path;

/// Loads a split, pixels scaled to [0, 1].
///
/// `data_dir` is required for all but the digits. Under it each dataset is looked for in its
/// own folder: `mnist/`, `fashion-mnist/`, `cifar-10/`, `cifar-10-batches-bin/` (the official
/// tarball's folder) or `cifar-10-subset/` (first found, in that order), `digits/`; when no
/// such folder exists, `data_dir` itself is taken to be the dataset's folder. Every file may
/// be gzipped (`name.gz`) or not (`name`); the uncompressed one is read when both exist.
///
/// - MNIST and Fashion-MNIST: `train-`/`t10k-` `images-idx3-ubyte` and `labels-idx1-ubyte`;
///   shape `[1, H, W]` from the header (28 x 28), 10 classes.
/// - CIFAR-10: training = every `data_batch_*.bin` in order of its number, test =
///   `test_batch.bin`; shape `[3, 32, 32]`, 10 classes.
/// - Digits: shape `[1, 8, 8]`, 10 classes, pixels 0..16 divided by 16. Read from
///   `digits.csv(.gz)` (64 pixels and the label per row) when `data_dir` holds one (in
///   `digits/` or directly), otherwise from the copy embedded in `smartcore`. There is no
///   official split: the samples are shuffled with [`permutation`] and seed 0, and the first
///   80% (rounded down: 1437 of 1797) are the training split, the rest (360) the test split.
///
/// # Errors
/// A missing data directory or file (naming the path expected), and malformed, truncated or
/// inconsistent files (naming the file and the field or record).
pub fn load(name: DatasetName, split: Split, data_dir: Option<&Path>) -> Result<Dataset> {
    if name == DatasetName::Digits {
        let csv = data_dir.and_then(|dir| {
            [dir.join("digits"), dir.to_path_buf()]
                .into_iter()
                .find_map(|d| find_file(&d, "digits.csv"))
        });
        return match csv {
            Some(path) => digits::load_csv(&path, split),
            None => Ok(digits::load_embedded(split)),
        };
    }
    let Some(data_dir) = data_dir else {
        return Err(Error::data(
            name,
            "needs a data directory (download one with scripts/download-datasets.sh DIR)",
        ));
    };
    if !data_dir.is_dir() {
        return Err(Error::data(
            data_dir.display(),
            format!("data directory for {name} does not exist or is not a directory"),
        ));
    }
    let dir = name
        .folders()
        .iter()
        .map(|f| data_dir.join(f))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| data_dir.to_path_buf());
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => idx::load(&dir, name, split),
        DatasetName::Cifar10 => cifar::load(&dir, split),
        DatasetName::Digits => unreachable!("handled above"),
    }
}
