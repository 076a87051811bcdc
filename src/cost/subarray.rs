//! One subarray's circuits as NeuroSim models them: its layout (periphery strips along the
//! cell array inside an enclosing rectangle, [`subarray_layout`]) and its flash ADC's
//! conversion energy ([`Flash`]). [`super::model`] places and counts the subarrays.

use super::CostParams;
use super::components::{Components, TRANSISTOR_F2};
use super::tech::{FlashFit, piecewise};
use crate::config::cost::Converter;

/// A level shifter of a resistive array's write path (NeuroSim V1.4 `LevelShifter.cpp`,
/// validated layout): 70F high, 205.2F wide (IO transistors drawn 2.5x), times its 1.44
/// wiring factor, in F^2. One per row on the word and bit lines, one per column on the
/// source lines.
const LEVEL_SHIFTER_F2: f64 = 70.0 * 205.2 * 1.44;
/// Row switch matrix per row (transmission gates and a flip-flop; NeuroSim's
/// `NewSwitchMatrix` at 22 nm sizing), F^2: resistive arrays, SRAM.
const ROW_SWITCH_F2: [f64; 2] = [4860.0, 3650.0];
/// Source-line switch matrix per column of a resistive array (minimum pass gates and a
/// flip-flop), F^2.
const COLUMN_SWITCH_F2: f64 = 3220.0;
/// SRAM precharger plus write driver per column, F^2.
const SRAM_COLUMN_F2: f64 = 2.0 * 2354.0;
/// Height of the column multiplexer strip (F): set by its decoder, whose final drivers are
/// sized 110x at 22 nm (NeuroSim `sizingfactor_MUX`).
const MUX_STRIP_F: f64 = 224.0;
/// Width of the multiplexer decoder beside the array (F).
const MUX_DECODER_F: f64 = 439.0;
/// One comparator of a flash ADC (a current sense amplifier of 9 minimum NMOS), F^2.
const COMPARATOR_F2: f64 = 1916.0;
/// Height of the flash ADC's thermometer-to-binary encoder strip (F).
const ENCODER_STRIP_F: f64 = 305.0;
/// A D flip-flop, 91.2F x 28F.
const DFF_F2: f64 = 91.2 * 28.0;
/// One full-adder bit built of 9 NAND2 gates, F^2.
const ADDER_BIT_F2: f64 = 2872.0;
/// A minimum inverter's capacitances in units of the ideal gate capacitance of a minimum
/// transistor (`c_min`, 0.0231 fF at 22 nm): NeuroSim's 22 nm figures (`formula.cpp`
/// `CalculateGateCapacitance`, overlap and fringe included) of 0.063 fF (NMOS gate), 0.083 fF
/// (PMOS gate), 0.037 fF (NMOS drain) and 0.041 fF (PMOS drain).
pub(super) const INV_GATE_N: f64 = 2.73;
/// See [`INV_GATE_N`].
pub(super) const INV_GATE_P: f64 = 3.60;
/// See [`INV_GATE_N`].
pub(super) const INV_DRAIN_N: f64 = 1.60;
/// See [`INV_GATE_N`].
pub(super) const INV_DRAIN_P: f64 = 1.78;
/// Longest sensing time of a flash ADC column (s): the bound NeuroSim puts on it
/// (`MultilevelSenseAmp.cpp`), beyond which its fits are extrapolated.
const FLASH_SENSE_MAX_S: f64 = 10e-9;
/// NeuroSim's flash ADC in current mode (its multilevel sense amplifier,
/// `MultilevelSenseAmp.cpp`) converting one subarray column: `2^b - 1` comparators each mirror
/// the column current against a reference column (a column of cells at the conductance of
/// one level), each reference column serving as many sense amplifiers as there are levels.
/// A conversion costs the comparators' switching plus the static power of the column's and
/// the reference columns' mirrors over the sensing time.
pub(super) struct Flash {
    fit: &'static FlashFit,
    comparators: f64,
    /// Factor that refers a column's resistance to the 0.5 V column of the fits.
    referral: f64,
    /// Switching energy of one conversion (J).
    switching_j: f64,
    /// Static power of the reference columns' mirrors per conversion (W).
    reference_w: f64,
    /// Sensing time (s): the slower of the extreme reference levels.
    sense_s: f64,
}

