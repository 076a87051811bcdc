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
//! with an ADC (SAR or flash) shared by `cols_per_adc` columns in turn; each conversion is
//! shifted and added; partial sums of the row tiles are added in an adder tree.
//!
//! Energy of a read, as NeuroSim's subarray counts it: per input cycle the selected word lines
//! are driven, and the shift register of their switch matrix clocked, once per step of the
//! column multiplexer; every row group's conversions cost their comparators' switching and
//! the static current of the column and of the reference columns over the sensing time
//! ([`super::subarray::Flash`]); the conversions of a column's row groups are added, and the sums shifted and
//! added over a weight's cells and over the input bits.
//!
//! Area: every subarray is laid out as NeuroSim lays it out, periphery strips along the
//! cell array inside an enclosing rectangle ([`super::subarray::subarray_layout`]); the H-tree
//! wiring above the subarrays grows with a subarray's side (see `HTREE_WIRE_F`).
//!
//! Latency (how layers pipeline): all layers work at once on successive images; a layer's
//! time per image is its products per copy times the time of one product, plus its partial
//! sums and inputs passing the register-file tile buffers (shared by the copies, so not
//! divided among them), plus moving its input and output maps over the global bus; the
//! chip takes a new image every
//! `max` over layers of that time, which sets throughput (TOPS = 2 MACs per image / period).
//! Energy per image is the sum over layers, with the leakage of the whole chip over one
//! period.

use super::CostParams;
pub use super::components::Components;
use super::components::TRANSISTOR_F2;
use super::subarray::{Flash, INV_DRAIN_N, INV_DRAIN_P, INV_GATE_N, INV_GATE_P, subarray_layout};
use crate::config::CostConfig;
use crate::config::cost::Converter;
use crate::network::graph::{Graph, Op};
use serde::Serialize;
use std::collections::BTreeMap;

/// Subarrays across a tile's width: 8 with conventional mapping (a 1024-column tile of
/// 128-column subarrays), 4 with NeuroSim's novel convolution mapping (a 512-column PE per
/// kernel position).
const TILE_WIDTH_SUBARRAYS: [usize; 2] = [8, 4];

/// Minimum transistor width in F (NeuroSim's `MIN_NMOS_SIZE`).
const MIN_WIDTH_F: f64 = 2.0;
/// Bits of a column's digital weight scale (`mapping.weight_scaling` "tile" or "column"): the
/// factor each tile output's digital sum is multiplied by, in an array multiplier of
/// (sum bits x these) full adders.
const SCALE_BITS: f64 = 8.0;

