//! The hardware description: the file as written in TOML ([`HwConfigFile`], every key with
//! its unit and default), its validated form ([`HwConfig`]) that the engine and the cost model
//! read, and the genes a search sets on it ([`HardwareGenes`]).

use super::check::Checker;
use super::cost::{CostConfig, CostSection};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A hardware configuration file (`models/*.toml`, `--config`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HwConfigFile {
    /// Crossbar tile geometry.
    pub tile: TileSection,
    /// Input converters (digital-to-analog).
    pub dac: DacSection,
    /// Output converters (analog-to-digital) and bound management.
    pub adc: AdcSection,
    /// Memory devices and their non-idealities.
    pub device: DeviceSection,
    /// How weights become conductances.
    pub mapping: MappingSection,
    /// The chip the energy, latency and area model describes.
    pub cost: CostSection,
}

/// `[tile]`: the largest crossbar a layer is split onto.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TileSection {
    /// Crossbar rows, i.e. layer inputs per tile (count, 4..=1024). Default 512.
    pub rows: u32,
    /// Crossbar columns, i.e. layer outputs per tile (count, 4..=1024). Default 512.
    pub cols: u32,
}

impl Default for TileSection {
    fn default() -> Self {
        TileSection {
            rows: 512,
            cols: 512,
        }
    }
}

/// Input scaling before the digital-to-analog converter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseManagement {
    /// Divide each input vector by its largest magnitude (aihwkit ABS_MAX).
    AbsMax,
    /// Feed inputs unscaled; values beyond the DAC bound are clipped.
    None,
}

/// `[dac]`: one converter per crossbar row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DacSection {
    /// Resolution in bits (0 = ideal: no quantization and no clipping; else 2..=24):
    /// step = 2 * bound / (2^bits - 2). Default 7.
    pub bits: u32,
    /// Largest input magnitude after scaling (normalised units, > 0). Default 1.0.
    pub bound: f32,
    /// Input scaling: "abs_max" or "none". Default "abs_max".
    pub noise_management: NoiseManagement,
}

impl Default for DacSection {
    fn default() -> Self {
        DacSection {
            bits: 7,
            bound: 1.0,
            noise_management: NoiseManagement::AbsMax,
        }
    }
}

/// What to do when an output saturates the ADC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundManagement {
    /// Halve the input scale and repeat the MVM until nothing saturates (aihwkit ITERATIVE).
    Iterative,
    /// Keep the clipped outputs.
    None,
}

/// `[adc]`: one converter per crossbar column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdcSection {
    /// Resolution in bits (0 = ideal: no quantization and no clipping; else 2..=24):
    /// step = 2 * bound / (2^bits - 2). Default 9.
    pub bits: u32,
    /// Largest output magnitude (weight units times normalised input, > 0). Default 12.0.
    pub bound: f32,
    /// "iterative" or "none". Default "iterative".
    pub bound_management: BoundManagement,
    /// Largest input down-scaling factor of bound management (>= 1). Default 1000.
    pub bm_max_factor: f32,
    /// Bound management stops once the scaled DAC step would exceed this (normalised
    /// units, > 0). Default 0.25.
    pub bm_max_res: f32,
    /// Standard deviation of the additive Gaussian output noise per MVM (normalised
    /// output units, >= 0). Default 0.06.
    pub out_noise: f32,
}

impl Default for AdcSection {
    fn default() -> Self {
        AdcSection {
            bits: 9,
            bound: 12.0,
            bound_management: BoundManagement::Iterative,
            bm_max_factor: 1000.0,
            bm_max_res: 0.25,
            out_noise: 0.06,
        }
    }
}

/// The memory device family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceModel {
    /// Exact conductances: only the mapping and the converters act.
    Ideal,
    /// Phase-change memory: programming noise, drift, accumulated 1/f read noise.
    Pcm,
    /// Gaussian programming noise only, of the kind set by `generic_noise`.
    Generic,
}

/// Shape of the generic model's programming noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenericNoise {
    /// sigma = generic_sigma * g_max, whatever the target conductance.
    Independent,
    /// sigma = generic_sigma * G, proportional to the target conductance.
    Proportional,
}

/// Correction of the output scale after drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftCompensation {
    /// No correction.
    None,
    /// One factor per tile from an identity read-out before and after drift.
    Global,
}

