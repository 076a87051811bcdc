//! The training run: Adam with a cosine learning-rate schedule over mini-batches of a seeded
//! shuffle, validation after every epoch, a checkpoint after every epoch (one file, written
//! atomically) from which `--resume` continues without losing or repeating an epoch, metrics as
//! JSON lines, and the trained network exported to the network format.

use super::checkpoint::{batch_tensors, count_correct};
use super::fit::{
    Checkpoint, Decay, Run, Schedule, Seeding, Task, fit, resume as resume_checkpoint,
};
use super::hwa::Hwa;
use super::model::TrainNet;
use crate::config::TrainOptions;
use crate::data::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::io::{FolderLock, write_atomic};
use crate::network::{Graph, Network};
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// File of the last epoch's checkpoint in the output folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
/// Per-epoch metrics, one JSON object per line.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The run's settings, saved with its results.
pub const RUN_FILE: &str = "train.json";

/// Metrics of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss (with hardware-aware noise when on).
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches.
    pub train_accuracy: f64,
    /// Validation loss without noise.
    pub val_loss: f64,
    /// Validation accuracy without noise.
    pub val_accuracy: f64,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

/// What [`train`] returns.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Every epoch's metrics, resumed ones included.
    pub history: Vec<EpochMetrics>,
    /// The trained network.
    pub network: Network,
}

/// The settings a checkpoint of `imcnas train` is made with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CheckpointSettings {
    options: TrainOptions,
}

/// Plain training: the cross-entropy of the network's predictions (with hardware-aware noise
/// when on), validated after every epoch without noise.
struct Supervised<'a> {
    options: &'a TrainOptions,
    hwa: Option<Hwa>,
    loss_fn: CrossEntropyLoss,
    val: &'a Dataset,
    device: Device,
    progress: bool,
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

impl Task for Supervised<'_> {
    type Epoch = EpochMetrics;

    fn label(&self, epoch: usize, epochs: usize) -> String {
        format!("epoch {}/{epochs}", epoch + 1)
    }

    fn loss(
        &mut self,
        model: &TrainNet,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        _: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>> {
        let logits = model.forward(images, self.hwa.as_ref());
        self.correct += count_correct(&logits, &labels);
        Ok(self.loss_fn.forward(logits, labels))
    }

    fn observe(&mut self, value: f32, images: usize) {
        self.loss_sum += f64::from(value) * images as f64;
        self.seen += images;
    }

    fn diverged(&self, value: f32, epoch: usize, step: usize) -> Error {
        Error::Training(format!(
            "loss is {value} at epoch {} step {step}: training diverged (lower --lr)",
            epoch + 1
        ))
    }

    fn after_step(&self, model: TrainNet) -> TrainNet {
        match self.options.clip_sigma {
            Some(sigmas) => model.clip_weights(sigmas),
            None => model,
        }
    }

    fn end_epoch(
        &mut self,
        model: &TrainNet,
        epoch: usize,
        started: Instant,
    ) -> Result<EpochMetrics> {
        let (val_loss, val_accuracy) =
            evaluate(model, self.val, &self.device, self.options.batch_size);
        let seen = self.seen.max(1) as f64;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: self.loss_sum / seen,
            train_accuracy: self.correct as f64 / seen,
            val_loss,
            val_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        (self.loss_sum, self.correct, self.seen) = (0.0, 0, 0);
        if self.progress {
            eprintln!(
                "epoch {}/{}: train loss {:.4} acc {:.2}%, validation loss {:.4} acc {:.2}% ({:.1} s)",
                metrics.epoch,
                self.options.epochs,
                metrics.train_loss,
                100.0 * metrics.train_accuracy,
                metrics.val_loss,
                100.0 * metrics.val_accuracy,
                metrics.seconds
            );
        }
        Ok(metrics)
    }
}

