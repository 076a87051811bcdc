//! The one training loop of the crate, used by `imcnas train`, supernet training and
//! fine-tuning: epochs of Adam over mini-batches of a seeded shuffle, a learning-rate
//! schedule, a progress bar, a divergence check, and after every epoch the task's metrics and
//! a checkpoint from which [`resume`] continues without losing or repeating an epoch.
//!
//! What a step computes is the task's ([`Task`]): the loss of a plain network on its labels,
//! or the sandwich of a supernet; the loop owns everything else.

use super::checkpoint::{batch_tensors, progress_bar, read_checkpoint, write_checkpoint};
use super::model::TrainNet;
use crate::data::Dataset;
use crate::error::{Error, Result};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// How the learning rate moves over a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decay {
    /// From the peak down to 0 by a cosine over the run's steps.
    Cosine,
    /// The peak throughout (rungs of fine-tuning, which continue one another).
    Constant,
}

/// Where an epoch's random draws (the shuffle, the device's noise, the task's own draws)
/// come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seeding {
    /// Every epoch from its own seed `seed ^ ((epoch + 1) << 32)`, the device reseeded with
    /// it: a run resumed at any epoch repeats the draws of one never stopped.
    PerEpoch,
    /// The device's stream continued from where the caller seeded it (before building the
    /// model), each epoch's shuffle from `seed ^ ((epoch + 1) << 40)`: a call that trains
    /// without checkpoints (fine-tuning rungs, training from scratch).
    Continuous,
}

/// The epochs of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Epochs in all, resumed ones included.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak learning rate of Adam.
    pub learning_rate: f64,
    /// How the learning rate moves.
    pub decay: Decay,
    /// Seed of every draw.
    pub seed: u64,
    /// How the draws are seeded.
    pub seeding: Seeding,
}

impl Schedule {
    /// The seed of epoch `epoch`'s draws.
    fn epoch_seed(&self, epoch: usize) -> u64 {
        match self.seeding {
            Seeding::PerEpoch => self.seed ^ ((epoch as u64 + 1) << 32),
            Seeding::Continuous => self.seed ^ ((epoch as u64 + 1) << 40),
        }
    }
}

/// What one training run computes: its loss per batch and its metrics per epoch.
pub trait Task {
    /// The metrics of one epoch, kept in the checkpoint.
    type Epoch: Clone + Serialize + DeserializeOwned;

    /// The title of epoch `epoch` (0-based) of `epochs` on the progress bar.
    fn label(&self, epoch: usize, epochs: usize) -> String;

    /// The loss of one batch of `images` (normalised) with `labels`; `rng` draws whatever
    /// the task draws itself in this epoch.
    ///
    /// # Errors
    /// A batch the task cannot take.
    fn loss(
        &mut self,
        model: &TrainNet,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>>;

    /// Told each step's loss `value` over a batch of `images` images.
    fn observe(&mut self, value: f32, images: usize) {
        let _ = (value, images);
    }

    /// The error of a loss that is not finite, at step `step` of epoch `epoch` (0-based).
    fn diverged(&self, value: f32, epoch: usize, step: usize) -> Error;

    /// The model after each optimizer step (weight clipping).
    fn after_step(&self, model: TrainNet) -> TrainNet {
        model
    }

    /// The metrics of epoch `epoch` (0-based), begun at `started`, with the model as it ends
    /// it.
    ///
    /// # Errors
    /// An evaluation that fails.
    fn end_epoch(
        &mut self,
        model: &TrainNet,
        epoch: usize,
        started: Instant,
    ) -> Result<Self::Epoch>;
}

/// A checkpoint's JSON state: the settings that made it, and every epoch's metrics.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State<S, E> {
    #[serde(flatten)]
    settings: S,
    history: Vec<E>,
}

/// Where a run keeps its checkpoint, and the settings it is made with (compared on resume).
pub struct Checkpoint<'a, S> {
    /// The checkpoint file, rewritten atomically after every epoch.
    pub path: &'a Path,
    /// The settings, serialised beside the history (flattened into the state's JSON).
    pub settings: &'a S,
}

