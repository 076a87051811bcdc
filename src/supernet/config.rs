//! The experiment file of `imcnas run` and `imcnas search`: the search space, the compression
//! and hardware options, supernet training, the search, fine-tuning and the final evaluation.
//! Every key has a default (the embedded digits experiment, `models/experiment-digits.toml`,
//! spells them out); [`Experiment::load`] checks every value, and loads every hardware
//! combination the search may draw, before any work starts.

use crate::config;
use crate::data::DatasetName;
use crate::error::{Error, Result};
use crate::eval::DriftTime;
use crate::search::Strategy;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The embedded default experiment: a joint search on the 8x8 digits.
pub const DEFAULT_EXPERIMENT: &str = include_str!("../../models/experiment-digits.toml");

/// An experiment file as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentFile {
    /// The dataset.
    pub data: DataSection,
    /// The architecture space; its largest network is the supernet.
    pub space: SpaceSection,
    /// Compression options per stage.
    pub compression: CompressionSection,
    /// Hardware options and how a candidate's chips are read.
    pub hardware: HardwareSection,
    /// Supernet training.
    pub supernet: SupernetSection,
    /// The search.
    pub search: SearchSection,
    /// Fine-tuning of the best subnets.
    pub finetune: FinetuneSection,
    /// The final evaluation.
    #[serde(rename = "final")]
    pub final_eval: FinalSection,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// "digits" (embedded), "mnist", "fashion-mnist" or "cifar10". Default "digits".
    pub dataset: String,
    /// Folder of the dataset files (none = the default places). Default none.
    pub data_dir: Option<PathBuf>,
    /// Fraction of the training split held out for validation; the search measures accuracy
    /// there, the final evaluation on the test split (0.05..=0.5). Default 0.2.
    pub validation_fraction: f32,
    /// Training images used at most (count, 0 = all). Default 0.
    pub max_train: usize,
    /// Validation images each candidate is evaluated on (count, 0 = all). Default 0.
    pub search_images: usize,
    /// Test images of the final evaluation (count, 0 = all). Default 0.
    pub test_images: usize,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            dataset: "digits".into(),
            data_dir: None,
            validation_fraction: 0.2,
            max_train: 0,
            search_images: 0,
            test_images: 0,
        }
    }
}

/// `[space]`: ResNet-like networks of three stages of residual basic blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpaceSection {
    /// Stem widths (channels, each 1..=512). Default [8, 16].
    pub stem_widths: Vec<usize>,
    /// Blocks per stage (each 1..=6). Default [1, 2, 3].
    pub depths: Vec<usize>,
    /// Widths of each of the three stages (channels, each 1..=512). Default [[8, 16],
    /// [16, 24], [24, 32]].
    pub stage_widths: Vec<Vec<usize>>,
    /// Kernel sides of a block's convolutions (odd, 1..=7). Default [3, 5].
    pub kernels: Vec<usize>,
}

impl Default for SpaceSection {
    fn default() -> Self {
        SpaceSection {
            stem_widths: vec![8, 16],
            depths: vec![1, 2, 3],
            stage_widths: vec![vec![8, 16], vec![16, 24], vec![24, 32]],
            kernels: vec![3, 5],
        }
    }
}

/// `[compression]`: per stage, weight precision and crossbar-aware row pruning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionSection {
    /// Weight precision options of a stage's layers (bits, each 2..=16; a layer's weights
    /// are rounded to 2^(bits-1) - 1 levels per sign of its largest magnitude).
    /// Default [4, 6, 8].
    pub weight_bits: Vec<u32>,
    /// Fractions of each convolution's unrolled input rows removed, the rows of smallest L1
    /// norm (each 0..0.95). Default [0.0, 0.25, 0.5].
    pub prune_fractions: Vec<f64>,
}

impl Default for CompressionSection {
    fn default() -> Self {
        CompressionSection {
            weight_bits: vec![4, 6, 8],
            prune_fractions: vec![0.0, 0.25, 0.5],
        }
    }
}

