//! The experiment of `imcnas run`, `imcnas search` and `imcnas rank`: the search space, the compression
//! and hardware options, supernet training, the search, fine-tuning and the final evaluation.
//! Every key has a default (the embedded digits experiment, `models/experiment-digits.toml`,
//! spells them out); [`Experiment::load`] checks every value, and loads every hardware
//! combination the search may draw, before any work starts.

use super::cell::CellOp;
use super::check::Checker;
use super::chip::{HardwareGenes, HwConfig};
use super::hardware::{AdcRange, BatchNormMapping, NoiseManagement, WeightScaling};
use super::load::Source;
use crate::data::DatasetName;
use crate::data::table::AccuracyTable;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The embedded default experiment: a joint search on the 8x8 digits.
pub const DEFAULT_EXPERIMENT: &str = include_str!("../../models/experiment-digits.toml");

/// A time after programming at which the chip is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftTime {
    /// As given: `0`, `1h`, `30d`, ...
    pub label: String,
    /// Seconds.
    pub seconds: f64,
}

impl std::str::FromStr for DriftTime {
    type Err = Error;

    /// A number with an optional unit: s, m, h, d, w, y (365 days); no unit = seconds; at
    /// most 1e10 s.
    fn from_str(text: &str) -> Result<DriftTime> {
        let text = text.trim();
        let bad = || {
            Error::Config {
            origin: format!("drift time {text:?}"),
            message: "expected a number with an optional unit s, m, h, d, w or y (e.g. 0, 1h, 30d), at most 1e10 s".into(),
        }
        };
        let split = text
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let scale = match unit {
            "" | "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 7.0 * 86_400.0,
            "y" => 365.0 * 86_400.0,
            _ => return Err(bad()),
        };
        let seconds = value * scale;
        if !(0.0..=1e10).contains(&seconds) {
            return Err(bad());
        }
        Ok(DriftTime {
            label: text.to_string(),
            seconds,
        })
    }
}

/// How the search proposes genomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// NSGA-II.
    Nsga2,
    /// Uniform random sampling.
    Random,
    /// Regularised (aging) evolution with a Pareto-rank tournament.
    RegularizedEvolution,
    /// Every genome of a choice-only space.
    Exhaustive,
    /// Random forests fitted on the evaluations so far propose each batch (after a first
    /// random one) by their optimistic predictions.
    Surrogate,
}

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

/// What kind of networks a space holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceKind {
    /// ResNet-like stages of residual basic blocks, searched on a weight-sharing supernet.
    #[default]
    Macro,
    /// NAS-Bench-201 cells (six edges, each one of `cell_ops`) in NAS-Bench-201's
    /// skeleton, searched on a table of accuracies (`search.table`).
    Cell,
}

/// The network of NAS-Bench-201 and AnalogNAS-Bench: cells per stage.
const BENCH_CELLS: usize = 5;
/// The network of NAS-Bench-201 and AnalogNAS-Bench: channels of its first stage.
const BENCH_CHANNELS: usize = 16;
/// AnalogNAS-Bench's accuracy 30 days after programming, of hardware-aware-trained networks.
pub const DEFAULT_TABLE_COLUMN: &str = "analog_drift_2592000_mean";

fn is_macro(kind: &SpaceKind) -> bool {
    *kind == SpaceKind::Macro
}
fn is_all_cell_ops(ops: &[CellOp]) -> bool {
    ops == CellOp::ALL
}
fn is_bench_cells(n: &usize) -> bool {
    *n == BENCH_CELLS
}
fn is_bench_channels(n: &usize) -> bool {
    *n == BENCH_CHANNELS
}
fn is_default_column(c: &str) -> bool {
    c == DEFAULT_TABLE_COLUMN
}

