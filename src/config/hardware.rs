//! The hardware description as written in TOML ([`HwConfigFile`]): every key with its unit
//! and default. One description serves the accuracy engine and the cost model: every fact is
//! one key, read by both, except the `[cost]` section, which only the cost model reads (it
//! has no effect on accuracy). Its checked form is [`super::chip::HwConfig`].

use super::cost_section::CostSection;
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

/// `[tile]`: the largest crossbar a layer is split onto, and how many of its rows are read at
/// once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TileSection {
    /// Crossbar rows, i.e. layer inputs per tile (count, 4..=1024). Default 512.
    pub rows: u32,
    /// Crossbar columns, i.e. layer outputs per tile (count, 4..=1024). Default 512.
    pub cols: u32,
    /// Rows read at once (count, 0 = every row of the tile): a tile's rows are read in groups
    /// of at most this many (a balanced split), each group's partial sum converted on its own
    /// and the conversions added digitally. Default 0.
    pub rows_parallel: u32,
    /// IR drop along the rows' wires (scale, >= 0; 0 = none), aihwkit's model (its
    /// `forward.ir_drop`, aihwkit's chip only): output i of a tile of n rows loses
    /// ir_drop c_i sum_j w_ij x_j (1 - (1 - j/n)^2), c_i = a(a(0.05a - 0.2) + 0.5) for
    /// a = n sum_j |w_ij x_j| / ir_drop_g_ratio. Default 0.
    pub ir_drop: f32,
    /// Wire conductance over g_max of the IR-drop model (aihwkit's `ir_drop_g_ratio`).
    /// Default 571428.57.
    pub ir_drop_g_ratio: f32,
}

impl Default for TileSection {
    fn default() -> Self {
        TileSection {
            rows: 512,
            cols: 512,
            rows_parallel: 0,
            ir_drop: 0.0,
            ir_drop_g_ratio: 571_428.57,
        }
    }
}

/// Input scaling before the digital-to-analog converter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseManagement {
    /// Divide each input vector by its largest magnitude (aihwkit ABS_MAX).
    AbsMax,
    /// Feed inputs unscaled; values beyond the DAC bound are clipped.
    None,
    /// One static input range per layer, set when the layer is programmed from the
    /// magnitudes of calibration inputs (their `dac.range_percentile` percentile): every
    /// input divided by it, values beyond clipped (aihwkit's input range, initialised from
    /// data, without its learning).
    Static,
}

/// How signed inputs are applied to the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSign {
    /// A signed voltage on each row: one read per input bit slice carries the sign (aihwkit's
    /// read, CrossSim's sign-magnitude DAC).
    Signed,
    /// Unipolar drivers: the positive and the negative inputs are applied in two phases, each
    /// read and converted on its own, the second subtracted digitally (twice the reads).
    TwoPhase,
}

/// `[dac]`: the activations and how they reach the rows: one converter per crossbar row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DacSection {
    /// Activation resolution in bits, sign included (0 = ideal: no quantization and no
    /// clipping; else 2..=24): values k / (2^(bits-1) - 1) of the bound, step
    /// 2 * bound / (2^bits - 2). Also the activation width the cost model prices. Default 7.
    pub bits: u32,
    /// Largest input magnitude after scaling (normalised units, > 0). Default 1.0.
    pub bound: f32,
    /// Input scaling: "abs_max", "none" or "static" (see [`NoiseManagement`]). Default
    /// "abs_max".
    pub noise_management: NoiseManagement,
    /// Static input ranges: the percentile (percent, (50, 100]) of the calibration inputs'
    /// magnitudes a layer's range covers. Default 99.99.
    pub range_percentile: f64,
    /// Magnitude bits applied per read (count, 0 = all of them in one read, aihwkit's
    /// multi-bit DAC; 1 = bit-serial): the bits - 1 magnitude bits take ceil((bits - 1) /
    /// bits_per_read) reads, each converted on its own and shifted and added digitally.
    /// Default 0.
    pub bits_per_read: u32,
    /// "signed" (a signed read) or "two_phase" (positive and negative inputs in two phases).
    /// Default "signed".
    pub inputs: InputSign,
}

