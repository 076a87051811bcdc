//! One candidate from genome to objectives: the subnet cut out of the supernet, its batch
//! norms recalibrated on fixed training batches, compressed, programmed onto chip instances
//! of its hardware at the deployment drift time and run on the validation images, and
//! costed by the component model on the same hardware configuration.

use super::compress::compress;
use super::genome::Candidate;
use crate::backend::Backend;
use crate::config::{DriftTime, Experiment, HwConfig, Objective};
use crate::cost::model::{CostReport, network_cost_compressed};
use crate::data::{Dataset, Normalization};
use crate::error::Result;
use crate::eval::{CALIBRATION_IMAGES, EvalOptions, evaluate};
use crate::network::{Graph, Network};
use crate::search::pareto::Point;
use crate::train::TrainNet;
use crate::train::checkpoint::batch_tensors;
use crate::train::model::{NormStats, Norms};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// What the engine and the cost model say of one candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Accuracy of the compressed subnet in exact f32.
    pub float_accuracy: f64,
    /// Accuracy of every chip instance at the drift time.
    pub accuracies: Vec<f64>,
    /// Their mean.
    pub accuracy: f64,
    /// Energy per image, leakage included (uJ).
    pub energy_uj: f64,
    /// Pipeline period (us per image).
    pub latency_us: f64,
    /// Chip area (mm^2).
    pub area_mm2: f64,
    /// Energy efficiency (TOPS/W).
    pub tops_per_w: f64,
    /// Weights of the subnet (before pruning).
    pub parameters: usize,
}

impl Measurement {
    /// Checks that every figure is one a measurement can give: accuracies in [0, 1],
    /// energy, latency, area and efficiency finite and >= 0.
    ///
    /// # Errors
    /// The first figure that cannot be, named.
    pub fn check(&self) -> std::result::Result<(), String> {
        let fraction = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} = {v} is not an accuracy in [0, 1]"))
            }
        };
        fraction("float_accuracy", self.float_accuracy)?;
        fraction("accuracy", self.accuracy)?;
        for &a in &self.accuracies {
            fraction("accuracies", a)?;
        }
        if self.accuracies.is_empty() {
            return Err("accuracies is empty".into());
        }
        for (name, v) in [
            ("energy_uj", self.energy_uj),
            ("latency_us", self.latency_us),
            ("area_mm2", self.area_mm2),
            ("tops_per_w", self.tops_per_w),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} = {v} is not a finite value >= 0"));
            }
        }
        Ok(())
    }

    /// The figures the search reads.
    pub fn figures(&self) -> Figures {
        Figures::new(
            self.accuracy,
            self.energy_uj,
            self.latency_us,
            self.area_mm2,
        )
    }

    /// The value of one objective (minimised).
    pub fn objective(&self, objective: Objective) -> f64 {
        self.figures().objective(objective)
    }

    /// The search's point (see [`Figures::point`]).
    pub fn point(&self, experiment: &Experiment) -> Point {
        self.figures().point(experiment)
    }
}

/// A candidate's figures as the search sees them, whether measured on chips or read
/// from a table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Accuracy (fraction).
    pub accuracy: f64,
    /// Energy per image (uJ).
    pub energy_uj: f64,
    /// Pipeline period (us per image).
    pub latency_us: f64,
    /// Chip area (mm^2).
    pub area_mm2: f64,
}

impl Figures {
    /// The figures of a candidate: accuracy (fraction), energy (uJ), latency (us), area (mm^2).
    pub fn new(accuracy: f64, energy_uj: f64, latency_us: f64, area_mm2: f64) -> Self {
        Figures {
            accuracy,
            energy_uj,
            latency_us,
            area_mm2,
        }
    }

    /// The value of one objective (minimised).
    pub fn objective(&self, objective: Objective) -> f64 {
        match objective {
            Objective::Error => 1.0 - self.accuracy,
            Objective::Energy => self.energy_uj,
            Objective::Latency => self.latency_us,
            Objective::Area => self.area_mm2,
        }
    }

    /// The search's point: the experiment's objectives, and the constraint violation (0 when
    /// feasible; otherwise the relative excess over each bound, summed).
    pub fn point(&self, experiment: &Experiment) -> Point {
        let search = &experiment.file.search;
        let mut violation = 0.0;
        if search.max_area_mm2 > 0.0 && self.area_mm2 > search.max_area_mm2 {
            violation += (self.area_mm2 - search.max_area_mm2) / search.max_area_mm2;
        }
        if search.min_accuracy > 0.0 && self.accuracy < search.min_accuracy {
            violation += search.min_accuracy - self.accuracy;
        }
        Point {
            objectives: search
                .objectives
                .iter()
                .map(|&o| self.objective(o))
                .collect(),
            violation,
        }
    }
}

/// Everything a candidate's evaluation reads.
pub struct CandidateEvaluator<'a, B: Backend> {
    /// The experiment.
    pub experiment: &'a Experiment,
    /// The trained supernet (inference device).
    pub supernet: &'a TrainNet,
    /// Device of the supernet's tensors.
    pub device: Device,
    /// Normalised training images whose batches recalibrate batch norms.
    pub calibration: Dataset,
    /// Normalisation of the training images (stored with every subnet).
    pub normalization: Normalization,
    /// Validation images (raw pixels; the engine normalises).
    pub validation: Dataset,
    /// Where the chips run.
    pub backend: &'a B,
}

