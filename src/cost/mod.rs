//! Energy, latency and area of a network on crossbar hardware: a component-level analytic
//! model in the style of DNN+NeuroSim ([`model`]), on technology figures and memory cells
//! taken from published sources ([`tech`], [`memory`]), configured by the `[cost]` section of
//! the hardware configuration.

pub mod memory;
pub mod model;
mod subarray;
pub mod tech;

use crate::config::CostSection;
use crate::error::{Error, Result};
use memory::{Cell, Memory};
use tech::TechNode;

/// The ADC circuit that converts column outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Converter {
    /// Successive approximation: one comparator, b + 1 cycles per conversion.
    Sar,
    /// Flash (NeuroSim's multilevel sense amplifier): 2^b - 1 comparators against
    /// reference columns, one comparison per conversion.
    Flash,
}

/// The validated `[cost]` section with the tile geometry it applies to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostParams {
    /// Cell memory.
    pub memory: Memory,
    /// Technology node.
    pub node: &'static TechNode,
    /// The cell at that node.
    pub cell: Cell,
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

impl CostParams {
    /// Checks `section` for tiles of `rows` x `cols`; `origin` names the file in errors.
    ///
    /// # Errors
    /// [`Error::ConfigValue`] for the first out-of-range key.
    pub fn new(section: &CostSection, rows: usize, cols: usize, origin: &str) -> Result<Self> {
        let fail = |field: &str, value: String, expected: String| Error::ConfigValue {
            origin: origin.to_string(),
            field: format!("cost.{field}"),
            value,
            expected,
        };
        let range = |field: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(fail(field, v.to_string(), format!("expected {lo}..={hi}")))
            }
        };
        let node = TechNode::find(section.node_nm).ok_or_else(|| {
            fail(
                "node_nm",
                section.node_nm.to_string(),
                format!("one of {} (nm)", TechNode::known()),
            )
        })?;
        // NeuroSim V1.4 (main.cpp) refuses resistive cells below 22 nm: no published 1T1R
        // figures exist there.
        if section.memory != Memory::Sram && node.node_nm < 22 {
            return Err(fail(
                "node_nm",
                section.node_nm.to_string(),
                "45 or 22 for rram and pcm (resistive cells are modelled at 22 nm and above)"
                    .into(),
            ));
        }
        let cell = section.memory.cell(node);
        let cell_bits = range("cell_bits", section.cell_bits, 1, cell.max_bits)?;
        let weight_bits = range("weight_bits", section.weight_bits, 1, 16)?;
        let input_bits = range("input_bits", section.input_bits, 1, 16)?;
        let dac_bits = range("dac_bits", section.dac_bits, 1, input_bits)?;
        let rows_parallel = match section.rows_parallel {
            0 => rows,
            n => range("rows_parallel", n, 1, rows as u32)? as usize,
        };
        let cols_per_adc = range("cols_per_adc", section.cols_per_adc, 1, cols as u32)? as usize;
        let adc_bits = range("adc_bits", section.adc_bits, 1, 12)?;
        if !(section.clock_mhz.is_finite() && section.clock_mhz > 0.0 && section.clock_mhz <= 1e5) {
            return Err(fail(
                "clock_mhz",
                section.clock_mhz.to_string(),
                "expected a clock in (0, 100000] MHz".into(),
            ));
        }
        let pipeline_speedup = range("pipeline_speedup", section.pipeline_speedup, 1, 1024)?;
        let bus_bits = range("bus_bits", section.bus_bits, 8, 1 << 20)?;
        Ok(CostParams {
            memory: section.memory,
            node,
            cell,
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