/// Where and how a run trains: its images, schedule, device, checkpoint and progress bar.
pub struct Run<'a, S> {
    /// Training images, normalised.
    pub data: &'a Dataset,
    /// The epochs.
    pub schedule: Schedule,
    /// The autodiff device the model lives on.
    pub device: &'a Device,
    /// Where the checkpoint goes after every epoch (none: no checkpoint).
    pub checkpoint: Option<&'a Checkpoint<'a, S>>,
    /// A progress bar per epoch on stderr.
    pub progress: bool,
}

/// A trained model, its optimizer and every epoch's metrics.
pub struct Trained<E> {
    /// The model (autodiff device).
    pub model: TrainNet,
    /// The optimizer's state.
    pub optim: ModuleOptimizer,
    /// Every epoch's metrics, resumed ones included.
    pub history: Vec<E>,
}

/// The run saved at `checkpoint.path`, when there is one: its settings are compared with
/// `checkpoint.settings` before any weight is loaded into `model` and `optim`, so that a
/// checkpoint of another run is refused with `mismatch` rather than loaded.
///
/// # Errors
/// A checkpoint of other settings, an unreadable or corrupt one.
pub fn resume<S, E>(
    checkpoint: &Checkpoint<'_, S>,
    model: TrainNet,
    optim: ModuleOptimizer,
    mismatch: &str,
) -> Result<Trained<E>>
where
    S: Serialize + DeserializeOwned + PartialEq,
    E: Serialize + DeserializeOwned,
{
    let path = checkpoint.path;
    if !path.exists() {
        return Ok(Trained {
            model,
            optim,
            history: Vec::new(),
        });
    }
    let (state, model, optim) = read_checkpoint(path, model, optim, |state: &State<S, E>| {
        if state.settings == *checkpoint.settings {
            Ok(())
        } else {
            Err(Error::Training(format!("{}: {mismatch}", path.display())))
        }
    })?;
    Ok(Trained {
        model,
        optim,
        history: state.history,
    })
}

/// Trains `start.model` on `run.data` from the epoch after `start.history` to
/// `run.schedule.epochs`, writing `run.checkpoint` after every epoch and calling `on_epoch`
/// with the history so far.
///
/// # Errors
/// A diverged loss, the task's failures, I/O failures.
pub fn fit<T: Task, S: Serialize>(
    run: &Run<'_, S>,
    start: Trained<T::Epoch>,
    task: &mut T,
    mut on_epoch: impl FnMut(&[T::Epoch]) -> Result<()>,
) -> Result<Trained<T::Epoch>> {
    let Run {
        data,
        schedule,
        device,
        checkpoint,
        progress,
    } = run;
    let Trained {
        mut model,
        mut optim,
        mut history,
    } = start;
    let steps_per_epoch = data.len().div_ceil(schedule.batch_size);
    let total_steps = (steps_per_epoch * schedule.epochs).max(1) as f64;
    for epoch in history.len()..schedule.epochs {
        let started = Instant::now();
        let epoch_seed = schedule.epoch_seed(epoch);
        if schedule.seeding == Seeding::PerEpoch {
            device.seed(epoch_seed);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed);
        let order = data.shuffled(epoch_seed);
        let bar = progress_bar(
            *progress,
            steps_per_epoch,
            task.label(epoch, schedule.epochs),
        );
        for (step, start) in (0..order.len()).step_by(schedule.batch_size).enumerate() {
            let end = (start + schedule.batch_size).min(order.len());
            let (images, labels) = batch_tensors(&order, start..end, device);
            let loss = task.loss(&model, images, labels, &mut rng)?;
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(task.diverged(value, epoch, step));
            }
            task.observe(value, end - start);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let t = (epoch * steps_per_epoch + step) as f64 / total_steps;
            let lr = match schedule.decay {
                Decay::Cosine => {
                    schedule.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
                }
                Decay::Constant => schedule.learning_rate,
            };
            model = task.after_step(optim.step(lr, model, grads));
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        history.push(task.end_epoch(&model, epoch, started)?);
        if let Some(checkpoint) = checkpoint {
            let state = State {
                settings: checkpoint.settings,
                history: history.clone(),
            };
            write_checkpoint(checkpoint.path, &state, &model, &optim)?;
        }
        on_epoch(&history)?;
    }
    Ok(Trained {
        model,
        optim,
        history,
    })
}
