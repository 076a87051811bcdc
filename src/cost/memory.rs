//! Memory cells of the cost model: geometry and read physics, each number with its source.

use super::tech::TechNode;
use crate::config::cost::Memory;

/// How one cell is read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Cell height along a column, in F (the node's feature size).
    pub height_f: f64,
    /// Cell width along a row, in F.
    pub width_f: f64,
    /// Resistive cells: low-resistance state (ohm); 0 for SRAM.
    pub r_on_ohm: f64,
    /// Resistive cells: high over low resistance.
    pub on_off: f64,
    /// Read voltage on a selected row (V).
    pub read_v: f64,
    /// Resistance of a selected cell's access transistor (ohm), in series with a resistive
    /// element or, for SRAM, the whole read path.
    pub access_ohm: f64,
}

/// A 1T1R access transistor is sized to drop this fraction of the low-resistance state
/// (NeuroSim `constant.h` `IR_DROP_TOLERANCE`, `Param.cpp` `resistanceAccess`).
const ACCESS_DROP: f64 = 0.25;
/// On-resistance of the SRAM read port, in units of supply over on-current of a transistor
/// one F wide: NeuroSim's `resCellAccess` of its minimum read port, 86.4 kOhm at 22 nm.
const SRAM_READ_PORT_SQUARES: f64 = 1.77;

impl Cell {
    /// Cell area in F^2.
    pub fn area_f2(&self) -> f64 {
        self.height_f * self.width_f
    }

    /// Whether the cell is resistive (1T1R), written above the logic supply through level
    /// shifters.
    pub fn resistive(&self) -> bool {
        self.r_on_ohm > 0.0
    }
}

/// The cell of `memory` at `node`.
pub fn cell(memory: Memory, node: &TechNode) -> Cell {
    match memory {
        // NeuroSim V1.4 Param.cpp: 1T1R cell 4F x 12F, R_on 100 kOhm, R_off 1.7 MOhm
        // (on/off 17, the RRAM of its VGG-8 table), read voltage per node.
        Memory::Rram => Cell {
            height_f: 4.0,
            width_f: 12.0,
            r_on_ohm: 100e3,
            on_off: 17.0,
            read_v: node.rram_read_v,
            access_ohm: 100e3 * ACCESS_DROP,
        },
        // The same 1T1R footprint (the access transistor sets it); conductance range of
        // aihwkit's PCM model (g_max 25 uS, i.e. 40 kOhm; on/off about 100, Joshi et al.
        // 2020, Nat. Commun. 11:2473), read at the RRAM read voltage of the node.
        Memory::Pcm => Cell {
            height_f: 4.0,
            width_f: 12.0,
            r_on_ohm: 40e3,
            on_off: 100.0,
            read_v: node.rram_read_v,
            access_ohm: 40e3 * ACCESS_DROP,
        },
        // NeuroSim V1.4 Param.cpp: 8T SRAM cell 10F x 28F above 14 nm, 16F x 34.43F at
        // 7 nm, 19.2F x 43.75F at 5 nm, 80F x 144F at 1 nm; read by discharging a
        // precharged bit line from the supply.
        Memory::Sram => Cell {
            height_f: match node.node_nm {
                7 => 16.0,
                5 => 19.2,
                1 => 80.0,
                _ => 10.0,
            },
            width_f: match node.node_nm {
                7 => 34.43,
                5 => 43.75,
                1 => 144.0,
                _ => 28.0,
            },
            r_on_ohm: 0.0,
            on_off: 0.0,
            read_v: node.vdd,
            access_ohm: SRAM_READ_PORT_SQUARES * node.vdd
                / (node.i_on_per_m * node.access_width_f * node.feature_m),
        },
    }
}
