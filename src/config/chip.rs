//! The checked hardware description ([`HwConfig`]): one chip, read by the accuracy engine and
//! by the cost model alike. It says how inputs reach the rows ([`Reads`]), how a weight is
//! held by devices ([`Slicing`]), how many rows are read at once, and how each conversion's
//! ADC range is set ([`AdcRange`]); from these follow both what the engine simulates and what
//! the cost model counts.
//!
//! Two read models follow from the description ([`ReadModel`]): aihwkit's chip (continuous
//! weights, one multi-bit read of all rows, the aihwkit ADC range with bound management),
//! and the general sliced chip (bit-serial or multi-bit reads, sliced or continuous weights,
//! row groups, one conversion per row group, read, weight slice and column).

pub use super::parts::{Quantizer, ReadModel, Reads, Slicing};

use super::check::Checker;
use super::cost::CostConfig;
use super::hardware::{
    AdcRange, BatchNormMapping, BoundManagement, DeviceModel, DeviceSection, HwConfigFile,
    NoiseManagement, WAN2022_TIMES_S, WeightScaling,
};
use crate::error::Result;

/// The largest tile side (rows or columns): the GPU kernels size their workgroup memory by it.
pub const MAX_TILE: u32 = 1024;

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
    /// Rows read at once (at most `tile_rows`).
    pub rows_parallel: usize,
    /// Input quantizer.
    pub dac: Quantizer,
    /// Output quantizer of the aihwkit range.
    pub adc: Quantizer,
    /// Input scaling.
    pub noise_management: NoiseManagement,
    /// Rounds of bound management at most (1 = none).
    pub max_bm_rounds: u32,
    /// Output noise standard deviation.
    pub out_noise: f32,
    /// Per-MVM weight read noise coefficient.
    pub w_noise: f32,
    /// Conductance levels per device of continuous weights (0 = continuous).
    pub weight_levels: u32,
    /// Where weights are scaled to the devices' range, the scale kept digitally.
    pub weight_scaling: WeightScaling,
    /// Where batch norms after matrix layers are applied.
    pub batch_norm: BatchNormMapping,
    /// How the engine reads a tile.
    pub read_model: ReadModel,
    /// How inputs reach the rows.
    pub reads: Reads,
    /// How weights of the configured resolution are held (a layer's own resolution, set by
    /// a search, takes its place: [`HwConfig::slicing`]).
    pub slicing: Slicing,
    /// The ADC range.
    pub adc_range: AdcRange,
    /// The share of a conversion's full scale a weight of 1 and an input of 1 produce:
    /// 1 - g_min / g_max.
    pub conductance_range: f32,
    /// The chip as the cost model prices it, or why it cannot (ideal converters).
    cost: std::result::Result<CostConfig, String>,
}

impl HwConfig {
    /// Whether programming a layer needs calibration inputs (vectors of its inputs): for
    /// calibrated ADC ranges and for static input ranges.
    pub fn needs_calibration(&self) -> bool {
        self.adc_range == AdcRange::Calibrated || self.noise_management == NoiseManagement::Static
    }

    /// The chip as the cost model prices it.
    ///
    /// # Errors
    /// A configuration without a price: ideal converters, an ADC beyond the cost model's.
    pub fn cost(&self) -> Result<&CostConfig> {
        self.cost.as_ref().map_err(|why| crate::Error::Config {
            origin: self.origin.clone(),
            message: why.clone(),
        })
    }