impl Flash {
    /// The flash ADC of `p`'s subarrays, whose columns and rows load `column_f` and `row_f`
    /// (F); `c_min` is the ideal gate capacitance of a minimum transistor.
    pub(super) fn new(p: &CostParams, c_min: f64, column_f: f64, row_f: f64) -> Flash {
        let node = p.node;
        let fit = &node.flash;
        let levels = f64::from(1u32 << p.adc_bits);
        let comparators = levels - 1.0;
        // Sense amplifiers sharing one reference column (NeuroSim's `dumcolshared`).
        let shared = levels;
        let vr2 = node.rram_read_v * node.rram_read_v;
        let vdd2 = node.vdd * node.vdd;
        let [gate_n, gate_p, drain_n, drain_p] =
            [INV_GATE_N, INV_GATE_P, INV_DRAIN_N, INV_DRAIN_P].map(|k| k * c_min);
        // SRAM reference columns are woken with every read: their word line's charge, its
        // share per column; resistive reference columns stay on.
        let reference_wake = if p.cell.resistive() {
            0.0
        } else {
            row_f * vdd2 * p.rows as f64 / p.cols as f64
        };
        let per_comparator = (column_f + gate_n + drain_n) * (1.0 / comparators + 1.0 / shared)
            * vr2
            + 2.0 * gate_n * vr2
            + reference_wake / shared
            // Sense amplifier, latch and the encoder's input.
            + (6.0 * gate_p + 5.0 * gate_n + 4.0 * drain_p + 3.0 * drain_n) * vdd2;
        // Level i's reference conducts like a fraction 1 - i / levels of the parallel rows
        // all in the low-resistance state (for SRAM, all conducting).
        let unit_ohm = if p.cell.resistive() {
            p.cell.r_on_ohm
        } else {
            p.cell.access_ohm
        } / p.rows_parallel as f64;
        let reference = |i: f64| unit_ohm / (1.0 - i / levels);
        let mut flash = Flash {
            fit,
            comparators,
            referral: 0.5 / node.rram_read_v,
            switching_j: comparators * per_comparator,
            reference_w: 0.0,
            sense_s: 0.0,
        };
        // The reference columns between the lowest and the two highest levels draw current.
        let inner = (1u32 << p.adc_bits).saturating_sub(2);
        flash.reference_w = (1..inner)
            .map(|i| flash.column_w(reference(f64::from(i))) / shared)
            .sum();
        // Above a knee resistance, sensing slows with the column's load: its wire and the
        // comparators' inputs.
        let load_f = column_f + gate_n * (levels - 3.0).max(0.0);
        let sense = |ohm: f64| {
            let mut t = piecewise(fit.latency, ohm);
            if ohm > fit.slow_above_ohm {
                t += fit.slow_s * (ohm - fit.slow_above_ohm) / fit.slow_span_ohm
                    * (load_f - fit.cap_ref_f)
                    / fit.cap_ref_f;
            }
            t
        };
        flash.sense_s = sense(reference(levels - 2.0))
            .max(sense(reference(1.0)))
            .clamp(0.0, FLASH_SENSE_MAX_S);
        flash
    }

    /// Static power (W) of all comparators mirroring a column of `ohm`.
    fn column_w(&self, ohm: f64) -> f64 {
        self.comparators * piecewise(self.fit.power, ohm * self.referral).max(0.0)
    }

    /// Sensing time of one conversion (s).
    pub(super) fn sense_s(&self) -> f64 {
        self.sense_s
    }

