//! The component model: every convolution and linear layer mapped onto subarrays, its reads,
//! conversions and data movement counted per inference, each turned into energy, latency and
//! area by the technology figures of [`super::tech`].
//!
//! Mapping: a layer's weight matrix (rows = inputs, the unrolled k x k x c_in of a
//! convolution; columns = outputs) is split onto subarrays of the tile size, each weight
//! spread over `ceil(weight_bits / cell_bits)` adjacent columns. A convolution whose input
//! map is larger than the network's smallest is copied `ceil((side / bound)^2)` times, with
//! `bound = ceil(largest side / min(pipeline_speedup, largest / smallest side))`, so that every
//! layer of the pipeline handles about as many output pixels per copy (NeuroSim's pipeline
//! duplication).
//!
//! Per matrix-vector product and subarray: `ceil(input_bits / dac_bits)` input cycles times
//! `ceil(rows used / rows_parallel)` row groups are read; each read converts every used column
//! with a SAR ADC shared by `cols_per_adc` columns in turn; each conversion is shifted and
//! added; partial sums of the row tiles are added in an adder tree.
//!
//! Latency (how layers pipeline): all layers work at once on successive images; a layer's
//! time per image is its products per copy times the time of one product, plus moving its
//! input and output maps over the global bus; the chip takes a new image every
//! `max` over layers of that time, which sets throughput (TOPS = 2 MACs per image / period).
//! Energy per image is the sum over layers, with the leakage of the whole chip over one
//! period.

use super::CostParams;
use crate::network::graph::{Graph, Op};
use serde::Serialize;

/// Minimum transistor width in F (NeuroSim's `MIN_NMOS_SIZE`).
const MIN_WIDTH_F: f64 = 2.0;
/// Footprint of a minimum transistor with its contacts in F^2: half the 4F x 12F 1T1R cell,
/// which is one access transistor and its via.
const TRANSISTOR_F2: f64 = 24.0;
/// Transistors of a mirror full adder.
const FULL_ADDER_TRANSISTORS: f64 = 28.0;
/// Transistors of a flip-flop (a register or buffer bit).
const REGISTER_BIT_TRANSISTORS: f64 = 20.0;
/// Minimum transistors of one row's word-line driver (an inverter chain sized 1, 3, 9).
const DRIVER_TRANSISTORS: f64 = 26.0;
/// Fraction of nodes and input bits that switch (inputs and weights equally likely 0 or 1).
const ACTIVITY: f64 = 0.5;
/// SAR ADC time per bit cycle (s), sampling included as one more cycle (NeuroSim SarADC.cpp).
const SAR_CYCLE_S: f64 = 1e-9;
/// Capacitance of an intermediate-level wire per length (F/m): 0.2 fF/um (ITRS interconnect
/// tables, nearly constant across nodes).
const WIRE_CAP_PER_M: f64 = 0.2e-9;
/// Wire pitch of the global bus in F.
const BUS_PITCH_F: f64 = 4.0;

/// Energy (J), latency (s) or area (m^2) by component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Components {
    /// The memory cells.
    pub array: f64,
    /// Word-line drivers and input DACs.
    pub drivers: f64,
    /// ADCs.
    pub adc: f64,
    /// Shift-add of conversions and the adder trees of partial sums.
    pub accumulation: f64,
    /// Activation buffers.
    pub buffer: f64,
    /// Global bus.
    pub interconnect: f64,
}

impl Components {
    /// Sum of all components.
    pub fn total(&self) -> f64 {
        self.array + self.drivers + self.adc + self.accumulation + self.buffer + self.interconnect
    }

    fn add(&mut self, other: &Components) {
        self.array += other.array;
        self.drivers += other.drivers;
        self.adc += other.adc;
        self.accumulation += other.accumulation;
        self.buffer += other.buffer;
        self.interconnect += other.interconnect;
    }
}

/// The cost of one matrix layer per inference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerCost {
    /// Node name.
    pub name: String,
    /// Weight rows (inputs) and columns (outputs).
    pub shape: (usize, usize),
    /// Matrix-vector products per image (output pixels of a convolution, 1 for linear).
    pub products: usize,
    /// Copies of the weights in the pipeline.
    pub copies: usize,
    /// Subarrays, copies included.
    pub subarrays: usize,
    /// ADCs, copies included.
    pub adcs: usize,
    /// Fraction of the subarrays' cells that hold weight bits.
    pub utilization: f64,
    /// ADC conversions per image.
    pub conversions: f64,
    /// Activation bits read and written over the global bus per image.
    pub moved_bits: f64,
    /// Time per image (s): products plus data movement.
    pub latency_s: f64,
    /// Dynamic energy per image (J).
    pub energy: Components,
    /// Area (m^2).
    pub area: Components,
}

