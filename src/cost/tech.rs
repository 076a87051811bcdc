//! Technology nodes and memory cells of the cost model, each number with its published source.
//!
//! Transistor figures are the low-standby-power (LSTP) devices of DNN+NeuroSim V1.4
//! (`Technology.cpp`, its default `deviceroadmap = 2`), at 300 K; the SAR ADC power
//! coefficients are its `SarADC.cpp` fits and the flash ADC's its `MultilevelSenseAmp.cpp`
//! fits; cell geometry and read voltages are its `Param.cpp` defaults. The nodes are those for
//! which all of them are published.

use crate::config::cost::Node;

/// One technology node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TechNode {
    /// Node name (nm).
    pub node_nm: u32,
    /// Feature size F that cells and transistors are drawn in (m): the node itself, as
    /// NeuroSim's `Technology::Initialize` sets `featureSize` for its circuits and arrays.
    pub feature_m: f64,
    /// The length whose square is the area one F^2 of logic takes at this node (m): F itself
    /// at planar nodes; at FinFET and GAA nodes, where standard cells are laid out in
    /// contacted-poly pitches and fixed cell heights that shrink far less than F, the
    /// root of NeuroSim's minimum inverter area over its 28F x 7.6F at 22 nm
    /// (`formula.cpp` `CalculateGateArea`, `constant.h` `MAX_TRANSISTOR_HEIGHT_*`, `CPP_*`:
    /// 0.1030, 0.0274, 0.0184 and 0.0064 um^2 at 22, 7, 5 and 1 nm).
    pub logic_f_m: f64,
    /// Width of the narrowest device, in F: 1 at planar nodes, 2 (one fin or one nanosheet
    /// stack, which NeuroSim draws as 2F) at FinFET and GAA nodes; an SRAM cell's access
    /// device has this width.
    pub access_width_f: f64,
    /// Wire width of the global bus (m): NeuroSim `Param.cpp` `wireWidth` (40 nm at 22 nm).
    pub wire_m: f64,
    /// Supply voltage (V), `Technology.cpp` `vdd`.
    pub vdd: f64,
    /// Capacitance switched per drawn transistor width (F/m): at planar nodes the ideal gate
    /// capacitance `Technology.cpp` `capIdealGate`, which this model's load counts (gate and
    /// drain loads in units of it) were set with at 22 nm. At FinFET and GAA nodes a device of
    /// 2F drawn width is one fin (or nanosheet stack) whose gate and drain capacitances
    /// relate to each other unlike planar ones (a fin's drain is a fifth of its gate), so the
    /// value there is the capacitance per minimum device, over 2F, at which the same logic
    /// switches NeuroSim V1.4's energy relative to 22 nm: its VGG-8 accumulation circuits
    /// (adders and shift-adders, nothing but logic) take 0.425, 0.345 and 0.137 of 22 nm's
    /// energy at 7, 5 and 1 nm, at supplies of 0.70, 0.70 and 0.60 V.
    pub cap_gate_per_m: f64,
    /// NMOS on-current per drawn width (A/m), `Technology.cpp` `currentOnNmos` (given in
    /// uA/um of effective width; at FinFET and GAA nodes converted to a fin's current over
    /// its 2F drawn width).
    pub i_on_per_m: f64,
    /// NMOS off-current per drawn width (A/m), `Technology.cpp` `currentOffNmos`, converted
    /// as the on-current.
    pub i_off_per_m: f64,
    /// SAR ADC power fit P = (a b + c) uW + k / R_column: `SarADC.cpp` coefficient a (uW/bit).
    pub sar_a_uw: f64,
    /// See `sar_a_uw`: coefficient c (uW).
    pub sar_c_uw: f64,
    /// See `sar_a_uw`: coefficient k (W * ohm).
    pub sar_k: f64,
    /// RRAM read voltage at this node (V), `Param.cpp` `readVoltage` (given down to 1 nm,
    /// but resistive cells are only costed at 22 nm and above, as NeuroSim's main.cpp allows).
    /// The flash ADC holds every column at this voltage, whatever the memory
    /// (`MultilevelSenseAmp.cpp` keeps the same per-node table).
    pub rram_read_v: f64,
    /// The flash ADC's comparator fits at this node.
    pub flash: FlashFit,
    /// Sensing time of a column at this node (s): the intercept of NeuroSim's current-mode
    /// column latency fit (`MultilevelSenseAmp.cpp` `ColumnLatency_Table`). The clock of a
    /// synchronous chip follows it (NeuroSim sets its clock to 1.4 x the longest sensing
    /// path), and so do ADC conversions.
    pub sense_s: f64,
}

