//! Accuracy of a trained network on crossbar hardware: the test set run through every chip
//! instance at every drift time, summarised as mean, standard deviation and 95% confidence
//! interval beside the float accuracy; written as a table, JSON, CSV and an SVG plot
//! ([`report`]).

pub mod report;

pub use crate::config::DriftTime;

use crate::backend::Backend;
use crate::backend::cpu::CpuBackend;
use crate::config::HwConfig;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Network;
use crate::physics::rng::Seed;
use crate::runtime::ChipSet;
use crate::runtime::chips::calibration_inputs;
use serde::{Deserialize, Serialize};

/// Accuracy over the chip instances at one drift time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftPoint {
    /// When the chips were read.
    pub time: DriftTime,
    /// Test accuracy of every instance, in instance order.
    pub accuracies: Vec<f64>,
    /// Mean over the instances.
    pub mean: f64,
    /// Sample standard deviation over the instances (0 for one instance).
    pub std: f64,
    /// Half-width of the 95% confidence interval of the mean (Student t).
    pub ci95: f64,
}

impl DriftPoint {
    fn new(time: DriftTime, accuracies: Vec<f64>) -> DriftPoint {
        let n = accuracies.len() as f64;
        let mean = accuracies.iter().sum::<f64>() / n;
        let std = if accuracies.len() > 1 {
            (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let ci95 = if accuracies.len() > 1 {
            student_t975(accuracies.len() - 1) * std / n.sqrt()
        } else {
            0.0
        };
        DriftPoint {
            time,
            accuracies,
            mean,
            std,
            ci95,
        }
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
fn student_t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        // Beyond the table the normal approximation with a 1/df correction is within 0.1%.
        _ => 1.959_964 + 2.4 / df as f64,
    }
}

/// What an evaluation found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Dataset and split evaluated.
    pub dataset: String,
    /// Test images.
    pub images: usize,
    /// Hardware configuration name or file.
    pub config: String,
    /// Chip instances per drift time.
    pub instances: u32,
    /// Seed of the chip draws.
    pub seed: u64,
    /// Backend that ran the analog layers.
    pub backend: String,
    /// Accuracy of the network in exact f32.
    pub float_accuracy: f64,
    /// One point per drift time.
    pub points: Vec<DriftPoint>,
}

/// How an evaluation runs.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Chip instances per drift time.
    pub instances: u32,
    /// Drift times.
    pub times: Vec<DriftTime>,
    /// Seed of the chip draws.
    pub seed: u64,
    /// Images per forward pass.
    pub batch: usize,
    /// Images (NCHW, pixels in [0, 1]) whose layer inputs calibrate the ADC ranges of a chip
    /// with `adc.range = "calibrated"` (none otherwise): training images, not those evaluated.
    pub calibration: Option<Vec<f32>>,
}

/// Images a calibration of the ADC ranges runs through the float network.
pub const CALIBRATION_IMAGES: usize = 64;

/// Input vectors per matrix layer a calibration profiles at most, taken evenly over the
/// calibration images' vectors.
pub const CALIBRATION_VECTORS: usize = 4096;

/// Accuracy of `net` in exact f32 (its float reference) on `data`.
///
/// # Errors
/// Images that do not fit the network.
pub fn float_accuracy(net: &Network, data: &Dataset, batch: usize) -> Result<f64> {
    let float = ChipSet::float(&CpuBackend, net)?;
    Ok(chip_accuracies(&float, data, batch)?[0])
}

/// Accuracy of every chip of `chips` on `data`, in instance order.
///
/// # Errors
/// Backend failures.
pub fn chip_accuracies<B: Backend>(
    chips: &ChipSet<'_, B>,
    data: &Dataset,
    batch: usize,
) -> Result<Vec<f64>> {
    let classes = chips.network().graph.classes;
    let mut correct = vec![0usize; chips.chips()];
    for (start, end) in batches(data, batch) {
        let n = end - start;
        let logits = chips.logits(data.images_of(start..end), n, start)?;
        for (count, chip) in correct.iter_mut().zip(logits.chunks(n * classes)) {
            *count += count_correct(chip, &data.labels[start..end]);
        }
    }
    Ok(correct
        .into_iter()
        .map(|c| c as f64 / data.len().max(1) as f64)
        .collect())
}

