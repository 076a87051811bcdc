//! How well the supernet ranks subnets: sampled architectures scored by their accuracy with
//! the shared weights (batch norms recalibrated) against the same architectures trained from
//! scratch, compared by Kendall's tau. A supernet whose ranking agrees with training from
//! scratch can stand in for it in the search.

use super::evaluate::recalibrated_subnet;
use super::finetune::train_epochs;
use super::genome::JointSpace;
use super::splits::load_splits;
use super::train::train_supernet;
use crate::config::Experiment;
use crate::data::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::eval::float_accuracy;
use crate::io::{check_writable, write_atomic};
use crate::network::Network;
use crate::train::TrainNet;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One sampled subnet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// Its architecture, as `stem | width:kernels ...`.
    pub arch: String,
    /// Validation accuracy with the supernet's weights.
    pub supernet_accuracy: f64,
    /// Validation accuracy trained from scratch.
    pub scratch_accuracy: f64,
}

/// Kendall's tau-b of two paired samples (ties counted in neither direction).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        for j in i + 1..n {
            let da = (a[i] - a[j]).signum() * f64::from(u8::from(a[i] != a[j]));
            let db = (b[i] - b[j]).signum() * f64::from(u8::from(b[i] != b[j]));
            match (da == 0.0, db == 0.0) {
                (true, true) => {}
                (true, false) => ties_a += 1.0,
                (false, true) => ties_b += 1.0,
                (false, false) if da == db => concordant += 1.0,
                (false, false) => discordant += 1.0,
            }
        }
    }
    let denominator =
        ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)).sqrt();
    if denominator == 0.0 {
        0.0
    } else {
        (concordant - discordant) / denominator
    }
}

/// Scores `count` architectures drawn with `seed` both ways, after the first `skip` (scored
/// before); `train` holds normalised images, `validation` raw ones. The shared weights are
/// scored as the search scores them: batch norms recalibrated on `calibration_batches`
/// batches of `calibration` (shuffled training images). `on_subnet` hears each result as it
/// comes.
///
/// # Errors
/// Training or engine failures.
#[allow(clippy::too_many_arguments)]
pub fn rank_subnets(
    joint: &JointSpace,
    supernet: &TrainNet,
    train: &Dataset,
    calibration: &Dataset,
    calibration_batches: usize,
    validation: &Dataset,
    normalization: &Normalization,
    count: usize,
    epochs: usize,
    learning_rate: f64,
    batch_size: usize,
    seed: u64,
    skip: usize,
    progress: bool,
    mut on_subnet: impl FnMut(&Ranked) -> Result<()>,
) -> Result<Vec<Ranked>> {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ranked = Vec::with_capacity(count);
    for k in 0..count {
        let arch = joint.random_arch(&mut rng);
        if k < skip {
            continue;
        }
        let graph = arch.graph(train.shape, train.classes)?;
        let shared = recalibrated_subnet(
            supernet,
            &graph,
            calibration,
            batch_size,
            calibration_batches,
            normalization,
            &device,
        )?;
        let supernet_accuracy = float_accuracy(&shared, validation, 256)?;
        device.seed(seed ^ (k as u64 + 1) << 20);
        let fresh = TrainNet::new(&graph, &device).to_network(Some(normalization.clone()))?;
        let trained: Network = train_epochs(
            &fresh,
            train,
            learning_rate,
            0.0,
            0.0,
            epochs,
            true,
            batch_size,
            seed ^ (k as u64 + 1) << 24,
            &device,
            progress,
        )?;
        let scratch_accuracy = float_accuracy(&trained, validation, 256)?;
        let stages: Vec<String> = arch
            .stages
            .iter()
            .map(|s| {
                let k: Vec<String> = s.kernels.iter().map(usize::to_string).collect();
                format!("{}:k{}", s.width, k.join(","))
            })
            .collect();
        let result = Ranked {
            arch: format!("stem{} | {}", arch.stem, stages.join(" ")),
            supernet_accuracy,
            scratch_accuracy,
        };
        on_subnet(&result)?;
        ranked.push(result);
    }
    Ok(ranked)
}

