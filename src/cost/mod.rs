//! Energy, latency and area of a network on crossbar hardware: a component-level analytic
//! model in the style of DNN+NeuroSim ([`model`]), on technology figures and memory cells
//! taken from published sources ([`tech`], [`memory`]), configured by the checked `[cost]`
//! section of the hardware configuration ([`crate::config::CostConfig`]).

mod components;
pub mod memory;
pub mod model;
mod subarray;
pub mod tech;

use crate::config::cost::{Converter, CostConfig, Memory};
use crate::config::{Slicing, WeightEncoding};
use memory::Cell;
use tech::{SENSE_22NM_S, TechNode};

/// The chip of a checked `[cost]` section with the technology figures of its node and cell:
/// what the model computes with.
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
    /// Bits per cell of sliced weights.
    pub cell_bits: u32,
    /// Weight encoding of sliced weights.
    pub encoding: WeightEncoding,
    /// A digital multiplier per output column of every tile.
    pub digital_scale: bool,
    /// Weight bits (0 = continuous).
    pub weight_bits: u32,
    /// Activation bits.
    pub input_bits: u32,
    /// Input bits per read.
    pub dac_bits: u32,
    /// Reads per input vector.
    pub reads: u32,
    /// Rows read at once.
    pub rows_parallel: usize,
    /// Columns per ADC.
    pub cols_per_adc: usize,
    /// ADC bits.
    pub adc_bits: u32,
    /// ADC circuit.
    pub adc_type: Converter,
    /// Clock period at this node (s); 0 for a synchronous clock, which the model derives
    /// from the subarray's sensing path.
    pub clock_s: f64,
    /// Time of one ADC step at this node relative to 22 nm.
    pub speed: f64,
    /// Largest layer duplication.
    pub pipeline_speedup: u32,
    /// Global bus width (bits).
    pub bus_bits: u32,
}

impl CostParams {
    /// Devices (cells, columns) one weight of `weight_bits` bits (0 = continuous) takes.
    pub fn cells_per_weight(&self, weight_bits: u32) -> usize {
        Slicing::new(weight_bits, self.cell_bits, self.encoding).devices_per_weight() as usize
    }

    /// The figures of `config`'s node and cell beside its settings. The clock, given at
    /// 22 nm, follows the node's sensing time and stops at 1 GHz, as NeuroSim's synchronous
    /// clock does.
    pub fn new(config: &CostConfig) -> Self {
        let node = TechNode::of(config.node);
        let speed = node.sense_s / SENSE_22NM_S;
        CostParams {
            memory: config.memory,
            node,
            cell: memory::cell(config.memory, node),
            rows: config.rows,
            cols: config.cols,
            cell_bits: config.cell_bits,
            encoding: config.encoding,
            digital_scale: config.digital_scale,
            weight_bits: config.weight_bits,
            input_bits: config.input_bits,
            dac_bits: config.dac_bits,
            reads: config.reads,
            rows_parallel: config.rows_parallel,
            cols_per_adc: config.cols_per_adc,
            adc_bits: config.adc_bits,
            adc_type: config.adc_type,
            clock_s: if config.clock_s > 0.0 {
                (config.clock_s * speed).max(1e-9)
            } else {
                0.0
            },
            speed,
            pipeline_speedup: config.pipeline_speedup,
            bus_bits: config.bus_bits,
        }
    }
}