/// `[device]`: memory devices, two per weight (differential pair).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceSection {
    /// "ideal", "pcm" or "generic". Default "ideal".
    pub model: DeviceModel,
    /// Largest programmable conductance (microsiemens, > 0); g_min is 0. Default 25.0.
    pub g_max_us: f32,
    /// Multiplies the programming noise (factor, >= 0). Default 1.0.
    pub prog_noise_scale: f32,
    /// Multiplies the accumulated read noise (factor, >= 0). Default 1.0.
    pub read_noise_scale: f32,
    /// Multiplies the drift exponents (factor, >= 0). Default 1.0.
    pub drift_scale: f32,
    /// Time from programming to inference (seconds, >= 0). Default 0.0.
    pub t_inference_s: f64,
    /// "none" or "global". Default "none".
    pub drift_compensation: DriftCompensation,
    /// Fraction of devices stuck at g_max (0..=1). Default 0.0.
    pub stuck_on: f32,
    /// Fraction of devices stuck at g_min (0..=1; stuck_on + stuck_off <= 1). Default 0.0.
    pub stuck_off: f32,
    /// Per-MVM weight read noise: y_i += w_noise * sqrt(sum_j |w_ij| x_j^2) * N(0,1)
    /// (normalised output units, >= 0). Default 0.0.
    pub w_noise: f32,
    /// Generic model: "independent" or "proportional". Default "independent".
    pub generic_noise: GenericNoise,
    /// Generic model: relative programming noise (fraction of g_max or of G, >= 0).
    /// Default 0.05.
    pub generic_sigma: f32,
}

impl Default for DeviceSection {
    fn default() -> Self {
        DeviceSection {
            model: DeviceModel::Ideal,
            g_max_us: 25.0,
            prog_noise_scale: 1.0,
            read_noise_scale: 1.0,
            drift_scale: 1.0,
            t_inference_s: 0.0,
            drift_compensation: DriftCompensation::None,
            stuck_on: 0.0,
            stuck_off: 0.0,
            w_noise: 0.0,
            generic_noise: GenericNoise::Independent,
            generic_sigma: 0.05,
        }
    }
}

/// `[mapping]`: weights to conductances.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSection {
    /// Conductance levels per device before programming (0 = continuous, else
    /// 2..=65536); a pair then holds 2 * levels - 1 signed weight values. Default 0.
    pub weight_levels: u32,
}

/// A quantizer of the DAC or the ADC: `step` 0 means ideal (no rounding, no clipping).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantizer {
    /// Quantization step (0 = ideal).
    pub step: f32,
    /// Clipping bound (infinite when ideal).
    pub bound: f32,
}

impl Quantizer {
    /// A converter of `bits` bits (0 = ideal) over [-bound, bound].
    pub fn new(bits: u32, bound: f32) -> Self {
        if bits == 0 {
            Quantizer {
                step: 0.0,
                bound: f32::INFINITY,
            }
        } else {
            // aihwkit's resolution 1 / (2^bits - 2) of the full range 2 * bound.
            let levels_minus_two = (2f64.powi(bits as i32) - 2.0) as f32;
            Quantizer {
                step: 2.0 * bound / levels_minus_two,
                bound,
            }
        }
    }
}

/// A validated hardware configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct HwConfig {
    /// The configuration as given (after overrides), saved with results.
    pub file: HwConfigFile,
    /// Where it came from, for messages.
    pub origin: String,
    /// Largest tile: rows (inputs) and columns (outputs).
    pub tile_rows: usize,
    /// See `tile_rows`.
    pub tile_cols: usize,
    /// Input quantizer.
    pub dac: Quantizer,
    /// Output quantizer.
    pub adc: Quantizer,
    /// Input scaling.
    pub noise_management: NoiseManagement,
    /// Rounds of bound management at most (1 = none).
    pub max_bm_rounds: u32,
    /// Output noise standard deviation.
    pub out_noise: f32,
    /// Per-MVM weight read noise coefficient.
    pub w_noise: f32,
    /// Conductance levels per device (0 = continuous).
    pub weight_levels: u32,
    /// The chip of the cost model.
    pub cost: CostConfig,
}

impl HwConfigFile {
    /// The configuration as TOML text, for saving beside results.
    ///
    /// # Errors
    /// A value TOML cannot hold (none of the schema's types fails; checked all the same).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| crate::Error::Config {
            origin: "hardware configuration".into(),
            message: format!("cannot be written as TOML: {e}"),
        })
    }
}

impl HwConfig {
    /// The configuration as saved beside results: a comment naming where it came from (the
    /// file or preset and any `--set`), then the TOML with every key.
    ///
    /// # Errors
    /// As [`HwConfigFile::to_toml`].
    pub fn saved_toml(&self) -> Result<String> {
        Ok(format!(
            "# source: {}\n{}",
            self.origin.replace('\n', " "),
            self.file.to_toml()?
        ))
    }

    /// The device section (validated with the rest).
    pub fn device(&self) -> &DeviceSection {
        &self.file.device
    }

    /// The same hardware read `seconds` after programming.
    ///
    /// # Errors
    /// A time out of the configuration's range.
    pub fn at_time(&self, seconds: f64) -> Result<Self> {
        let mut file = self.file.clone();
        file.device.t_inference_s = seconds;
        Self::validate(file, &self.origin)
    }

    /// The same hardware with a search candidate's genes.
    ///
    /// # Errors
    /// A combination that does not validate, naming the gene's key.
    pub fn with_genes(&self, genes: &HardwareGenes) -> Result<Self> {
        let mut file = self.file.clone();
        genes.apply(&mut file);
        Self::validate(file, &self.origin)
    }