/// The cost of a network per inference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostReport {
    /// Every matrix layer, in execution order.
    pub layers: Vec<LayerCost>,
    /// Operations per image (2 per multiply-accumulate).
    pub ops: f64,
    /// Pipeline period: time between images (s).
    pub period_s: f64,
    /// Dynamic energy per image (J).
    pub energy: Components,
    /// Leakage energy per image (J).
    pub leakage_j: f64,
    /// Chip area (m^2).
    pub area: Components,
    /// Throughput (10^12 operations per second).
    pub tops: f64,
    /// Energy efficiency (TOPS per watt).
    pub tops_per_w: f64,
    /// Area efficiency (TOPS per mm^2).
    pub tops_per_mm2: f64,
}

/// What the model needs of one matrix layer.
struct MatrixLayer {
    name: String,
    rows: usize,
    cols: usize,
    products: usize,
    /// Input map side (1 for linear layers).
    side: usize,
    /// Activation values read and written per image.
    moved_values: usize,
}

fn matrix_layers(graph: &Graph) -> Vec<MatrixLayer> {
    graph
        .matrix_nodes()
        .map(|i| {
            let node = &graph.nodes[i];
            let (cols, rows) = node.op.matrix().expect("matrix node");
            let [c, h, w] = graph.shape_of(node.inputs[0]);
            let [oc, oh, ow] = node.shape;
            let conv = matches!(node.op, Op::Conv2d { .. });
            MatrixLayer {
                name: node.name.clone(),
                rows,
                cols,
                products: if conv { oh * ow } else { 1 },
                side: if conv { h.max(w) } else { 1 },
                moved_values: c * h * w + oc * oh * ow,
            }
        })
        .collect()
}

/// Copies of each layer that balance the pipeline.
fn copies(params: &CostParams, layers: &[MatrixLayer]) -> Vec<usize> {
    let convs = || layers.iter().filter(|l| l.side > 1).map(|l| l.side);
    let (Some(largest), Some(smallest)) = (convs().max(), convs().min()) else {
        return vec![1; layers.len()];
    };
    let speedup = (params.pipeline_speedup as usize)
        .min(largest / smallest)
        .max(1);
    let bound = largest.div_ceil(speedup);
    layers
        .iter()
        .map(|l| {
            if l.side > 1 {
                l.side.div_ceil(bound).pow(2).max(1)
            } else {
                1
            }
        })
        .collect()
}

