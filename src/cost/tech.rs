//! Technology nodes and memory cells of the cost model, each number with its published source.
//!
//! Transistor figures are the low-standby-power (LSTP) devices of DNN+NeuroSim V1.4
//! (`Technology.cpp`, its default `deviceroadmap = 2`), at 300 K; the SAR ADC power
//! coefficients are its `SarADC.cpp` fits; cell geometry and read voltages are its `Param.cpp`
//! defaults. The nodes are those for which all of them are published.

/// One technology node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TechNode {
    /// Node name (nm).
    pub node_nm: u32,
    /// Feature size F that cells and transistors are drawn in (m): the node itself, as
    /// NeuroSim's `Technology::Initialize` sets `featureSize` for its circuits and arrays.
    pub feature_m: f64,
    /// Wire width of the global bus (m): NeuroSim `Param.cpp` `wireWidth` (40 nm at 22 nm).
    pub wire_m: f64,
    /// Supply voltage (V), `Technology.cpp` `vdd`.
    pub vdd: f64,
    /// Ideal gate capacitance per transistor width (F/m), `Technology.cpp` `capIdealGate`
    /// (at 14 nm and below: the published per-device capacitance over the effective width).
    pub cap_gate_per_m: f64,
    /// NMOS on-current per width (A/m), `Technology.cpp` `currentOnNmos` (given in uA/um).
    pub i_on_per_m: f64,
    /// NMOS off-current per width (A/m), `Technology.cpp` `currentOffNmos` (given in uA/um).
    pub i_off_per_m: f64,
    /// SAR ADC power fit P = (a b + c) uW + k / R_column: `SarADC.cpp` coefficient a (uW/bit).
    pub sar_a_uw: f64,
    /// See `sar_a_uw`: coefficient c (uW).
    pub sar_c_uw: f64,
    /// See `sar_a_uw`: coefficient k (W * ohm).
    pub sar_k: f64,
    /// RRAM read voltage at this node (V), `Param.cpp` `readVoltage` (given down to 1 nm,
    /// but resistive cells are only costed at 22 nm and above, as NeuroSim's main.cpp allows).
    pub rram_read_v: f64,
}

/// The nodes with published figures, largest first.
pub const NODES: [TechNode; 5] = [
    TechNode {
        node_nm: 45,
        feature_m: 45e-9,
        wire_m: 80e-9,
        vdd: 1.0,
        cap_gate_per_m: 8.930709e-10,
        i_on_per_m: 500.2,
        i_off_per_m: 100e-6,
        sar_a_uw: 2.1691,
        sar_c_uw: 16.693,
        sar_k: 0.100225,
        rram_read_v: 0.51,
    },
    TechNode {
        node_nm: 22,
        feature_m: 22e-9,
        wire_m: 40e-9,
        vdd: 0.85,
        cap_gate_per_m: 5.245e-10,
        i_on_per_m: 791.9,
        i_off_per_m: 100e-6,
        sar_a_uw: 0.538,
        sar_c_uw: 4.3753,
        sar_k: 0.072341,
        rram_read_v: 0.55,
    },
    TechNode {
        node_nm: 7,
        feature_m: 7e-9,
        wire_m: 20e-9,
        vdd: 0.7,
        // 100.497 aF over a 107 nm effective width.
        cap_gate_per_m: 100.497e-18 / 107e-9,
        i_on_per_m: 562.048,
        i_off_per_m: 1.47e-4,
        sar_a_uw: 0.1061,
        sar_c_uw: 0.8847,
        sar_k: 0.043555,
        rram_read_v: 0.264,
    },
    TechNode {
        node_nm: 5,
        feature_m: 5e-9,
        wire_m: 15e-9,
        vdd: 0.7,
        // 81.859 aF over a 106 nm effective width.
        cap_gate_per_m: 81.859e-18 / 106e-9,
        i_on_per_m: 578.494,
        i_off_per_m: 1.38e-4,
        sar_a_uw: 0.0645,
        sar_c_uw: 0.5511,
        sar_k: 0.0388,
        rram_read_v: 0.253,
    },
    TechNode {
        node_nm: 1,
        feature_m: 1e-9,
        wire_m: 8e-9,
        vdd: 0.6,
        // 66.94 aF per gate-all-around device; its effective width taken as the 3 nm
        // node's 101 nm (NeuroSim derives it from sheet count and size).
        cap_gate_per_m: 66.94e-18 / 101e-9,
        i_on_per_m: 460.979,
        i_off_per_m: 1.69e-4,
        sar_a_uw: 0.0101,
        sar_c_uw: 0.0843,
        sar_k: 0.0288,
        rram_read_v: 0.272,
    },
];

impl TechNode {
    /// The node named `node_nm`, if its figures are published.
    pub fn find(node_nm: u32) -> Option<&'static TechNode> {
        NODES.iter().find(|n| n.node_nm == node_nm)
    }

    /// The names of the known nodes, for error messages.
    pub fn known() -> String {
        NODES
            .iter()
            .map(|n| n.node_nm.to_string())
            .collect::<Vec<_>>()
            .join(", ")
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
        assert_eq!(TechNode::find(22).map(|n| n.vdd), Some(0.85));
        assert!(TechNode::find(28).is_none());
    }
}