/// `[space]`: ResNet-like networks of three stages of residual basic blocks (the macro
/// space, default), or NAS-Bench-201 cell networks. Keys of the other kind are ignored.
/// The cell keys are left out of a saved experiment when at their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpaceSection {
    /// "macro" or "cell". Default "macro".
    #[serde(skip_serializing_if = "is_macro")]
    pub kind: SpaceKind,
    /// cell: the operations an edge may take ("skip", "none", "conv3x3", "conv1x1",
    /// "avg_pool"; each once). Default all five.
    #[serde(skip_serializing_if = "is_all_cell_ops")]
    pub cell_ops: Vec<CellOp>,
    /// cell: cells per stage (NAS-Bench-201's N, 1..=32). Default 5.
    #[serde(skip_serializing_if = "is_bench_cells")]
    pub cells: usize,
    /// cell: channels of the stem and the first stage (NAS-Bench-201's C; the later
    /// stages have 2C and 4C; 1..=256). Default 16.
    #[serde(skip_serializing_if = "is_bench_channels")]
    pub cell_channels: usize,
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
            kind: SpaceKind::Macro,
            cell_ops: CellOp::ALL.to_vec(),
            cells: BENCH_CELLS,
            cell_channels: BENCH_CHANNELS,
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
    /// weight mapping, converters and `[cost]` memory a candidate takes. Default
    /// ["neurosim-rram-22nm", "neurosim-sram-22nm"].
    pub devices: Vec<String>,
    /// Square tile sizes (rows = columns, 4..=1024). Default [64, 128, 256].
    pub tile_sizes: Vec<u32>,
    /// Activation resolutions, sign included (`dac.bits`, 2..=16). Default [5, 7, 9].
    pub dac_bits: Vec<u32>,
    /// Magnitude bits applied per read (`dac.bits_per_read`, 0 = all in one read, 1 =
    /// bit-serial, ..=15; beyond a candidate's magnitude bits: one read). Default [1, 2, 0].
    pub bits_per_read: Vec<u32>,
    /// Rows read at once (`tile.rows_parallel`, 0 = the whole tile; a value above a
    /// candidate's tile size reads the whole tile). Default [16, 32, 128].
    pub rows_parallel: Vec<u32>,
    /// Bits per device of sliced weights (`mapping.cell_bits`, 1..=8; no effect on devices
    /// holding continuous weights). Default [1].
    pub cell_bits: Vec<u32>,
    /// ADC resolutions (`adc.bits`, 2..=12). Default [3, 4, 5, 6, 8].
    pub adc_bits: Vec<u32>,
    /// ADC ranges (`adc.range`: "aihwkit", "full", "fixed", "calibrated"; accuracy only: the
    /// policy places the converters' levels, it does not change their price). Default
    /// ["full", "calibrated"].
    pub adc_ranges: Vec<AdcRange>,
    /// Columns sharing one ADC (`cost.cols_per_adc`, 1..=smallest tile size; cost only).
    /// Default [4, 8, 16].
    pub cols_per_adc: Vec<u32>,
    /// Weight scalings (`mapping.weight_scaling`: "none", "tile", "column"; moves accuracy
    /// and, through the digital multipliers, cost). Default [] (each device's own).
    pub weight_scalings: Vec<WeightScaling>,
    /// Batch norm placements (`mapping.batch_norm`: "digital", "fold"; accuracy only: the
    /// cost model prices neither). Default [] (each device's own).
    pub batch_norms: Vec<BatchNormMapping>,
    /// Input scalings (`dac.noise_management`: "abs_max", "none", "static"; accuracy only).
    /// Default [] (each device's own).
    pub input_scalings: Vec<NoiseManagement>,
    /// Time after programming at which candidates are read (s, m, h, d, w, y). Default "1d".
    pub drift: String,
    /// Chip instances per candidate (1..=1000). Default 4.
    pub instances: u32,
}