    /// How weights of `weight_bits` bits (none = the configured resolution) are held on this
    /// chip.
    pub fn slicing(&self, weight_bits: Option<u32>) -> Slicing {
        match (self.read_model, weight_bits) {
            (ReadModel::Sliced, Some(bits)) if self.slicing.weight_bits > 0 => {
                Slicing::new(bits, self.slicing.cell_bits, self.slicing.encoding)
            }
            _ => self.slicing,
        }
    }

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
    /// [`crate::Error::ConfigValue`] for the first out-of-range key or combination.
    pub fn validate(file: HwConfigFile, origin: &str) -> Result<Self> {
        let check = Checker::new(origin);
        check.range("tile.rows", file.tile.rows, 4, MAX_TILE)?;
        check.range("tile.cols", file.tile.cols, 4, MAX_TILE)?;
        if file.tile.rows_parallel != 0 {
            check.range(
                "tile.rows_parallel",
                file.tile.rows_parallel,
                1,
                file.tile.rows,
            )?;
        }
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
        if !(file.adc.percentile > 50.0 && file.adc.percentile <= 100.0) {
            return Err(check.fail(
                "adc.percentile",
                file.adc.percentile,
                "expected a percentile in (50, 100]",
            ));
        }
        if !(file.dac.range_percentile > 50.0 && file.dac.range_percentile <= 100.0) {
            return Err(check.fail(
                "dac.range_percentile",
                file.dac.range_percentile,
                "expected a percentile in (50, 100]",
            ));
        }
        let d = &file.device;
        check.positive("device.g_max_us", f64::from(d.g_max_us))?;
        if !(d.g_min_us.is_finite() && d.g_min_us >= 0.0 && d.g_min_us < d.g_max_us) {
            return Err(check.fail(
                "device.g_min_us",
                d.g_min_us,
                "expected 0 <= g_min < g_max (uS)",
            ));
        }
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
        if d.model == DeviceModel::ReramWan2022
            && d.t_inference_s != 0.0
            && !WAN2022_TIMES_S.contains(&d.t_inference_s)
        {
            return Err(check.fail(
                "device.t_inference_s",
                d.t_inference_s,
                "0, 1, 86400 or 172800 s for device.model \"reram_wan2022\" (the times its fit was measured at)",
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
        let m = &file.mapping;
        let levels = m.weight_levels;
        if levels == 1 || levels > 65536 {
            return Err(check.fail(
                "mapping.weight_levels",
                levels,
                "0 (continuous) or 2..=65536",
            ));
        }
        if m.weight_bits != 0 {
            check.range("mapping.weight_bits", m.weight_bits, 2, 16)?;
            if levels != 0 {
                return Err(check.fail(
                    "mapping.weight_levels",
                    levels,
                    "0 with sliced weights (their levels are set by mapping.cell_bits)",
                ));
            }
        }
        check.range("mapping.cell_bits", m.cell_bits, 1, 8)?;
        let reads = Reads::new(file.dac.bits, file.dac.bits_per_read, file.dac.inputs);
        if file.dac.bits_per_read != 0 {
            if file.dac.bits == 0 {
                return Err(check.fail(
                    "dac.bits_per_read",
                    file.dac.bits_per_read,
                    "0 with an ideal DAC (dac.bits = 0): its inputs have no bits to read apart",
                ));
            }
            check.range(
                "dac.bits_per_read",
                file.dac.bits_per_read,
                1,
                reads.magnitude_bits.max(1),
            )?;
        }
        let tile_rows = file.tile.rows as usize;
        let rows_parallel = match file.tile.rows_parallel {
            0 => tile_rows,
            n => n as usize,
        };
        let aihwkit_chip = [
            (
                "mapping.weight_bits",
                m.weight_bits == 0,
                "0 (continuous weights)",
            ),
            ("dac.bits_per_read", reads.per_phase == 1, "0 (one read)"),
            (
                "tile.rows_parallel",
                rows_parallel == tile_rows,
                "0 (every row at once)",
            ),
            ("dac.inputs", !reads.two_phase, "\"signed\""),
            ("device.g_min_us", d.g_min_us == 0.0, "0"),
        ];
        check.non_negative("tile.ir_drop", f64::from(file.tile.ir_drop))?;
        check.positive("tile.ir_drop_g_ratio", f64::from(file.tile.ir_drop_g_ratio))?;
        if file.tile.ir_drop > 0.0 && file.adc.range != AdcRange::Aihwkit {
            return Err(check.fail(
                "tile.ir_drop",
                file.tile.ir_drop,
                "0 on the sliced chip: IR drop is modelled on aihwkit's chip (adc.range \"aihwkit\")",
            ));
        }
        let read_model = match file.adc.range {
            AdcRange::Aihwkit => {
                if let Some((key, _, expected)) = aihwkit_chip.iter().find(|(_, ok, _)| !ok) {
                    return Err(check.fail(
                        "adc.range",
                        "\"aihwkit\"",
                        &format!(
                            "the aihwkit range reads aihwkit's chip: {key} must be {expected}; choose adc.range \"full\", \"fixed\" or \"calibrated\" for this chip"
                        ),
                    ));
                }
                ReadModel::Aihwkit
            }
            _ => ReadModel::Sliced,
        };

        let dac = Quantizer::new(file.dac.bits, file.dac.bound);
        let adc = Quantizer::new(file.adc.bits, file.adc.bound);
        let max_bm_rounds = match file.adc.bound_management {
            BoundManagement::None => 1,
            BoundManagement::Iterative => {
                bm_rounds(file.adc.bm_max_factor, file.adc.bm_max_res, dac.step)
            }
        };
        let slicing = Slicing::new(m.weight_bits, m.cell_bits, m.encoding);
        let cost = CostConfig::new(&file, &reads, rows_parallel, &check)?;
        Ok(HwConfig {
            origin: origin.to_string(),
            tile_rows,
            tile_cols: file.tile.cols as usize,
            rows_parallel,
            dac,
            adc,
            noise_management: file.dac.noise_management,
            max_bm_rounds,
            out_noise: file.adc.out_noise,
            w_noise: file.device.w_noise,
            weight_levels: levels,
            weight_scaling: m.weight_scaling,
            batch_norm: m.batch_norm,
            read_model,
            reads,
            slicing,
            adc_range: file.adc.range,
            conductance_range: 1.0 - d.g_min_us / d.g_max_us,
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

/// The hardware genes of a search candidate, set on a device option's configuration: every
/// one a key of the one description, so that it moves the simulated chip and its price
/// together, except two that by nature move one side only: the columns per ADC only the
/// price (columns take turns on a converter; no conversion changes), the ADC range policy
/// only the accuracy (it sets where the converters' levels lie, not what they cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HardwareGenes {
    /// Square tile side (rows = columns).
    pub tile: u32,
    /// Activation bits (`dac.bits`).
    pub dac_bits: u32,
    /// Magnitude bits per read (`dac.bits_per_read`, 0 = one read).
    pub bits_per_read: u32,
    /// Rows read at once (`tile.rows_parallel`, 0 = all).
    pub rows_parallel: u32,
    /// Bits per device of sliced weights (`mapping.cell_bits`).
    pub cell_bits: u32,
    /// ADC bits (`adc.bits`).
    pub adc_bits: u32,
    /// ADC range (`adc.range`; accuracy only).
    pub adc_range: AdcRange,
    /// Columns per ADC (`cost.cols_per_adc`; cost only).
    pub cols_per_adc: u32,
    /// Weight scaling (`mapping.weight_scaling`); none keeps the device's own.
    pub weight_scaling: Option<WeightScaling>,
    /// Batch norm placement (`mapping.batch_norm`; accuracy only); none keeps the device's own.
    pub batch_norm: Option<BatchNormMapping>,
    /// Input scaling (`dac.noise_management`; accuracy only); none keeps the device's own.
    pub noise_management: Option<NoiseManagement>,
}

impl HardwareGenes {
    /// Writes the genes into the keys they set. Rows read at once beyond the tile's rows read
    /// the whole tile, and bits per read beyond the magnitude bits take one read.
    pub fn apply(&self, file: &mut HwConfigFile) {
        file.tile.rows = self.tile;
        file.tile.cols = self.tile;
        file.tile.rows_parallel = if self.rows_parallel >= self.tile {
            0
        } else {
            self.rows_parallel
        };
        file.dac.bits = self.dac_bits;
        file.dac.bits_per_read = if self.bits_per_read >= self.dac_bits.saturating_sub(1) {
            0
        } else {
            self.bits_per_read
        };
        file.mapping.cell_bits = self.cell_bits;
        file.adc.bits = self.adc_bits;
        file.adc.range = self.adc_range;
        file.cost.cols_per_adc = self.cols_per_adc;
        if let Some(scaling) = self.weight_scaling {
            file.mapping.weight_scaling = scaling;
        }
        if let Some(batch_norm) = self.batch_norm {
            file.mapping.batch_norm = batch_norm;
        }
        if let Some(noise_management) = self.noise_management {
            file.dac.noise_management = noise_management;
        }
    }
}
