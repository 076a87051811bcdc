//! The parts of a chip that follow from its description and that both the engine and the
//! cost model count: the converters' quantizers ([`Quantizer`]), which chip the engine reads
//! ([`ReadModel`]), the reads of an input vector ([`Reads`]) and the slices of a weight
//! ([`Slicing`]).

use super::hardware::{InputSign, WeightEncoding};

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

/// How the engine reads a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadModel {
    /// aihwkit's chip: continuous weights, one read of all rows, the aihwkit ADC range.
    Aihwkit,
    /// The general chip: conversions per row group, input read and weight slice.
    Sliced,
}

/// How an input vector reaches the rows: its bits and the reads they take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    /// Activation bits, sign included (0 = ideal).
    pub bits: u32,
    /// Magnitude bits (bits - 1; 0 when ideal).
    pub magnitude_bits: u32,
    /// Magnitude bits per read.
    pub bits_per_read: u32,
    /// Reads per phase: ceil(magnitude_bits / bits_per_read) (1 when ideal).
    pub per_phase: u32,
    /// Positive and negative inputs in two phases.
    pub two_phase: bool,
}

impl Reads {
    /// The reads of the inputs of `dac` bits with `bits_per_read` magnitude bits per read (0 =
    /// all) and the sign applied as `sign` says.
    pub fn new(bits: u32, bits_per_read: u32, sign: InputSign) -> Reads {
        let magnitude_bits = bits.saturating_sub(1);
        let bits_per_read = match bits_per_read {
            0 => magnitude_bits,
            n => n.min(magnitude_bits),
        };
        Reads {
            bits,
            magnitude_bits,
            bits_per_read,
            per_phase: magnitude_bits.div_ceil(bits_per_read.max(1)).max(1),
            two_phase: sign == InputSign::TwoPhase,
        }
    }

    /// Phases: 2 with two-phase inputs, else 1.
    pub fn phases(&self) -> u32 {
        if self.two_phase { 2 } else { 1 }
    }

    /// Reads per input vector, every phase counted.
    pub fn total(&self) -> u32 {
        self.per_phase * self.phases()
    }
}

/// How a weight of a given resolution is held: its slices and their devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slicing {
    /// Weight bits, sign included (0 = continuous).
    pub weight_bits: u32,
    /// Bits one device holds.
    pub cell_bits: u32,
    /// Sign and magnitude on differential pairs, or an offset on single devices.
    pub encoding: WeightEncoding,
    /// Slices per weight (1 when continuous).
    pub slices: u32,
    /// Bits of the integer weight each slice holds (the top slice takes the rest; 0 when
    /// continuous).
    pub bits_per_slice: u32,
}

impl Slicing {
    /// The slicing of weights of `weight_bits` bits (0 = continuous) over cells of `cell_bits`
    /// bits: ceil(weight_bits / cell_bits) slices; the differential encoding slices the
    /// magnitude as CrossSim does (weight_bits / slices bits each when that divides, else
    /// ceil((weight_bits - 1) / slices)), the offset encoding the unsigned weight in slices of
    /// ceil(weight_bits / slices) bits.
    pub fn new(weight_bits: u32, cell_bits: u32, encoding: WeightEncoding) -> Slicing {
        if weight_bits == 0 {
            return Slicing {
                weight_bits,
                cell_bits,
                encoding: WeightEncoding::Differential,
                slices: 1,
                bits_per_slice: 0,
            };
        }
        let slices = weight_bits.div_ceil(cell_bits.max(1));
        let bits_per_slice = match encoding {
            WeightEncoding::Differential => {
                if weight_bits.is_multiple_of(slices) {
                    weight_bits / slices
                } else {
                    (weight_bits - 1).div_ceil(slices)
                }
            }
            WeightEncoding::Offset => weight_bits.div_ceil(slices),
        };
        Slicing {
            weight_bits,
            cell_bits,
            encoding,
            slices,
            bits_per_slice,
        }
    }

    /// Devices (and columns) a weight takes: two per slice for a differential pair, one for
    /// an offset encoding (whose reference is digital).
    pub fn devices_per_weight(&self) -> u32 {
        match self.encoding {
            WeightEncoding::Differential => 2 * self.slices,
            WeightEncoding::Offset => self.slices,
        }
    }
}
