//! The training run: Adam with a cosine learning-rate schedule over mini-batches of a seeded
//! shuffle, validation after every epoch, a checkpoint after every epoch (one file, written
//! atomically) from which `--resume` continues without losing or repeating an epoch, metrics as
//! JSON lines, and the trained network exported to the network format.

use super::checkpoint::{
    batch_tensors, count_correct, progress_bar, read_checkpoint, write_checkpoint,
};
use super::{Hwa, TrainNet};
use crate::data::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::network::{Graph, Network};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// File of the last epoch's checkpoint in the output folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
/// Per-epoch metrics, one JSON object per line.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The run's settings, saved with its results.
pub const RUN_FILE: &str = "train.json";

/// What a training run does; saved as `train.json` and compared on `--resume`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainOptions {
    /// Dataset name.
    pub dataset: String,
    /// Architecture name.
    pub arch: String,
    /// Epochs in all.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak learning rate of Adam (cosine decay to 0 over the run).
    pub learning_rate: f64,
    /// Seed of initialisation, shuffling, validation split and noise.
    pub seed: u64,
    /// Fraction of the training split held out for validation.
    pub validation_fraction: f32,
    /// Relative weight noise of hardware-aware training (0 = off).
    pub noise_eta: f32,
    /// Hardware configuration whose DAC and ADC are fake-quantized (none = off).
    pub fake_quant: Option<String>,
    /// Weight clipping at this many standard deviations after every step (none = off).
    pub clip_sigma: Option<f32>,
    /// Relative gain-error noise before every batch norm (0 = off; absent in runs saved
    /// before it existed).
    #[serde(default)]
    pub gain_noise: f32,
    /// Training images used at most (none = all), for quick runs.
    pub max_train: Option<usize>,
}

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

/// Checkpoint state besides the tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CheckpointState {
    options: TrainOptions,
    history: Vec<EpochMetrics>,
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
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let (mut train_set, val_set) =
        train.split_validation(options.validation_fraction, options.seed)?;
    if let Some(max) = options.max_train {
        let keep: Vec<usize> = (0..max.min(train_set.len())).collect();
        train_set = train_set.select(&keep);
    }
    let normalization = Normalization::from_dataset(&train_set);
    train_set.normalize(&normalization);
    let mut val_set = val_set;
    val_set.normalize(&normalization);

    let device = device.clone().autodiff();
    device.seed(options.seed);
    let mut model = TrainNet::new(graph, &device);
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let mut history = Vec::new();
    let checkpoint = out.join(CHECKPOINT_FILE);
    if resume && checkpoint.exists() {
        let (state, loaded, loaded_optim): (CheckpointState, _, _) =
            read_checkpoint(&checkpoint, model, optim)?;
        if state.options != *options {
            return Err(Error::Training(format!(
                "{}: made by a run with different settings; train into a new folder or repeat them (see {RUN_FILE})",
                checkpoint.display()
            )));
        }
        model = loaded;
        optim = loaded_optim;
        history = state.history;
    } else if !resume && checkpoint.exists() {
        return Err(Error::Training(format!(
            "{} holds a checkpoint; pass --resume to continue it or choose a new --out",
            out.display()
        )));
    }
    let run_json = serde_json::to_string_pretty(options).expect("options serialise");
    write_atomic(&out.join(RUN_FILE), run_json.as_bytes())?;

    let steps_per_epoch = train_set.len().div_ceil(options.batch_size);
    let total_steps = (steps_per_epoch * options.epochs) as f64;
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    for epoch in history.len()..options.epochs {
        let started = Instant::now();
        // Every epoch draws from its own seed, so a resumed run repeats exactly what the
        // killed one would have done.
        let epoch_seed = options.seed ^ ((epoch as u64 + 1) << 32);
        device.seed(epoch_seed);
        let order = train_set.shuffled(epoch_seed);
        let bar = progress_bar(
            progress,
            steps_per_epoch,
            format!("epoch {}/{}", epoch + 1, options.epochs),
        );
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for (step, start) in (0..order.len()).step_by(options.batch_size).enumerate() {
            let end = (start + options.batch_size).min(order.len());
            let (images, labels) = batch_tensors(&order, start..end, &device);
            let logits = model.forward(images, hwa.as_ref());
            correct += count_correct(&logits, &labels);
            let loss = loss_fn.forward(logits, labels);
            let loss_value = loss.clone().into_scalar::<f32>();
            if !loss_value.is_finite() {
                return Err(Error::Training(format!(
                    "loss is {loss_value} at epoch {} step {step}: training diverged (lower --lr)",
                    epoch + 1
                )));
            }
            loss_sum += f64::from(loss_value) * (end - start) as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let t = (epoch * steps_per_epoch + step) as f64 / total_steps;
            let lr = options.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
            model = optim.step(lr, model, grads);
            if let Some(sigmas) = options.clip_sigma {
                model = model.clip_weights(sigmas);
            }
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let (val_loss, val_accuracy) = evaluate(&model, &val_set, &device, options.batch_size);
        history.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / order.len() as f64,
            train_accuracy: correct as f64 / order.len() as f64,
            val_loss,
            val_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        });
        let state = CheckpointState {
            options: options.clone(),
            history: history.clone(),
        };
        write_checkpoint(&checkpoint, &state, &model, &optim)?;
        write_metrics(&out.join(METRICS_FILE), &history)?;
        if progress {
            let m = history.last().expect("just pushed");
            eprintln!(
                "epoch {}/{}: train loss {:.4} acc {:.2}%, validation loss {:.4} acc {:.2}% ({:.1} s)",
                m.epoch,
                options.epochs,
                m.train_loss,
                100.0 * m.train_accuracy,
                m.val_loss,
                100.0 * m.val_accuracy,
                m.seconds
            );
        }
    }
    let network = model.valid().to_network(Some(normalization))?;
    network.save(out)?;
    Ok(TrainReport { history, network })
}

