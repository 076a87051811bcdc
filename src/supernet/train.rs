//! Supernet training by the sandwich rule (Yu et al., BigNAS/slimmable networks): every step
//! trains the largest network on the labels, and the smallest and a few random subnets on
//! the largest one's soft predictions (in-place distillation), all on shared weights with
//! hardware-aware weight noise; one backward pass over the summed losses. A checkpoint after
//! every epoch lets a killed run continue where it stopped.

use super::config::SupernetSection;
use super::genome::JointSpace;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Graph;
use crate::network::arch::MacroArch;
use crate::train::checkpoint::{
    batch_tensors, count_correct, progress_bar, read_checkpoint, write_checkpoint,
};
use crate::train::model::Norms;
use crate::train::{Hwa, TrainNet};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// The supernet's checkpoint in its folder.
pub const SUPERNET_CHECKPOINT: &str = "supernet.bin";

/// One epoch of supernet training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupernetEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean summed loss of the sandwich per step.
    pub loss: f64,
    /// Validation accuracy of the largest network (batch statistics).
    pub largest_accuracy: f64,
    /// Validation accuracy of the smallest subnet (batch statistics).
    pub smallest_accuracy: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    settings: SupernetSection,
    supernet: String,
    history: Vec<SupernetEpoch>,
}

/// A trained (or training) supernet.
pub struct Supernet {
    /// The shared parameters, the largest network's graph.
    pub model: TrainNet,
    /// Every epoch's metrics.
    pub history: Vec<SupernetEpoch>,
}

/// Trains the supernet of `joint` on `train` (normalised images), checking it on `val` after
/// every epoch, with its checkpoint in `dir`; continues a checkpoint there made with the same
/// settings.
///
/// # Errors
/// A checkpoint from other settings, I/O failures, diverged training.
#[allow(clippy::too_many_arguments)]
pub fn train_supernet(
    joint: &JointSpace,
    settings: &SupernetSection,
    train: &Dataset,
    val: &Dataset,
    device: &Device,
    dir: &Path,
    progress: bool,
) -> Result<Supernet> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let largest = joint.largest();
    let graph = largest.graph(train.shape, train.classes)?;
    let device = device.clone().autodiff();
    device.seed(settings.seed);
    let mut model = TrainNet::new(&graph, &device);
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let mut history = Vec::new();
    let checkpoint = dir.join(SUPERNET_CHECKPOINT);
    let description = format!("{largest:?}");
    if checkpoint.exists() {
        let (state, loaded, loaded_optim): (State, _, _) =
            read_checkpoint(&checkpoint, model, optim)?;
        if state.settings != *settings || state.supernet != description {
            return Err(Error::Training(format!(
                "{}: made with other supernet settings or another space",
                checkpoint.display()
            )));
        }
        (model, optim, history) = (loaded, loaded_optim, state.history);
    }

    let hwa = (settings.noise_eta > 0.0 || settings.gain_noise > 0.0)
        .then(|| Hwa::noise(settings.noise_eta).with_gain_noise(settings.gain_noise));
    let steps_per_epoch = train.len().div_ceil(settings.batch_size);
    let total_steps = (steps_per_epoch * settings.epochs) as f64;
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let smallest = joint.smallest().graph(train.shape, train.classes)?;
    for epoch in history.len()..settings.epochs {
        let started = Instant::now();
        let epoch_seed = settings.seed ^ ((epoch as u64 + 1) << 32);
        device.seed(epoch_seed);
        let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed);
        let order = train.shuffled(epoch_seed);
        let bar = progress_bar(
            progress,
            steps_per_epoch,
            format!("supernet epoch {}/{}", epoch + 1, settings.epochs),
        );
        let mut loss_sum = 0.0f64;
        for (step, start) in (0..order.len()).step_by(settings.batch_size).enumerate() {
            let end = (start + settings.batch_size).min(order.len());
            let (images, labels) = batch_tensors(&order, start..end, &device);
            let teacher = model.forward(images.clone(), hwa.as_ref());
            let mut loss = loss_fn.forward(teacher.clone(), labels.clone());
            let soft_targets = softmax(teacher.detach(), 1);
            let mut students = vec![smallest.clone()];
            for _ in 0..settings.random_subnets {
                students.push(subnet_graph(&joint.random_arch(&mut rng), train)?);
            }
            for student in &students {
                let logits =
                    model.forward_graph(student, images.clone(), hwa.as_ref(), &mut Norms::Batch);
                loss = loss
                    + if settings.distill {
                        soft_cross_entropy(logits, soft_targets.clone())
                    } else {
                        loss_fn.forward(logits, labels.clone())
                    };
            }
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(Error::Training(format!(
                    "supernet loss is {value} at epoch {} step {step}: training diverged (lower supernet.learning_rate)",
                    epoch + 1
                )));
            }
            loss_sum += f64::from(value);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let t = (epoch * steps_per_epoch + step) as f64 / total_steps;
            let lr = settings.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
            model = optim.step(lr, model, grads);
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let inner = model.valid();
        let inner_device = device.clone().inner();
        let batch = settings.batch_size.max(32);
        history.push(SupernetEpoch {
            epoch: epoch + 1,
            loss: loss_sum / steps_per_epoch as f64,
            largest_accuracy: batch_stats_accuracy(&inner, &graph, val, batch, &inner_device),
            smallest_accuracy: batch_stats_accuracy(&inner, &smallest, val, batch, &inner_device),
            seconds: started.elapsed().as_secs_f64(),
        });
        let state = State {
            settings: settings.clone(),
            supernet: description.clone(),
            history: history.clone(),
        };
        write_checkpoint(&checkpoint, &state, &model, &optim)?;
        if progress {
            let m = history.last().expect("just pushed");
            eprintln!(
                "supernet epoch {}/{}: loss {:.4}, validation accuracy largest {:.2}% smallest {:.2}% ({:.1} s)",
                m.epoch,
                settings.epochs,
                m.loss,
                100.0 * m.largest_accuracy,
                100.0 * m.smallest_accuracy,
                m.seconds
            );
        }
    }
    Ok(Supernet {
        model: model.valid(),
        history,
    })
}

/// The graph of a subnet on `data`'s images.
pub fn subnet_graph(arch: &MacroArch, data: &Dataset) -> Result<Graph> {
    arch.graph(data.shape, data.classes)
}

/// Mean over the batch of the cross-entropy between target probabilities and the logits.
fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let batch = logits.dims()[0] as f64;
    (targets * log_softmax(logits, 1)).sum().neg() / batch
}

/// Accuracy of `graph` on `data` (normalised) with batch statistics in every batch norm.
pub fn batch_stats_accuracy(
    model: &TrainNet,
    graph: &Graph,
    data: &Dataset,
    batch: usize,
    device: &Device,
) -> f64 {
    if data.is_empty() {
        return f64::NAN;
    }
    let mut correct = 0;
    for start in (0..data.len()).step_by(batch) {
        let end = (start + batch).min(data.len());
        let (images, labels) = batch_tensors(data, start..end, device);
        let logits = model.forward_graph(graph, images, None, &mut Norms::Batch);
        correct += count_correct(&logits, &labels);
    }
    correct as f64 / data.len() as f64
}