impl Default for DacSection {
    fn default() -> Self {
        DacSection {
            bits: 7,
            bound: 1.0,
            noise_management: NoiseManagement::AbsMax,
            range_percentile: 99.99,
            bits_per_read: 0,
            inputs: InputSign::Signed,
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

/// The range an ADC converts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdcRange {
    /// aihwkit's: +-`bound` in weight units times normalised input, with output noise and
    /// bound management; the chip of continuous weights read in one read of all rows.
    Aihwkit,
    /// The largest partial sum a row group can produce, on a grid aligned with the values
    /// sliced weights and inputs can take: lossless once the ADC has enough bits.
    Full,
    /// +-`bound` in units of the partial sum (conductance difference over g_max times
    /// normalised input, summed over a group's rows), every slice alike.
    Fixed,
    /// Per weight slice, the smallest power-of-two fraction of the layer's row count that
    /// covers `percentile` of the partial sums of calibration inputs (CrossSim's calibration).
    Calibrated,
}

/// `[adc]`: one converter per conversion of a column's partial sum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdcSection {
    /// Resolution in bits (0 = ideal: no quantization and no clipping; else 2..=24):
    /// 2^bits - 1 levels over the range, step = 2 * bound / (2^bits - 2). Also the ADC the
    /// cost model prices (1..=12 bits there). Default 9.
    pub bits: u32,
    /// Largest output magnitude (> 0): weight units times normalised input for the
    /// "aihwkit" range, partial-sum units for "fixed". Default 12.0.
    pub bound: f32,
    /// "aihwkit", "full", "fixed" or "calibrated". Default "aihwkit".
    pub range: AdcRange,
    /// The calibrated range covers this percentile of the partial sums (percent,
    /// (50, 100]). Default 99.99.
    pub percentile: f64,
    /// "iterative" or "none" (the "aihwkit" range only). Default "iterative".
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
            range: AdcRange::Aihwkit,
            percentile: 99.99,
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
    /// ReRAM as aihwkit's `ReRamWan2022NoiseModel` fits Wan et al. (Nature 2022): programming
    /// noise of a 4th-order polynomial in G / g_max (uS), and at inference each device's
    /// conductance the target plus fresh noise of the polynomial fitted at that time (1 s,
    /// 1 day or 2 days after programming: the only times measured). One noise scale,
    /// `prog_noise_scale`, for both; no drift in the PCM sense, no 1/f read noise.
    ReramWan2022,
}

/// Times (s) at which the Wan et al. 2022 ReRAM deviations were fitted (the model's only
/// inference times besides 0); programming noise is the first.
pub const WAN2022_TIMES_S: [f64; 3] = [1.0, 86_400.0, 172_800.0];

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
    /// Largest programmable conductance (microsiemens, > 0). Default 25.0.
    pub g_max_us: f32,
    /// Smallest conductance, of a device at weight 0 (microsiemens, 0..g_max): both devices
    /// of a pair carry it, so it cancels in their difference and scales a conversion's input
    /// by 1 - g_min / g_max (the device models draw their noise on the targets above it).
    /// Sliced weights only. Default 0.0.
    pub g_min_us: f32,
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
            g_min_us: 0.0,
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

/// How the slices of a weight are held by devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightEncoding {
    /// Sign and magnitude: each slice of the magnitude a differential pair of devices
    /// (CrossSim's balanced bit-sliced core; two columns per slice).
    Differential,
    /// Offset: the weight plus 2^(bits-1) - 1 is unsigned, each slice one device (one column
    /// per slice), and the offset times the inputs is subtracted digitally (CrossSim's offset
    /// core, NeuroSim's mapping).
    Offset,
}

/// Where a layer's weights are scaled to the devices' range, the scale kept as a digital
/// factor on the converted outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightScaling {
    /// No digital factor. aihwkit's chip holds the weights as they are (one conductance
    /// scale per tile, its largest magnitude at g_max: aihwkit's `weight_scaling_omega = 0`),
    /// so output noise and the ADC bound act in weight units; the sliced chip normalises
    /// the whole layer by its largest magnitude.
    None,
    /// Each tile's weights divided by their largest magnitude before programming and
    /// multiplied back digitally (aihwkit's `weight_scaling_omega = 1`).
    Tile,
    /// Each output column of each tile divided by its own largest magnitude (aihwkit's
    /// `weight_scaling_columnwise`): a column of small weights uses the whole conductance
    /// range instead of drowning in programming and output noise. One digital multiplier
    /// per column, priced by the cost model.
    Column,
}

/// Where a batch norm after a matrix layer is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormMapping {
    /// Digitally, per channel after the analog layer: an output channel of small weights
    /// that the norm multiplies up is read far below the devices' range.
    Digital,
    /// Folded into the analog weights (each output row times the norm's scale) and the
    /// digital bias before programming, when the layer feeds only the norm. No digital
    /// per-channel multiply remains; the cost model does not price either.
    Fold,
}

/// `[mapping]`: weights to conductances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSection {
    /// Weight resolution in bits, sign included (0 = continuous: one differential pair of
    /// analog conductances per weight, aihwkit's chip; else 2..=16: the integer weight
    /// round(W / max|W| * (2^(bits-1) - 1)) spread over slices of `cell_bits` bits, each slice
    /// its own devices and columns, combined by a digital shift-and-add). A search's
    /// per-stage weight bits take its place layer by layer. Default 0.
    pub weight_bits: u32,
    /// Bits one device holds (sliced weights: 1..=8): a weight of b bits takes ceil(b /
    /// cell_bits) slices (CrossSim's slicing). Default 1.
    pub cell_bits: u32,
    /// "differential" or "offset" (sliced weights). Default "differential".
    pub encoding: WeightEncoding,
    /// Continuous weights: conductance levels per device before programming (0 =
    /// continuous, else 2..=65536); a pair then holds 2 * levels - 1 signed weight values.
    /// Default 0.
    pub weight_levels: u32,
    /// "none", "tile" or "column": see [`WeightScaling`]. Default "none".
    pub weight_scaling: WeightScaling,
    /// "digital" or "fold": see [`BatchNormMapping`]. Default "digital".
    pub batch_norm: BatchNormMapping,
}

impl Default for MappingSection {
    fn default() -> Self {
        MappingSection {
            weight_bits: 0,
            cell_bits: 1,
            encoding: WeightEncoding::Differential,
            weight_levels: 0,
            weight_scaling: WeightScaling::None,
            batch_norm: BatchNormMapping::Digital,
        }
    }
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