impl<B: Backend> CandidateEvaluator<'_, B> {
    /// The candidate's subnet with recalibrated batch norms, before compression.
    ///
    /// # Errors
    /// A subnet that does not fit the images.
    pub fn subnet(&self, candidate: &Candidate) -> Result<Network> {
        let graph = candidate
            .arch()
            .graph(self.validation.shape, self.validation.classes)?;
        recalibrated_subnet(
            self.supernet,
            &graph,
            &self.calibration,
            self.experiment.file.supernet.batch_size,
            self.experiment.file.search.calibration_batches,
            &self.normalization,
            &self.device,
        )
    }

    /// The training images that calibrate calibrated ADC ranges: the first
    /// [`CALIBRATION_IMAGES`] of the (shuffled) calibration set, back in pixels.
    pub fn adc_calibration_images(&self) -> Vec<f32> {
        let n = CALIBRATION_IMAGES.min(self.calibration.len());
        let [channels, h, w] = self.calibration.shape;
        let plane = h * w;
        let mut images = self.calibration.images_of(0..n).to_vec();
        for image in images.chunks_mut(channels * plane) {
            for (c, channel) in image.chunks_mut(plane).enumerate() {
                let (mean, std) = (self.normalization.mean[c], self.normalization.std[c]);
                channel.iter_mut().for_each(|v| *v = *v * std + mean);
            }
        }
        images
    }

    /// The candidate's hardware configuration.
    ///
    /// # Errors
    /// A combination that does not validate (checked for every option before the run).
    pub fn hardware(&self, candidate: &Candidate) -> Result<HwConfig> {
        let h = &candidate.hardware;
        self.experiment.hardware(&h.device, &h.genes())
    }

    /// Compresses `net` as `candidate` says, runs it on the chips of `hw` at `time` over
    /// `instances` instances on `data`, and costs it.
    ///
    /// # Errors
    /// Engine failures.
    pub fn measure_network(
        &self,
        candidate: &Candidate,
        net: &Network,
        hw: &HwConfig,
        data: &Dataset,
        times: &[DriftTime],
        instances: u32,
    ) -> Result<(Vec<Measurement>, CostReport)> {
        let (compressed, plan) = compress(net, candidate)?;
        let search = &self.experiment.file.search;
        let options = EvalOptions {
            instances,
            times: times.to_vec(),
            seed: search.seed,
            batch: search.batch,
            calibration: hw
                .needs_calibration()
                .then(|| self.adc_calibration_images()),
        };
        let report = evaluate(
            self.backend,
            hw,
            &candidate.hardware.device,
            &compressed,
            data,
            &options,
            &[],
            |_| Ok(()),
        )?;
        let cost = network_cost_compressed(hw.cost()?, &compressed.graph, &plan);
        let parameters = compressed
            .graph
            .matrix_nodes()
            .map(|i| {
                let (cols, rows) = compressed.graph.nodes[i].op.matrix().unwrap_or((0, 0));
                rows * cols
            })
            .sum();
        let measurements = report
            .points
            .iter()
            .map(|p| Measurement {
                float_accuracy: report.float_accuracy,
                accuracies: p.accuracies.clone(),
                accuracy: p.mean,
                energy_uj: (cost.energy.total() + cost.leakage_j) * 1e6,
                latency_us: cost.period_s * 1e6,
                area_mm2: cost.area.total() * 1e6,
                tops_per_w: cost.tops_per_w,
                parameters,
            })
            .collect();
        Ok((measurements, cost))
    }

    /// The search's measurement of one candidate: the validation images, the experiment's
    /// instances, the deployment drift time.
    ///
    /// # Errors
    /// Engine failures.
    pub fn measure(&self, candidate: &Candidate) -> Result<Measurement> {
        let net = self.subnet(candidate)?;
        let hw = self.hardware(candidate)?;
        self.measure_on_validation(candidate, &net, &hw)
    }

    /// The search's measurement of `net` standing for `candidate` on `hw`.
    ///
    /// # Errors
    /// Engine failures.
    pub fn measure_on_validation(
        &self,
        candidate: &Candidate,
        net: &Network,
        hw: &HwConfig,
    ) -> Result<Measurement> {
        let (mut m, _) = self.measure_network(
            candidate,
            net,
            hw,
            &self.validation,
            std::slice::from_ref(&self.experiment.drift),
            self.experiment.file.hardware.instances,
        )?;
        Ok(m.remove(0))
    }
}

/// The subnet `graph` cut out of `supernet`, its batch norms recalibrated on the first
/// `batches` batches of `batch` images of `calibration` (normalised training images): the
/// shared statistics belong to the largest network, not to this one.
///
/// # Errors
/// A subnet that does not fit the supernet.
pub fn recalibrated_subnet(
    supernet: &TrainNet,
    graph: &Graph,
    calibration: &Dataset,
    batch: usize,
    batches: usize,
    normalization: &Normalization,
    device: &Device,
) -> Result<Network> {
    let mut stats = NormStats::default();
    let images = calibration.len().min(batch * batches);
    for start in (0..images).step_by(batch) {
        let end = (start + batch).min(images);
        let (x, _) = batch_tensors(calibration, start..end, device);
        supernet.forward_graph(graph, x, None, &mut Norms::Calibrate(&mut stats));
    }
    supernet.extract(graph, &stats.averages()?, Some(normalization.clone()))
}