impl Default for HardwareSection {
    fn default() -> Self {
        HardwareSection {
            devices: vec!["neurosim-rram-22nm".into(), "neurosim-sram-22nm".into()],
            tile_sizes: vec![64, 128, 256],
            dac_bits: vec![5, 7, 9],
            bits_per_read: vec![1, 2, 0],
            rows_parallel: vec![16, 32, 128],
            cell_bits: vec![1],
            adc_bits: vec![3, 4, 5, 6, 8],
            adc_ranges: vec![AdcRange::Full, AdcRange::Calibrated],
            cols_per_adc: vec![4, 8, 16],
            weight_scalings: Vec::new(),
            batch_norms: Vec::new(),
            input_scalings: Vec::new(),
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
    /// "nsga2", "random", "regularized_evolution", "exhaustive" or "surrogate". Default
    /// "nsga2".
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
    /// A CSV of accuracies by cell architecture (AnalogNAS-Bench's form: a header row,
    /// `op_indices` and accuracy columns in percent) from which a candidate's accuracy is
    /// read instead of trained and simulated; energy, latency and area still come from the
    /// cost model of its network on the experiment's one chip. Needs `space.kind = "cell"`
    /// and one option per hardware gene. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<PathBuf>,
    /// The table's column of accuracies (percent). Default "analog_drift_2592000_mean".
    #[serde(skip_serializing_if = "is_default_column")]
    pub table_column: String,
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
            table: None,
            table_column: DEFAULT_TABLE_COLUMN.into(),
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
    /// subnet (bits, each 2..=12; empty = no sweep). Default [3, 4, 5, 6, 7, 8, 9].
    pub adc_sweep: Vec<u32>,
}

impl Default for FinalSection {
    fn default() -> Self {
        FinalSection {
            instances: 8,
            times: ["0", "1h", "1d", "30d", "1y"].map(String::from).to_vec(),
            adc_sweep: vec![3, 4, 5, 6, 7, 8, 9],
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
    /// The hardware configuration of every device option, in the order of
    /// `hardware.devices`, before a candidate's genes are set on it.
    pub devices: Vec<HwConfig>,
    /// The `--set` overrides applied to the file, recorded with it.
    pub overrides: Vec<String>,
    /// The accuracies of `search.table`, read and checked against the cell space.
    pub table: Option<AccuracyTable>,
}

impl Experiment {
    /// Reads `path` (none = the embedded digits experiment), applies `overrides`
    /// (`section.key=value`) and checks every value.
    ///
    /// # Errors
    /// An unreadable file, TOML or schema errors, out-of-range values, and hardware
    /// combinations that do not load; each names the file and key.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Experiment> {
        let source = match path {
            Some(p) => Source::file(p)?,
            None => Source::embedded("embedded experiment-digits", DEFAULT_EXPERIMENT),
        };
        Experiment::from_source(&source, overrides)
    }

    /// As [`Experiment::load`], from TOML text.
    ///
    /// # Errors
    /// As [`Experiment::load`].
    pub fn from_text(text: &str, origin: &str, overrides: &[String]) -> Result<Experiment> {
        Experiment::from_source(&Source::embedded(origin, text), overrides)
    }

    fn from_source(source: &Source, overrides: &[String]) -> Result<Experiment> {
        let file: ExperimentFile = source.parse(overrides)?;
        let mut experiment = file.check(&source.origin)?;
        experiment.overrides = overrides.to_vec();
        Ok(experiment)
    }

    /// The experiment as saved in its run folder: comments naming its source (file and
    /// `--set` overrides) and the source of each device option, then the TOML with every key
    /// (which is what [`Experiment::same_settings`] compares).
    ///
    /// # Errors
    /// As [`Experiment::to_toml`].
    pub fn saved_toml(&self) -> Result<String> {
        let mut source = self.origin.clone();
        for assignment in &self.overrides {
            source.push_str(&format!(" --set {assignment}"));
        }
        let devices: Vec<String> = self
            .file
            .hardware
            .devices
            .iter()
            .zip(&self.devices)
            .map(|(name, hw)| format!("{name} = {}", hw.origin))
            .collect();
        Ok(format!(
            "# source: {}\n# hardware.devices: {}\n{}",
            source.replace('\n', " "),
            devices.join(", ").replace('\n', " "),
            self.to_toml()?
        ))
    }

    /// Whether `saved` (a run folder's experiment) holds the same settings as this
    /// experiment, whatever its comments say.
    ///
    /// # Errors
    /// As [`Experiment::to_toml`].
    pub fn same_settings(&self, saved: &str) -> Result<bool> {
        let body = |text: &str| -> String {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        Ok(body(saved) == body(&self.to_toml()?))
    }

    /// The experiment as TOML (saved in the run folder and compared on resume).
    ///
    /// # Errors
    /// A value TOML cannot hold (none of the schema's types fails; checked all the same).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(&self.file).map_err(|e| Error::Config {
            origin: self.origin.clone(),
            message: format!("cannot be written as TOML: {e}"),
        })
    }

    /// The hardware configuration of device option `device` (its name in
    /// `hardware.devices`) with a candidate's genes.
    ///
    /// # Errors
    /// A device that is not an option of the experiment, a combination that does not
    /// validate (every option is checked with the extremes of every gene when loading).
    pub fn hardware(&self, device: &str, genes: &HardwareGenes) -> Result<HwConfig> {
        let index = self
            .file
            .hardware
            .devices
            .iter()
            .position(|d| d == device)
            .ok_or_else(|| Error::Config {
                origin: self.origin.clone(),
                message: format!("hardware.devices has no option {device:?}"),
            })?;
        self.devices[index].with_genes(genes)
    }

    /// The chip of an experiment whose hardware genes have one option each (a table's
    /// experiment): its one device with those options.
    ///
    /// # Errors
    /// As [`HwConfig::with_genes`] (checked when the experiment was loaded).
    pub fn only_chip(&self) -> Result<HwConfig> {
        let genes = extreme_genes(&self.file.hardware);
        let first = genes.first().ok_or_else(|| Error::Config {
            origin: self.origin.clone(),
            message: "hardware lists no option of a gene".into(),
        })?;
        let mut genes = *first;
        genes.batch_norm = mapping_options(&self.file.hardware.batch_norms)[0];
        genes.noise_management = mapping_options(&self.file.hardware.input_scalings)[0];
        self.devices
            .first()
            .ok_or_else(|| Error::Config {
                origin: self.origin.clone(),
                message: "hardware.devices is empty".into(),
            })?
            .with_genes(&genes)
    }
}

impl ExperimentFile {
    fn check(self, origin: &str) -> Result<Experiment> {
        let check = Checker::new(origin);
        let dataset: DatasetName = self.data.dataset.parse().map_err(|_| {
            check.fail(
                "data.dataset",
                &self.data.dataset,
                "expected digits, mnist, fashion-mnist or cifar10",
            )
        })?;
        check.range_f(
            "data.validation_fraction",
            f64::from(self.data.validation_fraction),
            0.05,
            0.5,
        )?;

        let s = &self.space;
        check.options("space.stem_widths", &s.stem_widths, 1, 512)?;
        check.options("space.depths", &s.depths, 1, 6)?;
        check.options("space.kernels", &s.kernels, 1, 7)?;
        if let Some(k) = s.kernels.iter().find(|k| *k % 2 == 0) {
            return Err(check.fail("space.kernels", k, "expected odd sides"));
        }
        if s.stage_widths.len() != 3 {
            return Err(check.fail(
                "space.stage_widths",
                format!("{} stages", s.stage_widths.len()),
                "expected a list of widths for each of 3 stages",
            ));
        }
        for widths in &s.stage_widths {
            check.options("space.stage_widths", widths, 1, 512)?;
        }

        let c = &self.compression;
        check.options("compression.weight_bits", &c.weight_bits, 2, 16)?;
        check.options("compression.prune_fractions", &c.prune_fractions, 0.0, 0.95)?;

        let h = &self.hardware;
        check.not_empty("hardware.devices", &h.devices)?;
        check.options("hardware.tile_sizes", &h.tile_sizes, 4, 1024)?;
        check.options("hardware.dac_bits", &h.dac_bits, 2, 16)?;
        check.options("hardware.bits_per_read", &h.bits_per_read, 0, 15)?;
        check.options("hardware.rows_parallel", &h.rows_parallel, 0, 1024)?;
        check.options("hardware.cell_bits", &h.cell_bits, 1, 8)?;
        check.options("hardware.adc_bits", &h.adc_bits, 2, 12)?;
        check.not_empty("hardware.adc_ranges", &h.adc_ranges)?;
        let smallest_tile = h.tile_sizes.iter().copied().min().unwrap_or(4);
        check.options("hardware.cols_per_adc", &h.cols_per_adc, 1, smallest_tile)?;
        check.range("hardware.instances", h.instances, 1, 1000)?;
        let drift: DriftTime = h
            .drift
            .parse()
            .map_err(|_| check.fail("hardware.drift", &h.drift, "expected e.g. 0, 1h, 1d, 1y"))?;

        let t = &self.supernet;
        check.range("supernet.epochs", t.epochs, 1, 10_000)?;
        check.range("supernet.batch_size", t.batch_size, 1, 4096)?;
        if !(t.learning_rate > 0.0 && t.learning_rate < 1.0) {
            return Err(check.fail(
                "supernet.learning_rate",
                t.learning_rate,
                "expected in (0, 1)",
            ));
        }
        check.range_f("supernet.noise_eta", f64::from(t.noise_eta), 0.0, 0.5)?;
        check.range_f("supernet.gain_noise", f64::from(t.gain_noise), 0.0, 1.0)?;
        check.range("supernet.random_subnets", t.random_subnets, 0, 8)?;

        let q = &self.search;
        check.range("search.population", q.population, 2, 10_000)?;
        check.range("search.budget", q.budget, 1, 10_000_000)?;
        check.range("search.sample_size", q.sample_size, 1, q.population)?;
        check.range("search.calibration_batches", q.calibration_batches, 1, 1000)?;
        check.range("search.batch", q.batch, 1, 65_536)?;
        check.range_f("search.max_area_mm2", q.max_area_mm2, 0.0, 1e6)?;
        check.range_f("search.min_accuracy", q.min_accuracy, 0.0, 1.0)?;
        check.not_empty("search.objectives", &q.objectives)?;
        for (i, o) in q.objectives.iter().enumerate() {
            if q.objectives[..i].contains(o) {
                return Err(check.fail("search.objectives", format!("{o:?}"), "listed twice"));
            }
        }

        let f = &self.finetune;
        check.range("finetune.top_k", f.top_k, 0, 100)?;
        if f.top_k > 0 {
            check.options("finetune.learning_rates", &f.learning_rates, 1e-7, 0.999)?;
            check.options("finetune.noise_levels", &f.noise_levels, 0.0, 0.5)?;
        }
        check.range("finetune.rung_epochs", f.rung_epochs, 1, 1000)?;

        let e = &self.final_eval;
        check.range("final.instances", e.instances, 1, 1000)?;
        check.not_empty("final.times", &e.times)?;
        let final_times = e
            .times
            .iter()
            .map(|t| {
                t.parse::<DriftTime>()
                    .map_err(|_| check.fail("final.times", t, "expected e.g. 0, 1h, 1d, 1y"))
            })
            .collect::<Result<Vec<_>>>()?;
        if !e.adc_sweep.is_empty() {
            check.options("final.adc_sweep", &e.adc_sweep, 2, 12)?;
        }

        // Every hardware option must load, and load with every gene it can be given: its
        // extremes span the ranges each key is checked against (and every ADC range, whose
        // rules depend on the other genes).
        let h = &self.hardware;
        let in_context = |device: &str, e: Error| Error::Config {
            origin: origin.to_string(),
            message: format!("hardware.devices {device:?}: {e}"),
        };
        let mut devices = Vec::with_capacity(h.devices.len());
        for device in &h.devices {
            let base = super::load(device, &[]).map_err(|e| in_context(device, e))?;
            for genes in extreme_genes(h) {
                // Every candidate is simulated and priced: both must hold.
                base.with_genes(&genes)
                    .and_then(|hw| hw.cost().map(|_| ()))
                    .map_err(|e| in_context(device, e))?;
            }
            devices.push(base);
        }
        let table = self.check_table(&check, dataset)?;
        Ok(Experiment {
            file: self,
            origin: origin.to_string(),
            dataset,
            drift,
            final_times,
            devices,
            overrides: Vec::new(),
            table,
        })
    }