/// `[hardware]`: the hardware genes and how a candidate's chips are read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardwareSection {
    /// Device options: hardware configurations (preset names or files) whose `[device]`,
    /// converters and `[cost]` memory a candidate takes. Default ["pcm", "rram", "sram"].
    pub devices: Vec<String>,
    /// Square tile sizes (rows = columns, 4..=1024). Default [64, 128, 256].
    pub tile_sizes: Vec<u32>,
    /// Input DAC resolutions (bits, 2..=16; also the activation bits of the cost model).
    /// Default [4, 6, 8].
    pub dac_bits: Vec<u32>,
    /// ADC resolutions (bits, 2..=12; the engine's and the cost model's). Default [4, 6, 8].
    pub adc_bits: Vec<u32>,
    /// Columns sharing one ADC (count, 1..=smallest tile size). Default [4, 8, 16].
    pub cols_per_adc: Vec<u32>,
    /// Time after programming at which candidates are read (s, m, h, d, w, y). Default "1d".
    pub drift: String,
    /// Chip instances per candidate (1..=1000). Default 4.
    pub instances: u32,
}

impl Default for HardwareSection {
    fn default() -> Self {
        HardwareSection {
            devices: vec!["pcm".into(), "rram".into(), "sram".into()],
            tile_sizes: vec![64, 128, 256],
            dac_bits: vec![4, 6, 8],
            adc_bits: vec![4, 6, 8],
            cols_per_adc: vec![4, 8, 16],
            drift: "1d".into(),
            instances: 4,
        }
    }
}

/// `[supernet]`: sandwich-rule training with in-place distillation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupernetSection {
    /// Epochs (1..=10000). Default 30.
    pub epochs: usize,
    /// Images per step (1..=4096). Default 64.
    pub batch_size: usize,
    /// Peak Adam learning rate, cosine decay (0..1). Default 0.003.
    pub learning_rate: f64,
    /// Hardware-aware weight noise, std relative to each layer's max |W| (0..=0.5). Default 0.02.
    pub noise_eta: f32,
    /// Hardware-aware gain noise: relative std of a random output-gain error before every
    /// batch norm, as drift compensation leaves it on a PCM chip (0..=1). Default 0.2.
    pub gain_noise: f32,
    /// Random subnets per step besides the largest and the smallest (0..=8). Default 2.
    pub random_subnets: usize,
    /// Subnets learn the largest network's soft predictions (in-place distillation)
    /// instead of the labels. Default true.
    pub distill: bool,
    /// Seed of initialisation, shuffling, subnet draws and noise. Default 0.
    pub seed: u64,
}

impl Default for SupernetSection {
    fn default() -> Self {
        SupernetSection {
            epochs: 30,
            batch_size: 64,
            learning_rate: 3e-3,
            noise_eta: 0.02,
            gain_noise: 0.2,
            random_subnets: 2,
            distill: true,
            seed: 0,
        }
    }
}

/// An objective of the search (all minimised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// 1 - mean accuracy over the chip instances at the deployment drift time.
    Error,
    /// Energy per image, leakage included (uJ).
    Energy,
    /// Time per image, the chip's pipeline period (us).
    Latency,
    /// Chip area (mm^2).
    Area,
}

impl Objective {
    /// Name with its unit, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Objective::Error => "error",
            Objective::Energy => "energy (uJ/image)",
            Objective::Latency => "latency (us/image)",
            Objective::Area => "area (mm^2)",
        }
    }
}

/// `[search]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSection {
    /// "nsga2", "random", "regularized_evolution" or "exhaustive". Default "nsga2".
    pub strategy: Strategy,
    /// Genomes per generation (2..=10000). Default 16.
    pub population: usize,
    /// Distinct genomes evaluated in all (1..=10^7). Default 96.
    pub budget: usize,
    /// Regularised evolution's tournament size (1..=population). Default 4.
    pub sample_size: usize,
    /// Seed of the search's draws and of the chip instances. Default 0.
    pub seed: u64,
    /// Objectives, each once: "error", "energy", "latency", "area".
    /// Default ["error", "energy", "latency", "area"].
    pub objectives: Vec<Objective>,
    /// Constraint: chip area at most this (mm^2, 0 = none). Default 0.
    pub max_area_mm2: f64,
    /// Constraint: mean chip accuracy at least this (fraction, 0 = none). Default 0.
    pub min_accuracy: f64,
    /// Training batches that recalibrate a subnet's batch norms (1..=1000). Default 4.
    pub calibration_batches: usize,
    /// Images per forward pass of the engine (1..=65536). Default 256.
    pub batch: usize,
}

