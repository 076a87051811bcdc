//! The `[cost]` section as written ([`CostSection`]): what only the energy, latency and area
//! model reads, none of it with any effect on accuracy, and its named values (cell memory,
//! node, ADC circuit).

use serde::{Deserialize, Serialize};

/// The memory technology of the crossbar cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Memory {
    /// Resistive RAM, one transistor + one resistor per cell.
    Rram,
    /// Phase-change memory, one transistor + one PCM element per cell.
    Pcm,
    /// SRAM compute cell (8T, a decoupled read port), 1 bit per cell.
    Sram,
}

impl Memory {
    /// Bits one cell can hold at most: 4 for the multi-level resistive cells (NeuroSim
    /// V1.4's `cellBit` range), 1 for SRAM.
    pub fn max_cell_bits(self) -> u32 {
        match self {
            Memory::Rram | Memory::Pcm => 4,
            Memory::Sram => 1,
        }
    }

    /// Whether the cell is resistive (1T1R).
    pub fn resistive(self) -> bool {
        self != Memory::Sram
    }
}

/// The ADC circuit that converts column outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Converter {
    /// Successive approximation: one comparator, b + 1 cycles per conversion.
    Sar,
    /// Flash (NeuroSim's multilevel sense amplifier): 2^b - 1 comparators against
    /// reference columns, one comparison per conversion.
    Flash,
}

/// A technology node whose transistor, wire and ADC figures are published (the cost model
/// holds them per node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// 45 nm.
    Nm45,
    /// 22 nm.
    Nm22,
    /// 7 nm.
    Nm7,
    /// 5 nm.
    Nm5,
    /// 1 nm.
    Nm1,
}

impl Node {
    /// Every node, largest first.
    pub const ALL: [Node; 5] = [Node::Nm45, Node::Nm22, Node::Nm7, Node::Nm5, Node::Nm1];

    /// The node's name in nm.
    pub fn nm(self) -> u32 {
        match self {
            Node::Nm45 => 45,
            Node::Nm22 => 22,
            Node::Nm7 => 7,
            Node::Nm5 => 5,
            Node::Nm1 => 1,
        }
    }

    /// The node named `nm`, if it is one of [`Node::ALL`].
    pub fn from_nm(nm: u32) -> Option<Node> {
        Node::ALL.into_iter().find(|n| n.nm() == nm)
    }
}

/// `[cost]`: what only the energy, latency and area model (`imcnas cost`) reads, none of it
/// with any effect on accuracy: the cell memory and node, the ADC circuit and how many
/// columns share one, the clock, the pipeline and the bus. Everything else it prices (tile
/// size, rows read at once, activation bits and reads, weight slices, ADC bits) is the
/// description the engine simulates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostSection {
    /// Cell memory: "rram", "pcm" or "sram" (1 bit per cell). Default "rram".
    pub memory: Memory,
    /// Technology node (nm): 45, 22, 7, 5 or 1 (rram and pcm: 45 or 22). Default 22.
    pub node_nm: u32,
    /// Columns sharing one ADC, converted one after another (count, 1..=tile.cols).
    /// Default 8.
    pub cols_per_adc: u32,
    /// ADC circuit: "sar" (successive approximation, b + 1 cycles of 1 ns per conversion) or
    /// "flash" (2^b - 1 sense amplifiers compared at once, 1 ns per conversion: NeuroSim's
    /// multilevel sense amplifier). Default "sar".
    pub adc_type: Converter,
    /// Clock of the digital periphery at 22 nm (MHz; other nodes scale it by their sensing
    /// time), or 0: a synchronous chip whose clock period is 1.4 x its subarray's sensing path
    /// (row or multiplexer drive, precharge, the ADC's sensing at the rows read at once and
    /// its encoder), as NeuroSim's synchronous mode sets it. Default 1000.
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
            memory: Memory::Rram,
            node_nm: 22,
            cols_per_adc: 8,
            adc_type: Converter::Sar,
            clock_mhz: 1000.0,
            pipeline_speedup: 8,
            bus_bits: 2048,
        }
    }
}
