//! The in-memory form of every dataset ([`Dataset`]), its normalisation, the dataset names
//! and splits, and the seeded permutation that shuffles and splits them.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Images as f32, N x C x H x W row-major (NCHW), with labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The dataset's canonical name (as [`DatasetName`] displays it).
    pub name: String,
    /// Shape of one image: channels, height, width.
    pub shape: [usize; 3],
    /// Number of classes; every label is below it.
    pub classes: usize,
    /// All pixels, image after image, each image channel-major.
    pub images: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image: C * H * W.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The pixels of samples `range`, each C x H x W.
    ///
    /// # Panics
    /// If the range ends beyond `self.len()`.
    pub fn images_of(&self, range: std::ops::Range<usize>) -> &[f32] {
        let per = self.image_len();
        &self.images[range.start * per..range.end * per]
    }

    /// The pixels of sample `i`, C x H x W.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Subset by indices (copy), e.g. for shuffled splits and batches. Indices may repeat.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            name: self.name.clone(),
            shape: self.shape,
            classes: self.classes,
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Per-channel mean/std normalisation in place: x = (x - mean[c]) / std[c].
    ///
    /// # Panics
    /// If `norm` does not have one mean and one std per channel; statistics read from a
    /// file should be checked with [`Normalization::validate`] first.
    pub fn normalize(&mut self, norm: &Normalization) {
        let channels = self.shape[0];
        assert!(
            norm.mean.len() == channels && norm.std.len() == channels,
            "normalization has {} means and {} stds for {channels} channels",
            norm.mean.len(),
            norm.std.len()
        );
        let plane = self.shape[1] * self.shape[2];
        if plane == 0 || channels == 0 {
            return;
        }
        for image in self.images.chunks_exact_mut(channels * plane) {
            for (c, values) in image.chunks_exact_mut(plane).enumerate() {
                let (mean, std) = (norm.mean[c], norm.std[c]);
                values.iter_mut().for_each(|x| *x = (*x - mean) / std);
            }
        }
    }

    /// Deterministic shuffle of sample order with a seed: the same seed gives the same order
    /// on every platform (see [`permutation`]).
    pub fn shuffled(&self, seed: u64) -> Dataset {
        self.select(&permutation(self.len(), seed))
    }

    /// Splits off the last `fraction` (0..1) of samples as validation, after a seeded
    /// shuffle: returns (train, validation). The validation size is `fraction * len`
    /// rounded to the nearest integer.
    ///
    /// # Errors
    /// A fraction outside (0, 1), or one that leaves either part empty.
    pub fn split_validation(self, fraction: f32, seed: u64) -> Result<(Dataset, Dataset)> {
        let n = self.len();
        if fraction.is_nan() || fraction <= 0.0 || fraction >= 1.0 {
            return Err(Error::data(
                &self.name,
                format!("validation fraction {fraction} is not between 0 and 1 (exclusive)"),
            ));
        }
        let validation = (n as f64 * f64::from(fraction)).round() as usize;
        if validation == 0 || validation >= n {
            return Err(Error::data(
                &self.name,
                format!(
                    "validation fraction {fraction} of {n} samples leaves an empty training or validation set"
                ),
            ));
        }
        let order = permutation(n, seed);
        let (train, valid) = order.split_at(n - validation);
        Ok((self.select(train), self.select(valid)))
    }
}

/// Per-channel statistics; computed from the training set and stored with a trained model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (never zero).
    pub std: Vec<f32>,
}