/// The capacitance a minimum device (2F) switches at 22 nm in this model (F).
const C_MIN_22NM: f64 = 5.245e-10 * 44e-9;

/// The capacitance per drawn width of a FinFET or GAA node of feature `f` (m) whose logic
/// takes `energy_share` of 22 nm's switching energy at supply `vdd` (V).
const fn finfet_cap_per_m(energy_share: f64, vdd: f64, f: f64) -> f64 {
    C_MIN_22NM * energy_share * (0.85 * 0.85) / (vdd * vdd) / (2.0 * f)
}

/// The sensing time at 22 nm, the node the clocks of configurations are given at.
pub const SENSE_22NM_S: f64 = 1.76e-9;

/// One piece of a fit in a resistance R (ohm): `per_ohm * R + per_ln * ln R + constant`, used
/// below `below_ohm`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitPiece {
    /// Upper end of the piece's range (ohm).
    pub below_ohm: f64,
    /// Coefficient of R.
    pub per_ohm: f64,
    /// Coefficient of ln R.
    pub per_ln: f64,
    /// Constant term.
    pub constant: f64,
}

const fn linear(below_ohm: f64, per_ohm: f64, constant: f64) -> FitPiece {
    FitPiece {
        below_ohm,
        per_ohm,
        per_ln: 0.0,
        constant,
    }
}

const fn logarithmic(below_ohm: f64, per_ln: f64, constant: f64) -> FitPiece {
    FitPiece {
        below_ohm,
        per_ohm: 0.0,
        per_ln,
        constant,
    }
}

/// A piecewise fit at `ohm`: the first piece whose range holds it (the last piece beyond).
pub fn piecewise(pieces: &[FitPiece], ohm: f64) -> f64 {
    let piece = pieces
        .iter()
        .find(|p| ohm < p.below_ohm)
        .unwrap_or(&pieces[pieces.len() - 1]);
    piece.per_ohm * ohm + piece.per_ln * ohm.ln() + piece.constant
}

/// NeuroSim's flash ADC in current mode (its multilevel sense amplifier,
/// `MultilevelSenseAmp.cpp`): each comparator mirrors the column current against one
/// reference column; fits of its circuit simulations at this node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlashFit {
    /// Static power of one comparator (W) against the resistance of the column it mirrors,
    /// referred to a 0.5 V column (`GetColumnPower`, LSTP devices).
    pub power: &'static [FitPiece],
    /// Sensing time (s) against a reference column's resistance (`ColumnLatency_Table`).
    pub latency: &'static [FitPiece],
    /// Above this reference resistance (ohm) the sensing time also grows with the column's
    /// capacitance beyond `cap_ref_f` ...
    pub slow_above_ohm: f64,
    /// ... by `slow_s` (s) at `slow_above_ohm + slow_span_ohm` per relative excess of
    /// capacitance, linearly in the resistance.
    pub slow_s: f64,
    /// See `slow_s` (ohm).
    pub slow_span_ohm: f64,
    /// Column capacitance the sensing time was fitted at (F).
    pub cap_ref_f: f64,
}