/// The cost of `graph`'s matrix layers on the hardware `params`.
pub fn network_cost(params: &CostParams, graph: &Graph) -> CostReport {
    let p = params;
    let node = p.node;
    let f = node.feature_m;
    let vdd2 = node.vdd * node.vdd;
    let c_min = node.cap_gate_per_m * MIN_WIDTH_F * f;
    let transistor_area = TRANSISTOR_F2 * f * f;
    let e_full_adder = FULL_ADDER_TRANSISTORS * c_min * vdd2 * ACTIVITY;
    let t_conv = f64::from(p.adc_bits + 1) * SAR_CYCLE_S;
    let cells_per_weight = p.weight_bits.div_ceil(p.cell_bits) as usize;
    let input_cycles = p.input_bits.div_ceil(p.dac_bits) as usize;
    let cell = p.cell;
    let resistive = cell.r_on_ohm > 0.0;
    let g_mean = if resistive {
        0.5 * (1.0 + 1.0 / cell.on_off) / cell.r_on_ohm
    } else {
        0.0
    };
    let adcs_per_subarray = p.cols.div_ceil(p.cols_per_adc);
    let shift_add_bits = f64::from(p.adc_bits + p.input_bits + p.weight_bits);

    let layers = matrix_layers(graph);
    let copies = copies(p, &layers);
    let mut costs = Vec::with_capacity(layers.len());
    for (layer, &copies) in layers.iter().zip(&copies) {
        let row_tiles = layer.rows.div_ceil(p.rows);
        let cell_cols = layer.cols * cells_per_weight;
        let col_tiles = cell_cols.div_ceil(p.cols);
        let subarrays = row_tiles * col_tiles * copies;
        let utilization =
            (layer.rows * cell_cols) as f64 / (row_tiles * col_tiles * p.rows * p.cols) as f64;
        // Rows used in a subarray on average, and read together.
        let rows_used = layer.rows as f64 / row_tiles as f64;
        let groups = (rows_used / p.rows_parallel as f64).ceil();
        let rows_active = rows_used.min(p.rows_parallel as f64);
        let reads_per_product = input_cycles as f64 * groups;
        let products = layer.products as f64;
        let column_reads = products * reads_per_product * row_tiles as f64 * cell_cols as f64;

        // Energy per image.
        // Each column read charges the bit line (one drain per cell) to the read voltage.
        // The current through resistive cells during a conversion is the k / R_column term
        // of the SAR power fit (SarADC.cpp, R_column scaled to its 0.5 V reference); an SRAM
        // read bit line swings fully from the supply and draws no static current.
        let bit_line = p.rows as f64 * c_min * cell.read_v * cell.read_v;
        let r_column = if resistive {
            let conducting = (rows_active * ACTIVITY).max(1.0);
            0.5 / cell.read_v / (conducting * g_mean)
        } else {
            f64::INFINITY
        };
        let sar_power =
            (node.sar_a_uw * f64::from(p.adc_bits) + node.sar_c_uw) * 1e-6 + node.sar_k / r_column;
        let word_line = p.cols as f64 * c_min * vdd2;
        let row_switches =
            products * reads_per_product * rows_active * ACTIVITY * (row_tiles * col_tiles) as f64;
        let acc_bits = shift_add_bits + (row_tiles as f64).log2().ceil();
        let tree_adds = products * layer.cols as f64 * (row_tiles - 1) as f64;
        let moved_bits = layer.moved_values as f64 * f64::from(p.input_bits);
        let energy = Components {
            array: column_reads * bit_line,
            drivers: row_switches * word_line * f64::from(p.dac_bits),
            adc: column_reads * sar_power * t_conv,
            accumulation: (column_reads * shift_add_bits + tree_adds * acc_bits) * e_full_adder,
            // Written once and read once, each access switching a register bit.
            buffer: 2.0 * moved_bits * REGISTER_BIT_TRANSISTORS * c_min * vdd2 * ACTIVITY,
            // Depends on the chip's size: added once every layer's area is known.
            interconnect: 0.0,
        };

        // Area.
        let sar_area =
            transistor_area * (269.0 + 209.0 + f64::from(p.adc_bits - 1) * (109.0 + 73.0));
        let adders = (subarrays * adcs_per_subarray) as f64 * shift_add_bits
            + (layer.cols * copies) as f64 * acc_bits * (row_tiles - 1) as f64;
        let area = Components {
            array: (subarrays * p.rows * p.cols) as f64 * cell.area_f2 * f * f,
            drivers: (subarrays * p.rows) as f64 * DRIVER_TRANSISTORS * transistor_area,
            adc: (subarrays * adcs_per_subarray) as f64 * sar_area,
            accumulation: adders
                * (FULL_ADDER_TRANSISTORS + REGISTER_BIT_TRANSISTORS)
                * transistor_area,
            // Each copy buffers the input rows of one product and its outputs.
            buffer: (copies * (layer.rows + layer.cols)) as f64
                * f64::from(p.input_bits)
                * REGISTER_BIT_TRANSISTORS
                * transistor_area,
            interconnect: 0.0,
        };

        // Latency per image.
        let t_read = p.clock_s + p.cols_per_adc as f64 * t_conv;
        let tree_depth = (row_tiles as f64).log2().ceil();
        let t_product = reads_per_product * t_read + (1.0 + tree_depth) * p.clock_s;
        let compute = layer.products.div_ceil(copies) as f64 * t_product;
        let movement = (moved_bits / f64::from(p.bus_bits)).ceil() * p.clock_s;
        costs.push(LayerCost {
            name: layer.name.clone(),
            shape: (layer.rows, layer.cols),
            products: layer.products,
            copies,
            subarrays,
            adcs: subarrays * adcs_per_subarray,
            utilization,
            conversions: column_reads,
            moved_bits,
            latency_s: compute + movement,
            energy,
            area,
        });
    }

    // The global bus spans the chip: as long as two sides of the rest of it.
    let mut area = Components::default();
    costs.iter().for_each(|l| area.add(&l.area));
    let side = area.total().sqrt();
    area.interconnect = f64::from(p.bus_bits) * BUS_PITCH_F * f * 2.0 * side;
    // An activation bit crosses half the chip on average.
    let e_bit = WIRE_CAP_PER_M * side * vdd2 * ACTIVITY;
    let mut energy = Components::default();
    for layer in &mut costs {
        layer.energy.interconnect = layer.moved_bits * e_bit;
        energy.add(&layer.energy);
    }

    let ops = 2.0
        * layers
            .iter()
            .map(|l| (l.rows * l.cols * l.products) as f64)
            .sum::<f64>();
    let period_s = costs.iter().map(|l| l.latency_s).fold(0.0, f64::max);
    // Leakage of every periphery transistor (and of the SRAM cells) over one period.
    let periphery = area.total() - area.array;
    let mut transistors = periphery / transistor_area;
    if !resistive {
        transistors += area.array / (cell.area_f2 * f * f) * 8.0;
    }
    let leakage_w = transistors * MIN_WIDTH_F * f * node.i_off_per_m * node.vdd;
    let leakage_j = leakage_w * period_s;
    let tops = ops / period_s / 1e12;
    CostReport {
        layers: costs,
        ops,
        period_s,
        energy,
        leakage_j,
        area,
        tops,
        tops_per_w: ops / (energy.total() + leakage_j) / 1e12,
        tops_per_mm2: tops / (area.total() * 1e6),
    }
}