/// `rank.json`: the settings and every subnet scored so far, with Kendall's tau.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankReport {
    /// Subnets asked for.
    pub count: usize,
    /// Epochs of training from scratch.
    pub epochs: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// The subnets.
    pub subnets: Vec<Ranked>,
    /// Kendall's tau between the two accuracies.
    pub kendall_tau: f64,
}

/// Ranks `count` subnets of the supernet in `supernet_dir` (trained with `experiment`'s
/// settings, finished first if cut short) and writes `out` after each one; a report there
/// with the same settings is continued.
///
/// # Errors
/// Data, training or I/O failures.
pub fn rank_supernet(
    experiment: &Experiment,
    supernet_dir: &Path,
    count: usize,
    epochs: usize,
    out: &Path,
    progress: bool,
) -> Result<RankReport> {
    if experiment.table.is_some() {
        return Err(crate::Error::Invalid(format!(
            "{}: a cell space has no supernet to rank",
            experiment.origin
        )));
    }
    // The report can be written: checked before hours of work, not after.
    check_writable(out)?;
    let splits = load_splits(experiment)?;
    let joint = JointSpace::new(&experiment.file);
    let settings = &experiment.file.supernet;
    let supernet = train_supernet(
        &joint,
        settings,
        &splits.train,
        &splits.validation_normalized,
        &Device::flex(),
        supernet_dir,
        progress,
    )?;
    let seed = experiment.file.search.seed;
    let fresh = RankReport {
        count,
        epochs,
        seed,
        subnets: Vec::new(),
        kendall_tau: 0.0,
    };
    // A report of other settings is replaced; one that does not read is refused.
    let mut report = match std::fs::read_to_string(out) {
        Ok(text) => serde_json::from_str::<RankReport>(&text).map_err(|e| {
            Error::Search(format!(
                "{}: not a ranking report ({e}); move it away or choose another --out",
                out.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh.clone(),
        Err(e) => return Err(Error::io(out, e)),
    };
    if (report.count, report.epochs, report.seed) != (count, epochs, seed) {
        report = fresh;
    }
    let done = report.subnets.len();
    rank_subnets(
        &joint,
        &supernet.model,
        &splits.train,
        &splits.train.shuffled(seed),
        experiment.file.search.calibration_batches,
        &splits.validation,
        &splits.normalization,
        count,
        epochs,
        settings.learning_rate,
        settings.batch_size,
        seed,
        done,
        progress,
        |ranked| {
            report.subnets.push(ranked.clone());
            let (a, b) = accuracies(&report.subnets);
            report.kendall_tau = kendall_tau(&a, &b);
            if progress {
                eprintln!(
                    "subnet {}/{count}: {}: supernet {:.2}%, from scratch {:.2}%",
                    report.subnets.len(),
                    ranked.arch,
                    100.0 * ranked.supernet_accuracy,
                    100.0 * ranked.scratch_accuracy
                );
            }
            let json = serde_json::to_string_pretty(&report)
                .map_err(|e| Error::Search(format!("{}: {e}", out.display())))?;
            write_atomic(out, json.as_bytes())
        },
    )?;
    Ok(report)
}

fn accuracies(subnets: &[Ranked]) -> (Vec<f64>, Vec<f64>) {
    subnets
        .iter()
        .map(|r| (r.supernet_accuracy, r.scratch_accuracy))
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kendall_tau_of_known_rankings() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(kendall_tau(&a, &[10.0, 20.0, 30.0, 40.0]), 1.0);
        assert_eq!(kendall_tau(&a, &[4.0, 3.0, 2.0, 1.0]), -1.0);
        // One swapped pair of six: (5 - 1) / 6.
        let tau = kendall_tau(&a, &[1.0, 3.0, 2.0, 4.0]);
        assert!((tau - 4.0 / 6.0).abs() < 1e-12, "{tau}");
        // Ties: tau-b.
        let tau = kendall_tau(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]);
        assert!((tau - 2.0 / (2.0f64 * 3.0).sqrt()).abs() < 1e-12, "{tau}");
    }
}