/// The nodes with published figures, largest first.
pub const NODES: [TechNode; Node::ALL.len()] = [
    TechNode {
        node_nm: 45,
        feature_m: 45e-9,
        logic_f_m: 45e-9,
        access_width_f: 1.0,
        wire_m: 80e-9,
        vdd: 1.0,
        cap_gate_per_m: 8.930709e-10,
        i_on_per_m: 500.2,
        i_off_per_m: 100e-6,
        sar_a_uw: 2.1691,
        sar_c_uw: 16.693,
        sar_k: 0.100225,
        rram_read_v: 0.51,
        flash: FlashFit {
            power: &[
                linear(4832.0, -3.96471e-12, 3.44344e-7),
                logarithmic(379269.0, -5.66235e-8, 8.27849e-7),
                logarithmic(f64::INFINITY, -4.32673e-8, 6.46111e-7),
            ],
            latency: &[
                logarithmic(4832.0, -1.12976e-10, 2.16762e-9),
                linear(f64::INFINITY, 1.54619e-14, 1.60263e-9),
            ],
            slow_above_ohm: 4.83e3,
            slow_s: 0.81e-9,
            slow_span_ohm: 0.1e6 - 4.83e3,
            cap_ref_f: 9.21e-15,
        },
        // Not in NeuroSim's table (22 nm and below): 22 nm's scaled by the ratio of the
        // nodes' gate delays, capGate * vdd / I_on (3.17).
        sense_s: 1.76e-9 * (8.930709e-10 * 1.0 / 500.2) / (5.245e-10 * 0.85 / 791.9),
    },
    TechNode {
        node_nm: 22,
        feature_m: 22e-9,
        logic_f_m: 22e-9,
        access_width_f: 1.0,
        wire_m: 40e-9,
        vdd: 0.85,
        cap_gate_per_m: 5.245e-10,
        i_on_per_m: 791.9,
        i_off_per_m: 100e-6,
        sar_a_uw: 0.538,
        sar_c_uw: 4.3753,
        sar_k: 0.072341,
        rram_read_v: 0.55,
        flash: FlashFit {
            power: &[
                linear(4832.0, -2.85373e-11, 9.16744e-7),
                logarithmic(379269.0, -1.63133e-7, 2.1687e-6),
                logarithmic(f64::INFINITY, -5.8712e-8, 8.64648e-7),
            ],
            latency: &[
                logarithmic(4832.0, -1.32118e-10, 1.7552e-9),
                linear(f64::INFINITY, 8.02517e-15, 8.51803e-10),
            ],
            slow_above_ohm: 12.7e3,
            slow_s: 0.31e-9,
            slow_span_ohm: 0.1e6 - 12.7e3,
            cap_ref_f: 4.5e-15,
        },
        sense_s: SENSE_22NM_S,
    },
    TechNode {
        node_nm: 7,
        feature_m: 7e-9,
        logic_f_m: 11.35e-9,
        access_width_f: 2.0,
        wire_m: 20e-9,
        vdd: 0.7,
        // 100.497 aF over a 107 nm effective width.
        cap_gate_per_m: finfet_cap_per_m(5.20205 / 12.2472, 0.7, 7e-9),
        // A fin: effective width 107 nm, drawn 2F.
        i_on_per_m: 562.048 * 107e-9 / 14e-9,
        i_off_per_m: 1.47e-4 * 107e-9 / 14e-9,
        sar_a_uw: 0.1061,
        sar_c_uw: 0.8847,
        sar_k: 0.043555,
        rram_read_v: 0.264,
        flash: FlashFit {
            power: &[
                linear(20691.0, -2.62089e-13, 4.7357e-8),
                logarithmic(f64::INFINITY, -8.49198e-9, 1.27848e-7),
            ],
            latency: &[
                logarithmic(4832.0, -4.67061e-11, 1.03708e-9),
                linear(f64::INFINITY, 3.72084e-15, 7.02172e-10),
            ],
            slow_above_ohm: 12.7e3,
            slow_s: 0.13e-9,
            slow_span_ohm: 0.1e6 - 12.7e3,
            cap_ref_f: 1.43e-15,
        },
        sense_s: 1.04e-9,
    },
    TechNode {
        node_nm: 5,
        feature_m: 5e-9,
        logic_f_m: 9.30e-9,
        access_width_f: 2.0,
        wire_m: 15e-9,
        vdd: 0.7,
        // 81.859 aF over a 106 nm effective width.
        cap_gate_per_m: finfet_cap_per_m(4.22236 / 12.2472, 0.7, 5e-9),
        // A fin: effective width 106 nm, drawn 2F.
        i_on_per_m: 578.494 * 106e-9 / 10e-9,
        i_off_per_m: 1.38e-4 * 106e-9 / 10e-9,
        sar_a_uw: 0.0645,
        sar_c_uw: 0.5511,
        sar_k: 0.0388,
        rram_read_v: 0.253,
        flash: FlashFit {
            power: &[
                linear(20691.0, -1.4179e-13, 3.31434e-8),
                logarithmic(f64::INFINITY, -5.76552e-9, 8.89536e-8),
            ],
            latency: &[
                logarithmic(4832.0, -4.33009e-11, 9.79525e-10),
                logarithmic(7847.0, -3.15954e-12, 6.53005e-10),
                linear(f64::INFINITY, 2.77641e-15, 6.46706e-10),
            ],
            slow_above_ohm: 12.7e3,
            slow_s: 0.09e-9,
            slow_span_ohm: 0.1e6 - 12.7e3,
            cap_ref_f: 1.02e-15,
        },
        sense_s: 0.98e-9,
    },
    TechNode {
        node_nm: 1,
        feature_m: 1e-9,
        logic_f_m: 5.48e-9,
        access_width_f: 2.0,
        wire_m: 8e-9,
        vdd: 0.6,
        // 66.94 aF per gate-all-around device; its effective width taken as the 3 nm
        // node's 101 nm (NeuroSim derives it from sheet count and size).
        cap_gate_per_m: finfet_cap_per_m(1.68058 / 12.2472, 0.6, 1e-9),
        // A stack of 4 nanosheets: effective width 128 nm, drawn 2F.
        i_on_per_m: 460.979 * 128e-9 / 2e-9,
        i_off_per_m: 1.69e-4 * 128e-9 / 2e-9,
        sar_a_uw: 0.0101,
        sar_c_uw: 0.0843,
        sar_k: 0.0288,
        rram_read_v: 0.272,
        flash: FlashFit {
            power: &[
                linear(20691.0, -1.68865e-13, 3.80513e-8),
                logarithmic(f64::INFINITY, -6.64737e-9, 1.02221e-7),
            ],
            latency: &[
                logarithmic(4832.0, -3.81168e-11, 8.78701e-10),
                logarithmic(12742.0, -2.01799e-11, 7.25185e-10),
                linear(f64::INFINITY, 1.19486e-15, 5.35253e-10),
            ],
            slow_above_ohm: 20.06e3,
            slow_s: 0.013e-9,
            slow_span_ohm: 0.1e6 - 20.06e3,
            cap_ref_f: 0.2e-15,
        },
        sense_s: 0.88e-9,
    },
];

impl TechNode {
    /// The figures of `node`: [`NODES`] holds one per node of [`Node::ALL`], in that order.
    pub fn of(node: Node) -> &'static TechNode {
        &NODES[node as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaller_nodes_switch_less_charge_and_lower_the_supply() {
        for pair in NODES.windows(2) {
            let (big, small) = (&pair[0], &pair[1]);
            assert!(small.feature_m < big.feature_m, "{}", small.node_nm);
            assert!(small.vdd <= big.vdd, "{}", small.node_nm);
            // SAR ADC power at 5 bits falls with the node.
            let p = |n: &TechNode| n.sar_a_uw * 5.0 + n.sar_c_uw;
            assert!(p(small) < p(big), "{}", small.node_nm);
        }
        assert_eq!(TechNode::of(Node::Nm22).vdd, 0.85);
        // Every node a configuration accepts has its own figures.
        for node in Node::ALL {
            assert_eq!(TechNode::of(node).node_nm, node.nm());
        }
    }
}