impl Default for SearchSection {
    fn default() -> Self {
        SearchSection {
            strategy: Strategy::Nsga2,
            population: 16,
            budget: 96,
            sample_size: 4,
            seed: 0,
            objectives: vec![
                Objective::Error,
                Objective::Energy,
                Objective::Latency,
                Objective::Area,
            ],
            max_area_mm2: 0.0,
            min_accuracy: 0.0,
            calibration_batches: 4,
            batch: 256,
        }
    }
}

/// `[finetune]`: hardware-aware fine-tuning of the top Pareto subnets, with successive
/// halving over learning rate and noise level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneSection {
    /// Pareto subnets fine-tuned, spread along the front by accuracy (0 = no fine-tuning,
    /// ..=100). Default 3.
    pub top_k: usize,
    /// Learning rates tried (each in (0, 1)). Default [0.001, 0.003].
    pub learning_rates: Vec<f64>,
    /// Weight noise levels tried (relative std, each 0..=0.5). Default [0.0, 0.04].
    pub noise_levels: Vec<f32>,
    /// Epochs of the first rung; each later rung doubles the epochs of the survivors
    /// (1..=1000). Default 1.
    pub rung_epochs: usize,
}

impl Default for FinetuneSection {
    fn default() -> Self {
        FinetuneSection {
            top_k: 3,
            learning_rates: vec![1e-3, 3e-3],
            noise_levels: vec![0.0, 0.04],
            rung_epochs: 1,
        }
    }
}

/// `[final]`: the final evaluation on the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinalSection {
    /// Chip instances per drift time (1..=1000). Default 8.
    pub instances: u32,
    /// Drift times (s, m, h, d, w, y). Default ["0", "1h", "1d", "30d", "1y"].
    pub times: Vec<String>,
    /// ADC resolutions of the accuracy-vs-ADC-bits sweep of the most accurate final
    /// subnet (bits, each 2..=12; empty = no sweep). Default [3, 4, 5, 6, 8].
    pub adc_sweep: Vec<u32>,
}

impl Default for FinalSection {
    fn default() -> Self {
        FinalSection {
            instances: 8,
            times: ["0", "1h", "1d", "30d", "1y"].map(String::from).to_vec(),
            adc_sweep: vec![3, 4, 5, 6, 8],
        }
    }
}

/// A checked experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// The file as read, overrides applied (saved with the results).
    pub file: ExperimentFile,
    /// Where it came from, for messages.
    pub origin: String,
    /// The dataset.
    pub dataset: DatasetName,
    /// Deployment drift time of the search.
    pub drift: DriftTime,
    /// Drift times of the final evaluation.
    pub final_times: Vec<DriftTime>,
}

impl Experiment {
    /// Reads `path` (none = the embedded digits experiment), applies `overrides`
    /// (`section.key=value`) and checks every value.
    ///
    /// # Errors
    /// An unreadable file, TOML or schema errors, out-of-range values, and hardware
    /// combinations that do not load; each names the file and key.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Experiment> {
        let (origin, text) = match path {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
            ),
            None => (
                "embedded experiment-digits".to_string(),
                DEFAULT_EXPERIMENT.to_string(),
            ),
        };
        Experiment::from_text(&text, &origin, overrides)
    }

    /// As [`Experiment::load`], from TOML text.
    ///
    /// # Errors
    /// As [`Experiment::load`].
    pub fn from_text(text: &str, origin: &str, overrides: &[String]) -> Result<Experiment> {
        let config_error = |message: String| Error::Config {
            origin: origin.to_string(),
            message,
        };
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| config_error(e.message().trim().to_string()))?;
        for assignment in overrides {
            config::apply_override(&mut table, assignment)?;
        }
        let text = toml::to_string(&table).map_err(|e| config_error(e.to_string()))?;
        let file: ExperimentFile = toml::from_str(&text)
            .map_err(|e| config_error(e.message().trim().replace('\n', " ")))?;
        file.check(origin)
    }

    /// The experiment as TOML (saved in the run folder and compared on resume).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.file).unwrap_or_default()
    }

    /// The hardware configuration of one device option with a candidate's genes.
    ///
    /// # Errors
    /// A combination that does not validate.
    pub fn hardware(
        &self,
        device: &str,
        tile: u32,
        dac_bits: u32,
        adc_bits: u32,
        cols_per_adc: u32,
    ) -> Result<config::HwConfig> {
        config::load(
            device,
            &hardware_overrides(tile, dac_bits, adc_bits, cols_per_adc),
        )
    }
}