    /// Energy (J) of converting a column of `ohm`.
    pub(super) fn conversion_j(&self, ohm: f64) -> f64 {
        self.switching_j + (self.column_w(ohm) + self.reference_w) * self.sense_s
    }
}

/// The area of one subarray as NeuroSim lays it out: periphery in strips along the cell
/// array, row circuits beside it (as tall as the array) and column circuits below it (as
/// wide as the array); the subarray takes the rectangle enclosing them all.
///
/// Beside: row switch matrices and, for resistive cells, word- and bit-line level
/// shifters; at least as wide as the column multiplexer's decoder. Below: source-line
/// level shifters and switches (resistive) or prechargers and write drivers (SRAM), the
/// multiplexer, the ADCs (SAR, or flash with its reference columns and encoder) and the
/// shift-adders of weight and input bits.
pub(super) fn subarray_layout(p: &CostParams, adcs: usize) -> Components {
    // The cell array is drawn in the node's F; the periphery in its logic F (standard cells
    // shrink less than F at FinFET and GAA nodes).
    let f = p.node.feature_m;
    let lf = p.node.logic_f_m;
    let f2 = lf * lf;
    let cell = p.cell;
    let resistive = cell.resistive();
    let array_w = p.cols as f64 * cell.width_f * f;
    let array_h = p.rows as f64 * cell.height_f * f;
    let adcs = adcs as f64;
    let muxed = p.cols_per_adc > 1;

    let row_f2 = p.rows as f64
        * (ROW_SWITCH_F2[usize::from(!resistive)]
            + if resistive {
                2.0 * LEVEL_SHIFTER_F2
            } else {
                0.0
            });
    let decoder_w = if muxed { MUX_DECODER_F * lf } else { 0.0 };
    let beside_w = (row_f2 * f2 / array_h).max(decoder_w);

    let column_f2 = p.cols as f64
        * if resistive {
            LEVEL_SHIFTER_F2 + COLUMN_SWITCH_F2
        } else {
            SRAM_COLUMN_F2
        };
    let levels = f64::from((1u32 << p.adc_bits) - 1);
    let (adc_f2, encoder_h) = match p.adc_type {
        Converter::Sar => (
            adcs * TRANSISTOR_F2 * (269.0 + 209.0 + f64::from(p.adc_bits - 1) * (109.0 + 73.0)),
            0.0,
        ),
        // One reference column per comparator level, shared by as many sense amplifiers
        // as there are levels (NeuroSim's dummy-column sharing).
        // The reference columns are cells, as long as a column in the node's wire width
        // (NeuroSim sizes them with its wire-width feature size) and a cell wide: their area
        // in logic F^2.
        Converter::Flash => (
            adcs * levels * COMPARATOR_F2
                + adcs * levels / (levels + 1.0)
                    * p.rows as f64
                    * cell.area_f2()
                    * (f * p.node.wire_m)
                    / (lf * lf),
            ENCODER_STRIP_F * lf,
        ),
    };
    let weight_shift =
        f64::from(p.adc_bits + p.weight_bits) * DFF_F2 + f64::from(p.adc_bits) * ADDER_BIT_F2;
    let input_shift = f64::from(p.adc_bits + p.weight_bits + p.input_bits) * DFF_F2
        + f64::from(p.adc_bits + p.weight_bits) * ADDER_BIT_F2;
    let shift_add_f2 = adcs * (weight_shift + input_shift);
    let mux_h = if muxed { MUX_STRIP_F * lf } else { 0.0 };
    let below_h = (column_f2 + adc_f2 + shift_add_f2) * f2 / array_w + mux_h + encoder_h;

    let mut area = Components {
        array: array_w * array_h,
        drivers: (row_f2 + column_f2) * f2 + mux_h * (array_w + decoder_w),
        adc: adc_f2 * f2 + encoder_h * array_w,
        accumulation: shift_add_f2 * f2,
        ..Components::default()
    };
    let rectangle = (beside_w + array_w) * (array_h + below_h);
    area.spacing = (rectangle - area.total()).max(0.0);
    area
}
