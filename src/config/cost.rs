//! The chip the cost model prices, checked ([`CostConfig`]): the `[cost]` section's keys
//! ([`CostSection`]) beside the facts of the one hardware description it counts.

pub use super::cost_section::{Converter, CostSection, Memory, Node};

use super::check::Checker;
use super::hardware::HwConfigFile;
use super::hardware::{WeightEncoding, WeightScaling};
use super::parts::Reads;
use crate::error::Result;

/// The chip the cost model prices, checked: the `[cost]` section and the facts of the one
/// description it counts.
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
    /// Bits per cell of sliced weights.
    pub cell_bits: u32,
    /// Weight encoding of sliced weights.
    pub encoding: WeightEncoding,
    /// A digital multiplier per output column of every tile (`mapping.weight_scaling` "tile"
    /// or "column").
    pub digital_scale: bool,
    /// Weight bits (0 = continuous: one differential pair of analog cells per weight); a
    /// layer's own resolution takes its place.
    pub weight_bits: u32,
    /// Activation bits.
    pub input_bits: u32,
    /// Magnitude bits applied per read.
    pub dac_bits: u32,
    /// Reads per input vector, phases included.
    pub reads: u32,
    /// Rows read at once.
    pub rows_parallel: usize,
    /// Columns per ADC.
    pub cols_per_adc: usize,
    /// ADC bits.
    pub adc_bits: u32,
    /// ADC circuit.
    pub adc_type: Converter,
    /// Clock period at 22 nm (s); 0 for a synchronous clock set by the sensing path.
    pub clock_s: f64,
    /// Largest layer duplication.
    pub pipeline_speedup: u32,
    /// Global bus width (bits).
    pub bus_bits: u32,
}

impl CostConfig {
    /// The cost model's view of `file` (whose inputs take `reads` and whose tiles are read
    /// `rows_parallel` rows at once): `Ok(Err(why))` for a chip that has no price (ideal
    /// converters, an ADC beyond the model's), an error for a `[cost]` key out of range.
    ///
    /// # Errors
    /// [`crate::Error::ConfigValue`] for the first out-of-range `[cost]` key, or a cell
    /// memory that cannot hold the cells the weights are sliced into.
    pub fn new(
        file: &HwConfigFile,
        reads: &Reads,
        rows_parallel: usize,
        check: &Checker<'_>,
    ) -> Result<std::result::Result<Self, String>> {
        let section = &file.cost;
        let (rows, cols) = (file.tile.rows as usize, file.tile.cols as usize);
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
        let m = &file.mapping;
        if m.weight_bits > 0 && m.cell_bits > section.memory.max_cell_bits() {
            return Err(check.fail(
                "mapping.cell_bits",
                m.cell_bits,
                &format!(
                    "at most {} with cost.memory = {:?}",
                    section.memory.max_cell_bits(),
                    section.memory
                ),
            ));
        }
        let cols_per_adc =
            check.range("cost.cols_per_adc", section.cols_per_adc, 1, cols as u32)? as usize;
        if !(section.clock_mhz.is_finite() && section.clock_mhz >= 0.0 && section.clock_mhz <= 1e5)
        {
            return Err(check.fail(
                "cost.clock_mhz",
                section.clock_mhz,
                "expected a clock in (0, 100000] MHz, or 0 for a synchronous clock",
            ));
        }
        let pipeline_speedup =
            check.range("cost.pipeline_speedup", section.pipeline_speedup, 1, 1024)?;
        let bus_bits = check.range("cost.bus_bits", section.bus_bits, 8, 1 << 20)?;
        let (dac_bits, adc_bits) = (file.dac.bits, file.adc.bits);
        if dac_bits == 0 || adc_bits == 0 {
            return Ok(Err(format!(
                "ideal converters (dac.bits = {dac_bits}, adc.bits = {adc_bits}) have no price: give them bits to cost the chip"
            )));
        }
        if adc_bits > 12 {
            return Ok(Err(format!(
                "an ADC of {adc_bits} bits is beyond the cost model (1..=12 bits)"
            )));
        }
        Ok(Ok(CostConfig {
            memory: section.memory,
            node,
            rows,
            cols,
            cell_bits: m.cell_bits,
            encoding: m.encoding,
            digital_scale: m.weight_scaling != WeightScaling::None,
            weight_bits: m.weight_bits,
            input_bits: dac_bits,
            dac_bits: reads.bits_per_read.max(1),
            reads: reads.total(),
            rows_parallel,
            cols_per_adc,
            adc_bits,
            adc_type: section.adc_type,
            clock_s: if section.clock_mhz > 0.0 {
                1e-6 / section.clock_mhz
            } else {
                0.0
            },
            pipeline_speedup,
            bus_bits,
        }))
    }
}