/// Trains `graph` on `train` (validation split drawn from it) and writes checkpoints, metrics
/// and the exported network into `out`. With `resume`, continues from the checkpoint there.
///
/// # Errors
/// Bad options, I/O failures, a checkpoint from a different run, diverged training.
#[allow(clippy::too_many_arguments)]
pub fn train(
    options: &TrainOptions,
    graph: &Graph,
    train: Dataset,
    hwa: Option<Hwa>,
    device: &Device,
    out: &Path,
    resume: bool,
    progress: bool,
) -> Result<TrainReport> {
    options.check()?;
    let (mut train_set, val_set) =
        train.split_validation(options.validation_fraction, options.seed)?;
    if let Some(max) = options.max_train {
        let keep: Vec<usize> = (0..max.min(train_set.len())).collect();
        train_set = train_set.select(&keep);
    }
    // The folder is made, and locked for this process, once the inputs are known to be good.
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let _lock = FolderLock::acquire(out)?;
    if progress {
        eprintln!(
            "training on {} images, validating on {}",
            train_set.len(),
            val_set.len()
        );
    }
    let normalization = Normalization::from_dataset(&train_set);
    train_set.normalize(&normalization);
    let mut val_set = val_set;
    val_set.normalize(&normalization);

    let device = device.clone().autodiff();
    device.seed(options.seed);
    let model = TrainNet::new(graph, &device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let path = out.join(CHECKPOINT_FILE);
    if !resume && path.exists() {
        return Err(Error::Training(format!(
            "{} holds a checkpoint; pass --resume to continue it or choose a new --out",
            out.display()
        )));
    }
    let settings = CheckpointSettings {
        options: options.clone(),
    };
    let checkpoint = Checkpoint {
        path: &path,
        settings: &settings,
    };
    let start = resume_checkpoint(
        &checkpoint,
        model,
        optim,
        &format!(
            "made by a run with different settings; train into a new folder or repeat them (see {RUN_FILE})"
        ),
    )?;
    let run_json = serde_json::to_string_pretty(options)
        .map_err(|e| Error::Training(format!("{RUN_FILE}: {e}")))?;
    write_atomic(&out.join(RUN_FILE), run_json.as_bytes())?;

    let schedule = Schedule {
        epochs: options.epochs,
        batch_size: options.batch_size,
        learning_rate: options.learning_rate,
        decay: Decay::Cosine,
        seed: options.seed,
        seeding: Seeding::PerEpoch,
    };
    let mut task = Supervised {
        options,
        hwa,
        loss_fn: CrossEntropyLossConfig::new().init(&device),
        val: &val_set,
        device: device.clone(),
        progress,
        loss_sum: 0.0,
        correct: 0,
        seen: 0,
    };
    let metrics = out.join(METRICS_FILE);
    let run = Run {
        data: &train_set,
        schedule,
        device: &device,
        checkpoint: Some(&checkpoint),
        progress,
    };
    let trained = fit(&run, start, &mut task, |history| {
        write_metrics(&metrics, history)
    })?;
    let network = trained.model.valid().to_network(Some(normalization))?;
    network.save(out)?;
    Ok(TrainReport {
        history: trained.history,
        network,
    })
}

/// Loss and accuracy of the model in inference mode (running batch-norm statistics, no noise).
pub fn evaluate(model: &TrainNet, data: &Dataset, device: &Device, batch: usize) -> (f64, f64) {
    if data.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let model = model.valid();
    let device = device.clone().inner();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for start in (0..data.len()).step_by(batch) {
        let end = (start + batch).min(data.len());
        let (images, labels) = batch_tensors(data, start..end, &device);
        let logits = model.forward(images, None);
        correct += count_correct(&logits, &labels);
        let loss = loss_fn.forward(logits, labels).into_scalar::<f32>();
        loss_sum += f64::from(loss) * (end - start) as f64;
    }
    (
        loss_sum / data.len() as f64,
        correct as f64 / data.len() as f64,
    )
}

fn write_metrics(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut text = String::new();
    for m in history {
        let line = serde_json::to_string(m)
            .map_err(|e| Error::Training(format!("{}: {e}", path.display())))?;
        text.push_str(&line);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}
