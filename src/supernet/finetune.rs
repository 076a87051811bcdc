//! Hardware-aware fine-tuning of a subnet with successive halving over (learning rate, noise
//! level): every configuration trains for the first rung's epochs and is measured on chips;
//! the better half continues for twice as many epochs, and so on until one is left.
//!
//! Every rung's outcome is logged and its network saved, so a resumed run neither loses nor
//! repeats a rung.

use super::evaluate::{CandidateEvaluator, Measurement};
use super::genome::Candidate;
use crate::backend::Backend;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Network;
use crate::train::fit::{Decay, Run, Schedule, Seeding, Task, Trained, fit};
use crate::train::{Hwa, TrainNet};
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// One configuration's outcome at one rung.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungResult {
    /// Index of the fine-tuned subnet among those selected.
    pub subnet: usize,
    /// 0-based rung.
    pub rung: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Weight noise level.
    pub noise: f32,
    /// Epochs trained in all after this rung.
    pub epochs: usize,
    /// The chips' verdict.
    pub measurement: Measurement,
}

/// Training a stored network on its labels, with hardware-aware noise when on: no metrics
/// and no checkpoint (a call is short, and fine-tuning keeps every rung's result).
struct Tune {
    hwa: Option<Hwa>,
    loss_fn: CrossEntropyLoss,
    learning_rate: f64,
}

impl Task for Tune {
    type Epoch = ();

    fn label(&self, epoch: usize, _: usize) -> String {
        format!("fine-tune epoch {}", epoch + 1)
    }

    fn loss(
        &mut self,
        model: &TrainNet,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        _: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>> {
        Ok(self
            .loss_fn
            .forward(model.forward(images, self.hwa.as_ref()), labels))
    }

    fn diverged(&self, value: f32, _: usize, _: usize) -> Error {
        Error::Training(format!(
            "fine-tuning loss is {value} at learning rate {}: diverged",
            self.learning_rate
        ))
    }

    fn end_epoch(&mut self, _: &TrainNet, _: usize, _: Instant) -> Result<()> {
        Ok(())
    }
}

/// Trains `net` for `epochs` epochs of Adam at `learning_rate`, decayed by a cosine to 0 over
/// the epochs when `decay` is set (training from scratch) and constant otherwise (the rungs of
/// fine-tuning, which continue one another), with weight noise `noise` and gain noise
/// `gain_noise`, on `train` (normalised images).
///
/// # Errors
/// Diverged training.
#[allow(clippy::too_many_arguments)]
pub fn train_epochs(
    net: &Network,
    train: &Dataset,
    learning_rate: f64,
    noise: f32,
    gain_noise: f32,
    epochs: usize,
    decay: bool,
    batch_size: usize,
    seed: u64,
    device: &Device,
    progress: bool,
) -> Result<Network> {
    let device = device.clone().autodiff();
    device.seed(seed);
    let model = TrainNet::from_network(net, &device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let schedule = Schedule {
        epochs,
        batch_size,
        learning_rate,
        decay: if decay {
            Decay::Cosine
        } else {
            Decay::Constant
        },
        seed,
        seeding: Seeding::Continuous,
    };
    let mut task = Tune {
        hwa: (noise > 0.0 || gain_noise > 0.0)
            .then(|| Hwa::noise(noise).with_gain_noise(gain_noise)),
        loss_fn: CrossEntropyLossConfig::new().init(&device),
        learning_rate,
    };
    let start = Trained {
        model,
        optim,
        history: Vec::new(),
    };
    let run: Run<'_, ()> = Run {
        data: train,
        schedule,
        device: &device,
        checkpoint: None,
        progress,
    };
    let trained = fit(&run, start, &mut task, |_| Ok(()))?;
    trained.model.valid().to_network(net.normalization.clone())
}

/// Successive halving for one subnet. `done` holds rungs already logged (with their saved
/// networks in `dir`); `on_rung` is told every new result to log it. Returns the winning
/// configuration's network and every result.
///
/// # Errors
/// Training, engine or I/O failures.
#[allow(clippy::too_many_arguments)]
pub fn successive_halving<B: Backend>(
    evaluator: &CandidateEvaluator<'_, B>,
    subnet: usize,
    candidate: &Candidate,
    start: &Network,
    train: &Dataset,
    dir: &Path,
    done: &[RungResult],
    progress: bool,
    mut on_rung: impl FnMut(&RungResult) -> Result<()>,
) -> Result<(Network, Vec<RungResult>)> {
    let settings = &evaluator.experiment.file.finetune;
    let seed = evaluator.experiment.file.supernet.seed;
    let batch_size = evaluator.experiment.file.supernet.batch_size;
    let hw = evaluator.hardware(candidate)?;
    let configs: Vec<(f64, f32)> = settings
        .learning_rates
        .iter()
        .flat_map(|&lr| settings.noise_levels.iter().map(move |&n| (lr, n)))
        .collect();
    // (config index, network so far, epochs so far)
    let mut alive: Vec<(usize, Network, usize)> =
        (0..configs.len()).map(|k| (k, start.clone(), 0)).collect();
    let mut results = Vec::new();
    let mut rung = 0;
    loop {
        let epochs_now = settings.rung_epochs << rung;
        let mut scored = Vec::with_capacity(alive.len());
        for (k, net, epochs) in alive {
            let (lr, noise) = configs[k];
            let folder = dir.join(format!("config{k}-rung{rung}"));
            let logged = done.iter().find(|r| {
                r.subnet == subnet && r.rung == rung && r.learning_rate == lr && r.noise == noise
            });
            let (trained, result) = match logged {
                Some(r) if folder.join(crate::network::ARCH_FILE).exists() => {
                    (Network::load(&folder)?, r.clone())
                }
                _ => {
                    let more = epochs_now - epochs;
                    let trained = train_epochs(
                        &net,
                        train,
                        lr,
                        noise,
                        evaluator.experiment.file.supernet.gain_noise,
                        more,
                        false,
                        batch_size,
                        seed ^ (k as u64) << 8 ^ rung as u64,
                        &evaluator.device,
                        progress,
                    )?;
                    let measurement = evaluator.measure_on_validation(candidate, &trained, &hw)?;
                    trained.save(&folder)?;
                    let result = RungResult {
                        subnet,
                        rung,
                        learning_rate: lr,
                        noise,
                        epochs: epochs_now,
                        measurement,
                    };
                    on_rung(&result)?;
                    (trained, result)
                }
            };
            scored.push((k, trained, epochs_now, result.measurement.accuracy));
            results.push(result);
        }
        // The better half goes on (ties to the earlier configuration).
        scored.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.cmp(&b.0)));
        if scored.len() == 1 {
            let (_, net, _, _) = scored.remove(0);
            return Ok((net, results));
        }
        scored.truncate(scored.len().div_ceil(2));
        alive = scored.into_iter().map(|(k, n, e, _)| (k, n, e)).collect();
        rung += 1;
    }
}