/// The `--set` overrides that put a candidate's hardware genes into a configuration: one
/// tile size for the engine and the cost model, the DAC resolution as the activation
/// precision, one ADC resolution for both.
pub fn hardware_overrides(tile: u32, dac_bits: u32, adc_bits: u32, cols: u32) -> Vec<String> {
    vec![
        format!("tile.rows={tile}"),
        format!("tile.cols={tile}"),
        format!("dac.bits={dac_bits}"),
        format!("cost.input_bits={dac_bits}"),
        format!("adc.bits={adc_bits}"),
        format!("cost.adc_bits={adc_bits}"),
        format!("cost.cols_per_adc={cols}"),
    ]
}

impl ExperimentFile {
    fn check(self, origin: &str) -> Result<Experiment> {
        let fail = |field: &str, value: String, expected: &str| Error::ConfigValue {
            origin: origin.to_string(),
            field: field.to_string(),
            value,
            expected: expected.to_string(),
        };
        let list = |field: &str, values: &[f64], lo: f64, hi: f64| -> Result<()> {
            if values.is_empty() {
                return Err(fail(field, "[]".into(), "expected at least one option"));
            }
            match values.iter().find(|v| !(lo..=hi).contains(*v)) {
                Some(v) => Err(fail(field, v.to_string(), &format!("expected {lo}..={hi}"))),
                None => Ok(()),
            }
        };
        let ints = |v: &[usize]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        let ints32 = |v: &[u32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
        let range = |field: &str, v: f64, lo: f64, hi: f64| -> Result<()> {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(fail(field, v.to_string(), &format!("expected {lo}..={hi}")))
            }
        };

        let dataset: DatasetName = self.data.dataset.parse().map_err(|_| {
            fail(
                "data.dataset",
                self.data.dataset.clone(),
                "expected digits, mnist, fashion-mnist or cifar10",
            )
        })?;
        range(
            "data.validation_fraction",
            f64::from(self.data.validation_fraction),
            0.05,
            0.5,
        )?;

        let s = &self.space;
        list("space.stem_widths", &ints(&s.stem_widths), 1.0, 512.0)?;
        list("space.depths", &ints(&s.depths), 1.0, 6.0)?;
        list("space.kernels", &ints(&s.kernels), 1.0, 7.0)?;
        if let Some(k) = s.kernels.iter().find(|k| *k % 2 == 0) {
            return Err(fail("space.kernels", k.to_string(), "expected odd sides"));
        }
        if s.stage_widths.len() != 3 {
            return Err(fail(
                "space.stage_widths",
                format!("{} stages", s.stage_widths.len()),
                "expected a list of widths for each of 3 stages",
            ));
        }
        for widths in &s.stage_widths {
            list("space.stage_widths", &ints(widths), 1.0, 512.0)?;
        }

        let c = &self.compression;
        list(
            "compression.weight_bits",
            &ints32(&c.weight_bits),
            2.0,
            16.0,
        )?;
        list("compression.prune_fractions", &c.prune_fractions, 0.0, 0.95)?;

        let h = &self.hardware;
        if h.devices.is_empty() {
            return Err(fail(
                "hardware.devices",
                "[]".into(),
                "expected at least one",
            ));
        }
        list("hardware.tile_sizes", &ints32(&h.tile_sizes), 4.0, 1024.0)?;
        list("hardware.dac_bits", &ints32(&h.dac_bits), 2.0, 16.0)?;
        list("hardware.adc_bits", &ints32(&h.adc_bits), 2.0, 12.0)?;
        let smallest_tile = h.tile_sizes.iter().copied().min().unwrap_or(4);
        list(
            "hardware.cols_per_adc",
            &ints32(&h.cols_per_adc),
            1.0,
            f64::from(smallest_tile),
        )?;
        range("hardware.instances", f64::from(h.instances), 1.0, 1000.0)?;
        let drift: DriftTime = h.drift.parse().map_err(|_| {
            fail(
                "hardware.drift",
                h.drift.clone(),
                "expected e.g. 0, 1h, 1d, 1y",
            )
        })?;

        let t = &self.supernet;
        range("supernet.epochs", t.epochs as f64, 1.0, 10_000.0)?;
        range("supernet.batch_size", t.batch_size as f64, 1.0, 4096.0)?;
        if !(t.learning_rate > 0.0 && t.learning_rate < 1.0) {
            return Err(fail(
                "supernet.learning_rate",
                t.learning_rate.to_string(),
                "expected in (0, 1)",
            ));
        }
        range("supernet.noise_eta", f64::from(t.noise_eta), 0.0, 0.5)?;
        range("supernet.gain_noise", f64::from(t.gain_noise), 0.0, 1.0)?;
        range("supernet.random_subnets", t.random_subnets as f64, 0.0, 8.0)?;

        let q = &self.search;
        range("search.population", q.population as f64, 2.0, 10_000.0)?;
        range("search.budget", q.budget as f64, 1.0, 1e7)?;
        range(
            "search.sample_size",
            q.sample_size as f64,
            1.0,
            q.population as f64,
        )?;
        range(
            "search.calibration_batches",
            q.calibration_batches as f64,
            1.0,
            1000.0,
        )?;
        range("search.batch", q.batch as f64, 1.0, 65_536.0)?;
        range("search.max_area_mm2", q.max_area_mm2, 0.0, 1e6)?;
        range("search.min_accuracy", q.min_accuracy, 0.0, 1.0)?;
        if q.objectives.is_empty() {
            return Err(fail(
                "search.objectives",
                "[]".into(),
                "expected at least one",
            ));
        }
        for (i, o) in q.objectives.iter().enumerate() {
            if q.objectives[..i].contains(o) {
                return Err(fail("search.objectives", format!("{o:?}"), "listed twice"));
            }
        }

        let f = &self.finetune;
        range("finetune.top_k", f.top_k as f64, 0.0, 100.0)?;
        if f.top_k > 0 {
            list("finetune.learning_rates", &f.learning_rates, 1e-7, 0.999)?;
            let noise: Vec<f64> = f.noise_levels.iter().map(|&x| f64::from(x)).collect();
            list("finetune.noise_levels", &noise, 0.0, 0.5)?;
        }
        range("finetune.rung_epochs", f.rung_epochs as f64, 1.0, 1000.0)?;

        let e = &self.final_eval;
        range("final.instances", f64::from(e.instances), 1.0, 1000.0)?;
        if e.times.is_empty() {
            return Err(fail("final.times", "[]".into(), "expected at least one"));
        }
        let final_times = e
            .times
            .iter()
            .map(|t| {
                t.parse::<DriftTime>()
                    .map_err(|_| fail("final.times", t.clone(), "expected e.g. 0, 1h, 1d, 1y"))
            })
            .collect::<Result<Vec<_>>>()?;
        if !e.adc_sweep.is_empty() {
            list("final.adc_sweep", &ints32(&e.adc_sweep), 2.0, 12.0)?;
        }

        let experiment = Experiment {
            file: self,
            origin: origin.to_string(),
            dataset,
            drift,
            final_times,
        };
        // Every hardware option must load with every gene it can be given: its extremes
        // span the ranges each key is checked against.
        let h = &experiment.file.hardware;
        let extremes = |v: &[u32]| {
            let (lo, hi) = (v.iter().min(), v.iter().max());
            [*lo.unwrap_or(&0), *hi.unwrap_or(&0)]
        };
        for device in &h.devices {
            for tile in extremes(&h.tile_sizes) {
                for dac in extremes(&h.dac_bits) {
                    for adc in extremes(&h.adc_bits) {
                        for cols in extremes(&h.cols_per_adc) {
                            experiment
                                .hardware(device, tile, dac, adc, cols)
                                .map_err(|e| Error::Config {
                                    origin: origin.to_string(),
                                    message: format!("hardware.devices {device:?}: {e}"),
                                })?;
                        }
                    }
                }
            }
        }
        Ok(experiment)
    }
}