impl Normalization {
    /// Mean and population standard deviation of each channel over all images and pixels.
    /// A constant channel gets std 1 (instead of 0) so that normalising it cannot divide
    /// by zero; an empty dataset gives mean 0 and std 1.
    pub fn from_dataset(ds: &Dataset) -> Normalization {
        let channels = ds.shape[0];
        let plane = ds.shape[1] * ds.shape[2];
        let count = (ds.len() * plane) as f64;
        let mut mean = vec![0.0f32; channels];
        let mut std = vec![1.0f32; channels];
        if count == 0.0 {
            return Normalization { mean, std };
        }
        let planes = |c: usize| {
            ds.images
                .chunks_exact(channels * plane)
                .map(move |image| &image[c * plane..(c + 1) * plane])
        };
        for c in 0..channels {
            // Two passes in f64: the sums run over up to tens of millions of pixels, and a
            // one-pass E[x^2] - E[x]^2 loses the variance of data that is already centred.
            let m = planes(c).flatten().map(|&x| f64::from(x)).sum::<f64>() / count;
            let var = planes(c)
                .flatten()
                .map(|&x| (f64::from(x) - m).powi(2))
                .sum::<f64>()
                / count;
            let s = var.sqrt() as f32;
            mean[c] = m as f32;
            std[c] = if s.is_finite() && s > 1e-6 { s } else { 1.0 };
        }
        Normalization { mean, std }
    }

    /// Checks that the statistics fit images of `channels` channels and that every std is a
    /// positive finite number, e.g. after reading them from a model file.
    ///
    /// # Errors
    /// A channel-count mismatch or an unusable value, naming it.
    pub fn validate(&self, channels: usize) -> Result<()> {
        if self.mean.len() != channels || self.std.len() != channels {
            return Err(Error::data(
                "normalization",
                format!(
                    "{} means and {} stds for {channels} channels",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if let Some(c) = self.mean.iter().position(|m| !m.is_finite()) {
            return Err(Error::data(
                "normalization",
                format!("mean[{c}] = {} is not finite", self.mean[c]),
            ));
        }
        if let Some(c) = self.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::data(
                "normalization",
                format!("std[{c}] = {} is not a positive finite number", self.std[c]),
            ));
        }
        Ok(())
    }
}

/// Which dataset: parsed from a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetName {
    /// The 8x8 UCI optical digits (1797 samples), embedded.
    Digits,
    /// MNIST handwritten digits, 28x28.
    Mnist,
    /// Fashion-MNIST clothing images, 28x28.
    FashionMnist,
    /// CIFAR-10 colour images, 3x32x32.
    Cifar10,
}

impl DatasetName {
    /// Every dataset, in the order of the error message for unknown names.
    pub const ALL: [DatasetName; 4] = [
        DatasetName::Digits,
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
    ];

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Digits => "digits",
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
        }
    }

    /// Image shape (channels, height, width) and classes of its images, as its loader
    /// gives them.
    pub fn image_shape(self) -> ([usize; 3], usize) {
        match self {
            DatasetName::Digits => ([1, 8, 8], 10),
            DatasetName::Mnist | DatasetName::FashionMnist => ([1, 28, 28], 10),
            DatasetName::Cifar10 => ([3, 32, 32], 10),
        }
    }

    /// Folder names looked for under a data directory, most preferred first (the full
    /// CIFAR-10 before the subset).
    pub(super) fn folders(self) -> &'static [&'static str] {
        match self {
            DatasetName::Digits => &["digits"],
            DatasetName::Mnist => &["mnist"],
            DatasetName::FashionMnist => &["fashion-mnist"],
            DatasetName::Cifar10 => &["cifar-10", "cifar-10-batches-bin", "cifar-10-subset"],
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "digits" => Ok(DatasetName::Digits),
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" => Ok(DatasetName::FashionMnist),
            "cifar10" | "cifar-10" => Ok(DatasetName::Cifar10),
            _ => Err(Error::data(
                s,
                "unknown dataset; known: digits, mnist, fashion-mnist, cifar10",
            )),
        }
    }
}

/// Which part of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training samples.
    Train,
    /// The held-out test samples.
    Test,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// A permutation of `0..n` from a seed: Fisher-Yates driven by splitmix64, in integer
/// arithmetic only, so that the same seed gives the same order on every platform and
/// in every version of the standard library.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// Steele, Lea and Flood's splitmix64: tiny, fast and good enough for shuffling.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` by a 128-bit multiply (Lemire); the bias, below bound / 2^64,
    /// is far too small to matter for a shuffle.
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }
}
