//! The `[cost]` section: the chip the energy, latency and area model describes, as written
//! ([`CostSection`]) and checked for a tile size ([`CostConfig`]).

use super::check::Checker;
use crate::error::Result;
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

/// `[cost]`: the chip the energy, latency and area model (`imcnas cost`) describes. Its
/// subarrays are the `[tile]` crossbars; weights are spread over cells bit by bit, inputs are
/// applied a few bits per read, and several columns share one SAR ADC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostSection {
    /// Cell memory: "rram", "pcm" or "sram" (1 bit per cell). Default "rram".
    pub memory: Memory,
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
    pub adc_type: Converter,
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
            memory: Memory::Rram,
            node_nm: 22,
            cell_bits: 1,
            weight_bits: 8,
            input_bits: 8,
            dac_bits: 1,
            rows_parallel: 0,
            cols_per_adc: 8,
            adc_bits: 5,
            adc_type: Converter::Sar,
            clock_mhz: 1000.0,
            pipeline_speedup: 8,
            bus_bits: 2048,
        }
    }
}

/// The validated `[cost]` section with the tile geometry it applies to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostConfig {
    /// Cell memory.
    pub memory: Memory,
    /// Technology node.
    pub node: Node,
    /// Subarray rows (the tile's inputs).
    pub rows: usize,
    /// Subarray columns.
    pub cols: usize,
    /// Bits per cell.
    pub cell_bits: u32,
    /// Weight bits.
    pub weight_bits: u32,
    /// Activation bits.
    pub input_bits: u32,
    /// Input bits per read.
    pub dac_bits: u32,
    /// Rows read at once.
    pub rows_parallel: usize,
    /// Columns per ADC.
    pub cols_per_adc: usize,
    /// ADC bits.
    pub adc_bits: u32,
    /// ADC circuit.
    pub adc_type: Converter,
    /// Clock period (s).
    pub clock_s: f64,
    /// Largest layer duplication.
    pub pipeline_speedup: u32,
    /// Global bus width (bits).
    pub bus_bits: u32,
}

impl CostConfig {
    /// Checks `section` for tiles of `rows` x `cols`; `check` names the file in errors.
    ///
    /// # Errors
    /// [`crate::Error::ConfigValue`] for the first out-of-range key.
    pub fn new(
        section: &CostSection,
        rows: usize,
        cols: usize,
        check: &Checker<'_>,
    ) -> Result<Self> {
        let known: Vec<String> = Node::ALL.iter().map(|n| n.nm().to_string()).collect();
        let node = Node::from_nm(section.node_nm).ok_or_else(|| {
            check.fail(
                "cost.node_nm",
                section.node_nm,
                &format!("one of {} (nm)", known.join(", ")),
            )
        })?;
        // NeuroSim V1.4 (main.cpp) refuses resistive cells below 22 nm: no published 1T1R
        // figures exist there.
        if section.memory.resistive() && node.nm() < 22 {
            return Err(check.fail(
                "cost.node_nm",
                section.node_nm,
                "45 or 22 for rram and pcm (resistive cells are modelled at 22 nm and above)",
            ));
        }
        let cell_bits = check.range(
            "cost.cell_bits",
            section.cell_bits,
            1,
            section.memory.max_cell_bits(),
        )?;
        let weight_bits = check.range("cost.weight_bits", section.weight_bits, 1, 16)?;
        let input_bits = check.range("cost.input_bits", section.input_bits, 1, 16)?;
        let dac_bits = check.range("cost.dac_bits", section.dac_bits, 1, input_bits)?;
        let rows_parallel = match section.rows_parallel {
            0 => rows,
            n => check.range("cost.rows_parallel", n, 1, rows as u32)? as usize,
        };
        let cols_per_adc =
            check.range("cost.cols_per_adc", section.cols_per_adc, 1, cols as u32)? as usize;
        let adc_bits = check.range("cost.adc_bits", section.adc_bits, 1, 12)?;
        if !(section.clock_mhz.is_finite() && section.clock_mhz > 0.0 && section.clock_mhz <= 1e5) {
            return Err(check.fail(
                "cost.clock_mhz",
                section.clock_mhz,
                "expected a clock in (0, 100000] MHz",
            ));
        }
        let pipeline_speedup =
            check.range("cost.pipeline_speedup", section.pipeline_speedup, 1, 1024)?;
        let bus_bits = check.range("cost.bus_bits", section.bus_bits, 8, 1 << 20)?;
        Ok(CostConfig {
            memory: section.memory,
            node,
            rows,
            cols,
            cell_bits,
            weight_bits,
            input_bits,
            dac_bits,
            rows_parallel,
            cols_per_adc,
            adc_bits,
            adc_type: section.adc_type,
            clock_s: 1e-6 / section.clock_mhz,
            pipeline_speedup,
            bus_bits,
        })
    }
}