    /// A cell space needs a table and a table a cell space of the table's network, on one
    /// chip; every cell of the space must have a row.
    fn check_table(
        &self,
        check: &Checker<'_>,
        dataset: DatasetName,
    ) -> Result<Option<AccuracyTable>> {
        let s = &self.space;
        let path = match (s.kind, &self.search.table) {
            (SpaceKind::Macro, None) => return Ok(None),
            (SpaceKind::Macro, Some(p)) => {
                return Err(check.fail(
                    "search.table",
                    p.display(),
                    "a table holds accuracies of cells: it needs space.kind = \"cell\"",
                ));
            }
            (SpaceKind::Cell, None) => {
                return Err(check.fail(
                    "space.kind",
                    "\"cell\"",
                    "a cell space is searched on a table of accuracies (set search.table); no supernet of cells is built",
                ));
            }
            (SpaceKind::Cell, Some(p)) => p,
        };
        check.not_empty("space.cell_ops", &s.cell_ops)?;
        for (i, op) in s.cell_ops.iter().enumerate() {
            if s.cell_ops[..i].contains(op) {
                return Err(check.fail("space.cell_ops", op.name(), "listed twice"));
            }
        }
        if (s.cells, s.cell_channels) != (BENCH_CELLS, BENCH_CHANNELS) {
            return Err(check.fail(
                "space.cells",
                format!("{} cells of {} channels", s.cells, s.cell_channels),
                "the table's accuracies are of NAS-Bench-201's network: 5 cells of 16 channels",
            ));
        }
        if dataset != DatasetName::Cifar10 {
            return Err(check.fail(
                "data.dataset",
                dataset.as_str(),
                "the table's accuracies are of CIFAR-10 networks: set data.dataset = \"cifar10\"",
            ));
        }
        let h = &self.hardware;
        let genes: [(&str, usize); 12] = [
            ("devices", h.devices.len()),
            ("tile_sizes", h.tile_sizes.len()),
            ("dac_bits", h.dac_bits.len()),
            ("bits_per_read", h.bits_per_read.len()),
            ("rows_parallel", h.rows_parallel.len()),
            ("cell_bits", h.cell_bits.len()),
            ("adc_bits", h.adc_bits.len()),
            ("adc_ranges", h.adc_ranges.len()),
            ("cols_per_adc", h.cols_per_adc.len()),
            ("weight_scalings", h.weight_scalings.len().max(1)),
            ("batch_norms", h.batch_norms.len().max(1)),
            ("input_scalings", h.input_scalings.len().max(1)),
        ];
        if let Some((key, n)) = genes.iter().find(|(_, n)| *n > 1) {
            return Err(check.fail(
                &format!("hardware.{key}"),
                format!("{n} options"),
                "a table's accuracies are of one chip: list one option per hardware gene",
            ));
        }
        let table = AccuracyTable::load(path, &self.search.table_column)?;
        let ops = &s.cell_ops;
        for index in 0..ops.len().pow(6) {
            let mut digits = String::with_capacity(6);
            let mut rest = index;
            for _ in 0..6 {
                digits.insert(0, char::from(b'0' + ops[rest % ops.len()].digit()));
                rest /= ops.len();
            }
            if table.accuracy(&digits).is_none() {
                return Err(check.fail(
                    "search.table",
                    path.display(),
                    &format!("no row for the cell {digits} of the space"),
                ));
            }
        }
        Ok(Some(table))
    }
}

/// The options of a mapping gene of a search (weight scalings, batch norms, input
/// scalings): the listed ones, or, when none is listed, each device's own (`None`).
pub fn mapping_options<T: Copy>(listed: &[T]) -> Vec<Option<T>> {
    if listed.is_empty() {
        vec![None]
    } else {
        listed.iter().copied().map(Some).collect()
    }
}

/// Every combination of the smallest and largest option of each numeric hardware gene, with
/// every ADC range: the genes a device option must load with.
fn extreme_genes(h: &HardwareSection) -> Vec<HardwareGenes> {
    let extremes = |v: &[u32]| {
        let (lo, hi) = (v.iter().min(), v.iter().max());
        let (lo, hi) = (*lo.unwrap_or(&0), *hi.unwrap_or(&0));
        if lo == hi { vec![lo] } else { vec![lo, hi] }
    };
    let mut all = Vec::new();
    for tile in extremes(&h.tile_sizes) {
        for dac_bits in extremes(&h.dac_bits) {
            for bits_per_read in extremes(&h.bits_per_read) {
                for rows_parallel in extremes(&h.rows_parallel) {
                    for cell_bits in extremes(&h.cell_bits) {
                        for adc_bits in extremes(&h.adc_bits) {
                            for &adc_range in &h.adc_ranges {
                                for cols_per_adc in extremes(&h.cols_per_adc) {
                                    for weight_scaling in mapping_options(&h.weight_scalings) {
                                        all.push(HardwareGenes {
                                            tile,
                                            dac_bits,
                                            bits_per_read,
                                            rows_parallel,
                                            cell_bits,
                                            adc_bits,
                                            adc_range,
                                            cols_per_adc,
                                            weight_scaling,
                                            batch_norm: None,
                                            noise_management: None,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_times_parse_with_units() {
        let t = |s: &str| s.parse::<DriftTime>().map(|d| d.seconds);
        assert_eq!(t("0").unwrap(), 0.0);
        assert_eq!(t("1h").unwrap(), 3600.0);
        assert_eq!(t("30d").unwrap(), 30.0 * 86_400.0);
        assert_eq!(t("1y").unwrap(), 365.0 * 86_400.0);
        assert_eq!(t("2.5").unwrap(), 2.5);
        for bad in ["", "h", "1x", "-1d", "nan"] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }
}