/// Transistors of a mirror full adder.
const FULL_ADDER_TRANSISTORS: f64 = 28.0;
/// Transistors of a flip-flop (a register or buffer bit).
const REGISTER_BIT_TRANSISTORS: f64 = 20.0;
/// Fraction of nodes and input bits that switch (inputs and weights equally likely 0 or 1).
/// NeuroSim's released VGG-8 runs (22 nm RRAM, 128 or 64 rows read at once) spend the ADC
/// and word-line energy of about half the rows selected per read, above the traced input
/// density.
const ACTIVITY: f64 = 0.5;
/// A flip-flop clocked once with its data changing (NeuroSim `DFF.cpp`): its clock inverters
/// and transmission gates and its data path charge this many minimum inverter inputs
/// (gates, NMOS and PMOS) ...
const FLIP_FLOP_INPUTS: f64 = 8.0;
/// ... and this many minimum inverter outputs (drains): 1.41 fJ at 22 nm.
const FLIP_FLOP_OUTPUTS: f64 = 10.0;
/// Clocks on which an accumulator's register bits switch (NeuroSim `Param.cpp` `gamma`, its
/// activity validated on silicon).
const REGISTER_ACTIVITY: f64 = 0.5;
/// Transmission gates of a word-line switch, per selected row and multiplexer step, in
/// `c_min * Vdd^2`: resistive arrays (NeuroSim `NewSwitchMatrix.cpp`, gates 14x minimum at
/// 22 nm passing the gate and read voltages) about 5.5 fJ, SRAM (`SwitchMatrix.cpp`) about
/// 2.0 fJ at 22 nm.
const ROW_SWITCH_LOADS: [f64; 2] = [330.0, 120.0];
/// Word-line load per cell besides the wire, in `c_min`: NeuroSim's 128-cell rows at 22 nm
/// carry 9.5 fF (1T1R) and 19.8 fF (8T SRAM), of which 6.8 fF and 15.8 fF are wire.
const ROW_CELL_LOADS: [f64; 2] = [0.93, 1.36];
/// The column multiplexer and its decoder per column read, in `c_min * Vdd^2` (NeuroSim
/// `Mux.cpp` and its decoder, final drivers sized 110x at 22 nm): about 1.8 fJ at 22 nm.
const MUX_LOADS: f64 = 108.0;
/// SAR ADC time per bit cycle (s), sampling included as one more cycle (NeuroSim SarADC.cpp).
const SAR_CYCLE_S: f64 = 1e-9;
/// A synchronous clock's period over its longest sensing path (NeuroSim `Param.cpp` `beta`).
const SYNCHRONOUS_MARGIN: f64 = 1.4;
/// The sensing path beside the ADC at 22 nm (s): row or multiplexer drive 0.080 ns,
/// precharge 0.033 ns and encoder 0.148 ns, NeuroSim V1.4's SRAM subarray of 128 rows.
const SENSE_PATH_22NM_S: f64 = 0.261e-9;
/// Capacitance of an intermediate-level wire per length (F/m): 0.2 fF/um (ITRS interconnect
/// tables, nearly constant across nodes).
const WIRE_CAP_PER_M: f64 = 0.2e-9;
/// Wire pitch of the global bus in F.
const BUS_PITCH_F: f64 = 4.0;
/// Width in F that each row input and column output of a subarray takes, per subarray side
/// of route, in the H-trees that join subarrays into processing elements, those into tiles
/// and tiles into the chip (NeuroSim `HTree.cpp`, called from `Tile.cpp` and `Chip.cpp`: a
/// tree's area is its bus width times the footprint of its repeater inverters times its
/// stage lengths, which are multiples of the side of the unit it joins, so the wiring grows
/// with a subarray's side rather than its area). Set by NeuroSim V1.4's VGG-8 chips at 22 nm,
/// whose area beyond their subarrays (about 26 mm^2 with SRAM and 58 mm^2 with RRAM) scales
/// as the subarray's side (89 x 71 um and 288 x 119 um) and not as a fixed periphery would.
const HTREE_WIRE_F: f64 = 8.0;

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

/// How one layer is compressed before mapping: structured pruning keeps some of its weight
/// rows (the unrolled inputs), and its weights may have fewer bits than the chip's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LayerCompression {
    /// Weight rows kept (none = all).
    pub rows_kept: Option<usize>,
    /// Weight bits (none = the chip's `mapping.weight_bits`).
    pub weight_bits: Option<u32>,
}

/// Compression of a network's matrix layers by node name; layers not named are whole.
pub type Compression = BTreeMap<String, LayerCompression>;

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
    /// Mapped one kernel position per processing element (NeuroSim's novel mapping): a
    /// convolution whose input channels fill a subarray's rows.
    novel: bool,
    /// Input channels (rows per kernel position).
    channels_in: usize,
    /// Weight bits of this layer (0 = continuous).
    weight_bits: u32,
}

