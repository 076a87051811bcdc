//! The hardware configuration as written in TOML: every key with its unit and default.
//!
//! These structs only describe the file; [`super::HwConfig`] is the validated form the
//! engine uses.

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

/// `[cost]`: the chip the energy, latency and area model (`imcnas cost`) describes. Its
/// subarrays are the `[tile]` crossbars; weights are spread over cells bit by bit, inputs are
/// applied a few bits per read, and several columns share one SAR ADC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostSection {
    /// Cell memory: "rram", "pcm" or "sram" (1 bit per cell). Default "rram".
    pub memory: crate::cost::memory::Memory,
    /// Technology node (nm): 45, 22, 7, 5 or 1 (rram and pcm: 45 or 22). Default 22.
    pub node_nm: u32,
    /// Bits stored per cell (1..=4; sram: 1). Default 1.
    pub cell_bits: u32,
    /// Weight precision (bits, 1..=16). Default 8.
    pub weight_bits: u32,
    /// Activation precision (bits, 1..=16). Default 8.
    pub input_bits: u32,
    /// Input bits applied per read (1 = bit-serial, up to input_bits with a multi-bit DAC).
    /// Default 1.
    pub dac_bits: u32,
    /// Rows read at once (count, 0 = every row of the tile). Default 0.
    pub rows_parallel: u32,
    /// Columns sharing one ADC, converted one after another (count, 1..=tile.cols).
    /// Default 8.
    pub cols_per_adc: u32,
    /// ADC resolution (bits, 1..=12). Default 5.
    pub adc_bits: u32,
    /// ADC circuit: "sar" (successive approximation, b + 1 cycles of 1 ns per conversion) or
    /// "flash" (2^b - 1 sense amplifiers compared at once, 1 ns per conversion: NeuroSim's
    /// multilevel sense amplifier). Default "sar".
    pub adc_type: crate::cost::Converter,
    /// Clock of the digital periphery (MHz, > 0). Default 1000.
    pub clock_mhz: f64,
    /// Largest weight duplication that balances the layer pipeline (count, 1 = none): a
    /// convolution whose input map is larger than the smallest one is copied so that every
    /// layer takes about as many cycles (NeuroSim's speedUpDegree). Default 8.
    pub pipeline_speedup: u32,
    /// Width of the global activation bus (bits, >= 8). Default 2048.
    pub bus_bits: u32,
}

impl Default for CostSection {
    fn default() -> Self {
        CostSection {
            memory: crate::cost::memory::Memory::Rram,
            node_nm: 22,
            cell_bits: 1,
            weight_bits: 8,
            input_bits: 8,
            dac_bits: 1,
            rows_parallel: 0,
            cols_per_adc: 8,
            adc_bits: 5,
            adc_type: crate::cost::Converter::Sar,
            clock_mhz: 1000.0,
            pipeline_speedup: 8,
            bus_bits: 2048,
        }
    }
}