impl TrainOptions {
    /// Checks every value's range; [`train`] does it too, before writing anything.
    ///
    /// # Errors
    /// The first value out of range, named.
    pub fn check(&self) -> Result<()> {
        check(self)
    }
}

fn check(options: &TrainOptions) -> Result<()> {
    let bad = |field: &str, value: String, expected: &str| {
        Err(Error::Training(format!("{field} = {value}: {expected}")))
    };
    if options.epochs == 0 || options.epochs > 100_000 {
        return bad("epochs", options.epochs.to_string(), "expected 1..=100000");
    }
    if options.batch_size == 0 || options.batch_size > 65_536 {
        return bad(
            "batch size",
            options.batch_size.to_string(),
            "expected 1..=65536",
        );
    }
    if !(options.learning_rate > 0.0 && options.learning_rate < 10.0) {
        return bad(
            "learning rate",
            options.learning_rate.to_string(),
            "expected in (0, 10)",
        );
    }
    if !(0.0..0.9).contains(&options.validation_fraction) {
        return bad(
            "validation fraction",
            options.validation_fraction.to_string(),
            "expected in [0, 0.9)",
        );
    }
    if !(0.0..=1.0).contains(&options.noise_eta) {
        return bad(
            "noise eta",
            options.noise_eta.to_string(),
            "expected in [0, 1]",
        );
    }
    if !(0.0..=1.0).contains(&options.gain_noise) {
        return bad(
            "gain noise",
            options.gain_noise.to_string(),
            "expected in [0, 1]",
        );
    }
    if let Some(s) = options.clip_sigma {
        if !(s > 0.0 && s.is_finite()) {
            return bad("clip sigma", s.to_string(), "expected a positive number");
        }
    }
    Ok(())
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
        text.push_str(&serde_json::to_string(m).expect("metrics serialise"));
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}
