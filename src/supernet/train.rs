//! Supernet training by the sandwich rule (Yu et al., BigNAS/slimmable networks): every step
//! trains the largest network on the labels, and the smallest and a few random subnets on
//! the largest one's soft predictions (in-place distillation), all on shared weights with
//! hardware-aware weight noise; one backward pass over the summed losses. A checkpoint after
//! every epoch lets a killed run continue where it stopped.

use super::genome::JointSpace;
use crate::config::experiment::SupernetSection;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Graph;
use crate::network::arch::MacroArch;
use crate::train::checkpoint::{batch_tensors, count_correct};
use crate::train::fit::{Checkpoint, Decay, Run, Schedule, Seeding, Task, Trained, fit, resume};
use crate::train::model::Norms;
use crate::train::{Hwa, TrainNet};
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor};
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

/// The settings a supernet checkpoint is made with: the training settings and the
/// supernet's architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CheckpointSettings {
    settings: SupernetSection,
    supernet: String,
}

/// The sandwich rule: the largest network on the labels, the smallest and a few random
/// subnets on its soft predictions (or the labels), one backward pass over the summed losses.
struct Sandwich<'a> {
    joint: &'a JointSpace,
    settings: &'a SupernetSection,
    hwa: Option<Hwa>,
    loss_fn: CrossEntropyLoss,
    largest: Graph,
    smallest: Graph,
    train: &'a Dataset,
    val: &'a Dataset,
    /// The device of inference (validation).
    inner_device: Device,
    progress: bool,
    loss_sum: f64,
    steps: usize,
}

impl Task for Sandwich<'_> {
    type Epoch = SupernetEpoch;

    fn label(&self, epoch: usize, epochs: usize) -> String {
        format!("supernet epoch {}/{epochs}", epoch + 1)
    }

    fn loss(
        &mut self,
        model: &TrainNet,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>> {
        let teacher = model.forward(images.clone(), self.hwa.as_ref());
        let mut loss = self.loss_fn.forward(teacher.clone(), labels.clone());
        let soft_targets = softmax(teacher.detach(), 1);
        let mut students = vec![self.smallest.clone()];
        for _ in 0..self.settings.random_subnets {
            students.push(subnet_graph(&self.joint.random_arch(rng), self.train)?);
        }
        for student in &students {
            let logits = model.forward_graph(
                student,
                images.clone(),
                self.hwa.as_ref(),
                &mut Norms::Batch,
            );
            loss = loss
                + if self.settings.distill {
                    soft_cross_entropy(logits, soft_targets.clone())
                } else {
                    self.loss_fn.forward(logits, labels.clone())
                };
        }
        Ok(loss)
    }

    fn observe(&mut self, value: f32, _: usize) {
        self.loss_sum += f64::from(value);
        self.steps += 1;
    }

    fn diverged(&self, value: f32, epoch: usize, step: usize) -> Error {
        Error::Training(format!(
            "supernet loss is {value} at epoch {} step {step}: training diverged (lower supernet.learning_rate)",
            epoch + 1
        ))
    }

    fn end_epoch(
        &mut self,
        model: &TrainNet,
        epoch: usize,
        started: Instant,
    ) -> Result<SupernetEpoch> {
        let inner = model.valid();
        let device = &self.inner_device;
        let batch = self.settings.batch_size.max(32);
        let metrics = SupernetEpoch {
            epoch: epoch + 1,
            loss: self.loss_sum / self.steps.max(1) as f64,
            largest_accuracy: batch_stats_accuracy(&inner, &self.largest, self.val, batch, device),
            smallest_accuracy: batch_stats_accuracy(
                &inner,
                &self.smallest,
                self.val,
                batch,
                device,
            ),
            seconds: started.elapsed().as_secs_f64(),
        };
        (self.loss_sum, self.steps) = (0.0, 0);
        if self.progress {
            eprintln!(
                "supernet epoch {}/{}: loss {:.4}, validation accuracy largest {:.2}% smallest {:.2}% ({:.1} s)",
                metrics.epoch,
                self.settings.epochs,
                metrics.loss,
                100.0 * metrics.largest_accuracy,
                100.0 * metrics.smallest_accuracy,
                metrics.seconds
            );
        }
        Ok(metrics)
    }
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
    let model = TrainNet::new(&graph, &device);
    let optim: ModuleOptimizer = AdamConfig::new().init();
    let path = dir.join(SUPERNET_CHECKPOINT);
    let checkpoint_settings = CheckpointSettings {
        settings: settings.clone(),
        supernet: format!("{largest:?}"),
    };
    let checkpoint = Checkpoint {
        path: &path,
        settings: &checkpoint_settings,
    };
    let start: Trained<SupernetEpoch> = resume(
        &checkpoint,
        model,
        optim,
        "made with other supernet settings or another space",
    )?;
    let schedule = Schedule {
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        learning_rate: settings.learning_rate,
        decay: Decay::Cosine,
        seed: settings.seed,
        seeding: Seeding::PerEpoch,
    };
    let mut task = Sandwich {
        joint,
        settings,
        hwa: (settings.noise_eta > 0.0 || settings.gain_noise > 0.0)
            .then(|| Hwa::noise(settings.noise_eta).with_gain_noise(settings.gain_noise)),
        loss_fn: CrossEntropyLossConfig::new().init(&device),
        largest: graph,
        smallest: joint.smallest().graph(train.shape, train.classes)?,
        train,
        val,
        inner_device: device.clone().inner(),
        progress,
        loss_sum: 0.0,
        steps: 0,
    };
    let run = Run {
        data: train,
        schedule,
        device: &device,
        checkpoint: Some(&checkpoint),
        progress,
    };
    let trained = fit(&run, start, &mut task, |_| Ok(()))?;
    Ok(Supernet {
        model: trained.model.valid(),
        history: trained.history,
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