    /// Checks every value of `file`; `origin` names it in errors.
    ///
    /// # Errors
    /// [`crate::Error::ConfigValue`] for the first out-of-range key.
    pub fn validate(file: HwConfigFile, origin: &str) -> Result<Self> {
        let check = Checker::new(origin);
        check.range("tile.rows", file.tile.rows, 4, 1024)?;
        check.range("tile.cols", file.tile.cols, 4, 1024)?;
        check.bits("dac.bits", file.dac.bits)?;
        check.bits("adc.bits", file.adc.bits)?;
        check.positive("dac.bound", f64::from(file.dac.bound))?;
        check.positive("adc.bound", f64::from(file.adc.bound))?;
        check.range_f(
            "adc.bm_max_factor",
            f64::from(file.adc.bm_max_factor),
            1.0,
            1e9,
        )?;
        check.positive("adc.bm_max_res", f64::from(file.adc.bm_max_res))?;
        check.non_negative("adc.out_noise", f64::from(file.adc.out_noise))?;
        let d = &file.device;
        check.positive("device.g_max_us", f64::from(d.g_max_us))?;
        check.non_negative("device.prog_noise_scale", f64::from(d.prog_noise_scale))?;
        check.non_negative("device.read_noise_scale", f64::from(d.read_noise_scale))?;
        check.non_negative("device.drift_scale", f64::from(d.drift_scale))?;
        check.non_negative("device.w_noise", f64::from(d.w_noise))?;
        check.non_negative("device.generic_sigma", f64::from(d.generic_sigma))?;
        if !(d.t_inference_s.is_finite() && d.t_inference_s >= 0.0) {
            return Err(check.fail(
                "device.t_inference_s",
                d.t_inference_s,
                "a finite time >= 0 s",
            ));
        }
        check.range_f("device.stuck_on", f64::from(d.stuck_on), 0.0, 1.0)?;
        check.range_f("device.stuck_off", f64::from(d.stuck_off), 0.0, 1.0)?;
        if d.stuck_on + d.stuck_off > 1.0 {
            return Err(check.fail(
                "device.stuck_on + device.stuck_off",
                d.stuck_on + d.stuck_off,
                "at most 1",
            ));
        }
        let levels = file.mapping.weight_levels;
        if levels == 1 || levels > 65536 {
            return Err(check.fail(
                "mapping.weight_levels",
                levels,
                "0 (continuous) or 2..=65536",
            ));
        }

        let cost = CostConfig::new(
            &file.cost,
            file.tile.rows as usize,
            file.tile.cols as usize,
            &check,
        )?;
        let dac = Quantizer::new(file.dac.bits, file.dac.bound);
        let adc = Quantizer::new(file.adc.bits, file.adc.bound);
        let max_bm_rounds = match file.adc.bound_management {
            BoundManagement::None => 1,
            BoundManagement::Iterative => {
                bm_rounds(file.adc.bm_max_factor, file.adc.bm_max_res, dac.step)
            }
        };
        Ok(HwConfig {
            origin: origin.to_string(),
            tile_rows: file.tile.rows as usize,
            tile_cols: file.tile.cols as usize,
            dac,
            adc,
            noise_management: file.dac.noise_management,
            max_bm_rounds,
            out_noise: file.adc.out_noise,
            w_noise: file.device.w_noise,
            weight_levels: levels,
            cost,
            file,
        })
    }
}

/// Number of bound-management rounds: the input scale is halved (r = 1, 2, 4, ...) while
/// an output saturates and r has not passed min(max_factor, max_res / dac_step).
fn bm_rounds(max_factor: f32, max_res: f32, dac_step: f32) -> u32 {
    let limit = if dac_step > 0.0 {
        max_factor.min(max_res / dac_step)
    } else {
        max_factor
    };
    let mut rounds = 1;
    let mut r = 1.0f32;
    while r <= limit && rounds < 32 {
        rounds += 1;
        r *= 2.0;
    }
    rounds
}

/// The hardware genes of a search candidate, set on a device option's configuration: one
/// square tile for the engine and the cost model, the DAC resolution as the activation
/// precision of both, one ADC resolution for both, and the columns sharing an ADC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HardwareGenes {
    /// Square tile side (rows = columns).
    pub tile: u32,
    /// DAC bits (and activation bits of the cost model).
    pub dac_bits: u32,
    /// ADC bits of the engine and the cost model.
    pub adc_bits: u32,
    /// Columns per ADC.
    pub cols_per_adc: u32,
}

impl HardwareGenes {
    /// Writes the genes into the keys they set.
    pub fn apply(&self, file: &mut HwConfigFile) {
        file.tile.rows = self.tile;
        file.tile.cols = self.tile;
        file.dac.bits = self.dac_bits;
        file.cost.input_bits = self.dac_bits;
        file.adc.bits = self.adc_bits;
        file.cost.adc_bits = self.adc_bits;
        file.cost.cols_per_adc = self.cols_per_adc;
    }
}