fn matrix_layers(graph: &Graph, p: &CostParams, compression: &Compression) -> Vec<MatrixLayer> {
    graph
        .matrix_nodes()
        .map(|i| {
            let node = &graph.nodes[i];
            let (cols, all_rows) = node.op.matrix().expect("matrix node");
            let plan = compression.get(&node.name).copied().unwrap_or_default();
            // Pruned rows leave the array; a layer keeps at least one.
            let rows = plan.rows_kept.map_or(all_rows, |r| r.clamp(1, all_rows));
            let [c, h, w] = graph.shape_of(node.inputs[0]);
            let [oc, oh, ow] = node.shape;
            let conv = matches!(node.op, Op::Conv2d { .. });
            MatrixLayer {
                weight_bits: plan.weight_bits.unwrap_or(p.weight_bits),
                name: node.name.clone(),
                rows,
                cols,
                products: if conv { oh * ow } else { 1 },
                side: if conv { h.max(w) } else { 1 },
                moved_values: c * h * w + oc * oh * ow,
                novel: conv && rows > c && c >= p.rows,
                channels_in: c,
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

/// The cost of `graph`'s matrix layers on the chip of `config`.
pub fn network_cost(config: &CostConfig, graph: &Graph) -> CostReport {
    network_cost_compressed(config, graph, &Compression::new())
}

/// The cost of `graph`'s matrix layers on the chip of `config`, each layer pruned and
/// quantized as `compression` says.
pub fn network_cost_compressed(
    config: &CostConfig,
    graph: &Graph,
    compression: &Compression,
) -> CostReport {
    let params = CostParams::new(config);
    let p = &params;
    let node = p.node;
    let f = node.feature_m;
    let vdd2 = node.vdd * node.vdd;
    // Wires are drawn in the node's wire width: the F of 22 nm (22 nm) per its 40 nm wire.
    let wire_f = node.wire_m * 22.0 / 40.0;
    let c_min = node.cap_gate_per_m * MIN_WIDTH_F * f;
    // Periphery transistors take logic area (standard cells), cells the array's F.
    let transistor_area = TRANSISTOR_F2 * node.logic_f_m * node.logic_f_m;
    let e_full_adder = FULL_ADDER_TRANSISTORS * c_min * vdd2 * ACTIVITY;
    // Conversions speed up with the node as its sensing does.
    let t_conv = match p.adc_type {
        Converter::Sar => f64::from(p.adc_bits + 1) * SAR_CYCLE_S,
        Converter::Flash => SAR_CYCLE_S,
    } * p.speed;
    // The reads the engine simulates: every bit slice of the inputs, every phase.
    let input_cycles = p.reads as usize;
    let cell = p.cell;
    let resistive = cell.resistive();
    let g_mean = if resistive {
        0.5 * (1.0 + 1.0 / cell.on_off) / cell.r_on_ohm
    } else {
        0.0
    };
    // A selected resistive cell conducts through its access transistor, in the low- or
    // high-resistance state alike often; an SRAM cell through its read port, whatever it
    // stores.
    let g_selected = if resistive {
        0.5 / (cell.r_on_ohm + cell.access_ohm)
            + 0.5 / (cell.r_on_ohm * cell.on_off + cell.access_ohm)
    } else {
        1.0 / cell.access_ohm
    };
    let adcs_per_subarray = p.cols.div_ceil(p.cols_per_adc);
    let memory = usize::from(!resistive);
    let column_f = WIRE_CAP_PER_M * p.rows as f64 * cell.height_f * f;
    let row_f =
        p.cols as f64 * (WIRE_CAP_PER_M * cell.width_f * f + ROW_CELL_LOADS[memory] * c_min);
    let flash = Flash::new(p, c_min, column_f, row_f);
    // A synchronous clock: 1.4 x the sensing path, the ADC's sensing beside the row or
    // multiplexer drive, precharge and encoder (0.261 ns at 22 nm, scaled by the node).
    let clock_s = if p.clock_s > 0.0 {
        p.clock_s
    } else {
        let sensing = match p.adc_type {
            Converter::Flash => flash.sense_s(),
            Converter::Sar => t_conv,
        };
        SYNCHRONOUS_MARGIN * (sensing + SENSE_PATH_22NM_S * p.speed)
    };
    let e_flip_flop = (FLIP_FLOP_INPUTS * (INV_GATE_N + INV_GATE_P)
        + FLIP_FLOP_OUTPUTS * (INV_DRAIN_N + INV_DRAIN_P))
        * c_min
        * vdd2;
    let e_register = e_flip_flop * REGISTER_ACTIVITY;
    let muxed = p.cols_per_adc as f64;
    // Per read and multiplexer step: the switch matrix's shift register over all rows is
    // clocked; per selected row, its switch passes the drive and its word line charges.
    let e_row_clock = p.rows as f64 * e_flip_flop;
    let drive = f64::from(p.dac_bits) * vdd2;
    let e_row_switch = drive * ROW_SWITCH_LOADS[memory] * c_min;
    let e_word_line = drive * row_f;
    let e_mux = if p.cols_per_adc > 1 {
        MUX_LOADS * c_min * vdd2
    } else {
        0.0
    };

    let layers = matrix_layers(graph, p, compression);
    let layout = subarray_layout(p, adcs_per_subarray);
    // H-tree wiring of one subarray's inputs and outputs (see `HTREE_WIRE_F`).
    let htree_per_subarray =
        (p.rows + p.cols) as f64 * HTREE_WIRE_F * wire_f * layout.total().sqrt();
    let copies = copies(p, &layers);
    let mut costs = Vec::with_capacity(layers.len());
    for (layer, &copies) in layers.iter().zip(&copies) {
        let cells_per_weight = p.cells_per_weight(layer.weight_bits);
        let shift_add_bits = f64::from(p.adc_bits + p.input_bits + layer.weight_bits);
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
        // Reads of every subarray and of every used column, each over all its row groups.
        let subarray_cycles = products * input_cycles as f64 * (row_tiles * col_tiles) as f64;
        let column_cycles = products * input_cycles as f64 * row_tiles as f64 * cell_cols as f64;
        let column_reads = column_cycles * groups;

        // Energy per image.
        // The flash ADC charges the bit line itself (its column switching); before a SAR ADC
        // each column read charges the bit line (one drain per cell) to the read voltage.
        // The current through resistive cells during a SAR conversion is the k / R_column term
        // of its power fit (SarADC.cpp, R_column scaled to its 0.5 V reference); an SRAM read
        // bit line swings fully from the supply and draws no static current.
        let bit_line = match p.adc_type {
            Converter::Sar => p.rows as f64 * c_min * cell.read_v * cell.read_v,
            Converter::Flash => 0.0,
        };
        let r_column = if resistive {
            let conducting = (rows_active * ACTIVITY).max(1.0);
            0.5 / cell.read_v / (conducting * g_mean)
        } else {
            f64::INFINITY
        };
        let sar_power =
            (node.sar_a_uw * f64::from(p.adc_bits) + node.sar_c_uw) * 1e-6 + node.sar_k / r_column;
        let conversion = match p.adc_type {
            Converter::Sar => sar_power * t_conv,
            Converter::Flash => flash.conversion_j(1.0 / (rows_active * ACTIVITY * g_selected)),
        };
        let rows_selected = rows_used * ACTIVITY;
        let row_steps = subarray_cycles * muxed;
        // A column's row groups are summed in an adder as wide as the sum; the sums of a
        // weight's cells are shifted and added (all but one of its columns add), then the
        // weight's sums of the input bits (one add per weight), each adder with its register.
        let sum_bits = f64::from(p.adc_bits) + groups.log2().ceil();
        let weighted_bits = sum_bits + f64::from(layer.weight_bits);
        let product_bits = weighted_bits + f64::from(p.input_bits);
        let cell_share = 1.0 / cells_per_weight as f64;
        let shift_add_bits_per_column =
            (1.0 - cell_share) * weighted_bits + cell_share * product_bits;
        let acc_bits = shift_add_bits + (row_tiles as f64).log2().ceil();
        let tree_adds = products * layer.cols as f64 * (row_tiles - 1) as f64;
        // A digital weight scale multiplies every tile output's sum once per product; one
        // multiplier per ADC, time-shared as the ADC is.
        let (scale_multiplies, scale_multipliers) = if p.digital_scale {
            (
                products * layer.cols as f64 * row_tiles as f64,
                ((layer.cols * copies * row_tiles).div_ceil(p.cols_per_adc)) as f64,
            )
        } else {
            (0.0, 0.0)
        };
        let multiplier_adders = acc_bits * SCALE_BITS;
        let moved_bits = layer.moved_values as f64 * f64::from(p.input_bits);
        let energy = Components {
            array: row_steps * rows_selected * e_word_line + column_reads * bit_line,
            drivers: row_steps * (e_row_clock + rows_selected * e_row_switch)
                + column_cycles * e_mux,
            adc: column_reads * conversion,
            accumulation: column_cycles
                * ((groups - 1.0) * sum_bits + shift_add_bits_per_column)
                * (e_full_adder + e_register)
                + tree_adds * acc_bits * e_full_adder
                + scale_multiplies * multiplier_adders * e_full_adder,
            // Written once and read once, each access switching a register bit.
            buffer: 2.0 * moved_bits * REGISTER_BIT_TRANSISTORS * c_min * vdd2 * ACTIVITY,
            // Depends on the chip's size: added once every layer's area is known.
            interconnect: 0.0,
            spacing: 0.0,
        };

        // Area: every subarray laid out alike (see `subarray_layout`); adder trees of the
        // row tiles' partial sums and the activation buffers per copy beside them.
        let tree_adders = (layer.cols * copies) as f64 * acc_bits * (row_tiles - 1) as f64;
        let mut area = layout.scaled(subarrays as f64);
        area.interconnect = subarrays as f64 * htree_per_subarray;
        area.accumulation += (tree_adders * (FULL_ADDER_TRANSISTORS + REGISTER_BIT_TRANSISTORS)
            + scale_multipliers * multiplier_adders * FULL_ADDER_TRANSISTORS)
            * transistor_area;
        area.buffer = (copies * (layer.rows + layer.cols)) as f64
            * f64::from(p.input_bits)
            * REGISTER_BIT_TRANSISTORS
            * transistor_area;

        // Latency per image.
        let t_read = clock_s + p.cols_per_adc as f64 * t_conv;
        let tree_depth = (row_tiles as f64).log2().ceil();
        let scale_step = if p.digital_scale { 1.0 } else { 0.0 };
        let t_product = reads_per_product * t_read + (1.0 + tree_depth + scale_step) * clock_s;
        let compute = layer.products.div_ceil(copies) as f64 * t_product;
        // Register-file tile buffers, shared by a layer's copies: partial sums leave two per
        // cycle, each tile holding the outputs of its width; input bits arrive a 32-bit line
        // in and out per cycle, spread over the kernel positions of a novel mapping.
        let tile_outputs = (TILE_WIDTH_SUBARRAYS[usize::from(layer.novel)] * p.cols
            / cells_per_weight)
            .clamp(1, layer.cols);
        let output_buffer = (products * tile_outputs as f64 / 2.0).ceil();
        let spread = if layer.novel {
            (layer.rows / layer.channels_in) as f64
        } else {
            1.0
        };
        let input_buffer =
            (products * layer.rows as f64 * f64::from(p.input_bits) / spread.sqrt() / 64.0).ceil();
        let buffers = (output_buffer + input_buffer) * clock_s;
        let movement = (moved_bits / f64::from(p.bus_bits)).ceil() * clock_s;
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
            latency_s: compute + buffers + movement,
            energy,
            area,
        });
    }

    // The global bus spans the chip: as long as two sides of the rest of it.
    let mut area = Components::default();
    costs.iter().for_each(|l| area.add(&l.area));
    let side = area.total().sqrt();
    // Wires of the H-trees, which leak nothing worth counting beside their repeaters.
    let htree = area.interconnect;
    area.interconnect += f64::from(p.bus_bits) * BUS_PITCH_F * wire_f * 2.0 * side;
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
    let periphery = area.total() - area.array - area.spacing - htree;
    let mut transistors = periphery / transistor_area;
    if !resistive {
        transistors += area.array / (cell.area_f2() * f * f) * 8.0;
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
        // NeuroSim's reported efficiency also divides by its post-layout energy factor
        // (`Param.cpp` `zeta`, 1.22); the energy here is its energy before that factor.
        tops_per_w: ops / (energy.total() + leakage_j) / 1e12,
        tops_per_mm2: tops / (area.total() * 1e6),
    }
}