/// The (start, end) image ranges of batches of `batch` images.
fn batches(data: &Dataset, batch: usize) -> impl Iterator<Item = (usize, usize)> {
    let len = data.len();
    (0..len)
        .step_by(batch.max(1))
        .map(move |start| (start, (start + batch.max(1)).min(len)))
}

/// Rows of `logits` whose arg-max is their label.
fn count_correct(logits: &[f32], labels: &[u8]) -> usize {
    let classes = logits.len() / labels.len().max(1);
    logits
        .chunks(classes.max(1))
        .zip(labels)
        .filter(|(row, label)| argmax(row) == usize::from(**label))
        .count()
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Evaluates `net` on `data` with hardware `hw` at every drift time over every chip instance;
/// `done` holds accuracies already measured by an interrupted run (per drift time, in
/// instance order), which are kept instead of being measured again; `on_instance` is called
/// after each measured (time, instance) with every accuracy so far, to show progress and save
/// partial results.
///
/// # Errors
/// Images that do not fit the network, layers the engine cannot hold, backend failures.
#[allow(clippy::too_many_arguments)]
pub fn evaluate<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    config_name: &str,
    net: &Network,
    data: &Dataset,
    options: &EvalOptions,
    done: &[Vec<f64>],
    mut on_instance: impl FnMut(&[Vec<f64>]) -> Result<()>,
) -> Result<EvalReport> {
    if data.shape != net.graph.input {
        return Err(Error::Shape(format!(
            "dataset {} has images of shape {:?}, the network expects {:?}",
            data.name, data.shape, net.graph.input
        )));
    }
    if data.is_empty() || options.instances == 0 || options.times.is_empty() {
        return Err(Error::Invalid(format!(
            "nothing to evaluate: {} images, {} instances, {} drift times",
            data.len(),
            options.instances,
            options.times.len()
        )));
    }
    let float_accuracy = float_accuracy(net, data, options.batch)?;
    let calibration = match &options.calibration {
        _ if !hw.needs_calibration() => Vec::new(),
        Some(images) => calibration_inputs(net, images, CALIBRATION_VECTORS)?,
        None => {
            return Err(Error::Config {
                origin: hw.origin.clone(),
                message:
                    "adc.range \"calibrated\" and dac.noise_management \"static\" need calibration images"
                        .into(),
            });
        }
    };
    let mut all: Vec<Vec<f64>> = options
        .times
        .iter()
        .enumerate()
        .map(|(k, _)| done.get(k).cloned().unwrap_or_default())
        .collect();
    for (k, time) in options.times.iter().enumerate() {
        let hw_t = hw.at_time(time.seconds)?;
        all[k].truncate(options.instances as usize);
        let per_set = ChipSet::chips_per_set(backend, &hw_t, net, options.batch)? as u32;
        // Sets of consecutive instances, starting after those already measured.
        while (all[k].len() as u32) < options.instances {
            let first = all[k].len() as u32;
            let instances = first..options.instances.min(first + per_set);
            let chips = ChipSet::program_calibrated(
                backend,
                &hw_t,
                net,
                Seed(options.seed),
                instances,
                &calibration,
            )?;
            for accuracy in chip_accuracies(&chips, data, options.batch)? {
                all[k].push(accuracy);
                on_instance(&all)?;
            }
        }
    }
    let points = options
        .times
        .iter()
        .zip(all)
        .map(|(time, accuracies)| DriftPoint::new(time.clone(), accuracies))
        .collect();
    Ok(EvalReport {
        dataset: data.name.clone(),
        images: data.len(),
        config: config_name.to_string(),
        instances: options.instances,
        seed: options.seed,
        backend: backend.describe(),
        float_accuracy,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_drift_point() {
        let p = DriftPoint::new("0".parse().unwrap(), vec![0.9, 0.92, 0.94]);
        assert!((p.mean - 0.92).abs() < 1e-12);
        assert!((p.std - 0.02).abs() < 1e-12);
        assert!((p.ci95 - 4.303 * 0.02 / 3f64.sqrt()).abs() < 1e-12);
        let one = DriftPoint::new("0".parse().unwrap(), vec![0.5]);
        assert_eq!((one.std, one.ci95), (0.0, 0.0));
    }
}
