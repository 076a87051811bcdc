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
//! Area: every subarray is laid out as NeuroSim lays it out, periphery strips along the
//! cell array inside an enclosing rectangle ([`subarray_layout`]).
//!
//! Latency (how layers pipeline): all layers work at once on successive images; a layer's
//! time per image is its products per copy times the time of one product, plus its partial
//! sums and inputs passing the register-file tile buffers (shared by the copies, so not
//! divided among them), plus moving its input and output maps over the global bus; the
//! chip takes a new image every
//! `max` over layers of that time, which sets throughput (TOPS = 2 MACs per image / period).
//! Energy per image is the sum over layers, with the leakage of the whole chip over one
//! period.

use super::{Converter, CostParams};
use crate::network::graph::{Graph, Op};
use serde::Serialize;

/// A level shifter of a resistive array's write path (NeuroSim V1.4 `LevelShifter.cpp`,
/// validated layout): 70F high, 205.2F wide (IO transistors drawn 2.5x), times its 1.44
/// wiring factor, in F^2. One per row on the word and bit lines, one per column on the
/// source lines.
const LEVEL_SHIFTER_F2: f64 = 70.0 * 205.2 * 1.44;
/// Row switch matrix per row (transmission gates and a flip-flop; NeuroSim's
/// `NewSwitchMatrix` at 22 nm sizing), F^2: resistive arrays, SRAM.
const ROW_SWITCH_F2: [f64; 2] = [4860.0, 3650.0];
/// Source-line switch matrix per column of a resistive array (minimum pass gates and a
/// flip-flop), F^2.
const COLUMN_SWITCH_F2: f64 = 3220.0;
/// SRAM precharger plus write driver per column, F^2.
const SRAM_COLUMN_F2: f64 = 2.0 * 2354.0;
/// Height of the column multiplexer strip (F): set by its decoder, whose final drivers are
/// sized 110x at 22 nm (NeuroSim `sizingfactor_MUX`).
const MUX_STRIP_F: f64 = 224.0;
/// Width of the multiplexer decoder beside the array (F).
const MUX_DECODER_F: f64 = 439.0;
/// One comparator of a flash ADC (a current sense amplifier of 9 minimum NMOS), F^2.
const COMPARATOR_F2: f64 = 1916.0;
/// Height of the flash ADC's thermometer-to-binary encoder strip (F).
const ENCODER_STRIP_F: f64 = 305.0;
/// A D flip-flop, 91.2F x 28F.
const DFF_F2: f64 = 91.2 * 28.0;
/// One full-adder bit built of 9 NAND2 gates, F^2.
const ADDER_BIT_F2: f64 = 2872.0;
/// Comparator switching per conversion step, in minimum gate capacitances.
const COMPARATOR_GATES: f64 = 12.0;
/// Subarrays across a tile's width: 8 with conventional mapping (a 1024-column tile of
/// 128-column subarrays), 4 with NeuroSim's novel convolution mapping (a 512-column PE per
/// kernel position).
const TILE_WIDTH_SUBARRAYS: [usize; 2] = [8, 4];

/// Minimum transistor width in F (NeuroSim's `MIN_NMOS_SIZE`).
const MIN_WIDTH_F: f64 = 2.0;
/// Footprint of a minimum transistor with its contacts in F^2: half the 4F x 12F 1T1R cell,
/// which is one access transistor and its via.
const TRANSISTOR_F2: f64 = 24.0;
/// Transistors of a mirror full adder.
const FULL_ADDER_TRANSISTORS: f64 = 28.0;
/// Transistors of a flip-flop (a register or buffer bit).
const REGISTER_BIT_TRANSISTORS: f64 = 20.0;
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
    /// Layout space left empty where a subarray's periphery strips of different lengths
    /// meet (its enclosing rectangle less its circuits).
    pub spacing: f64,
}

impl Components {
    /// Sum of all components.
    pub fn total(&self) -> f64 {
        self.array
            + self.drivers
            + self.adc
            + self.accumulation
            + self.buffer
            + self.interconnect
            + self.spacing
    }

    /// Every component times `factor`.
    fn scaled(&self, factor: f64) -> Components {
        Components {
            array: self.array * factor,
            drivers: self.drivers * factor,
            adc: self.adc * factor,
            accumulation: self.accumulation * factor,
            buffer: self.buffer * factor,
            interconnect: self.interconnect * factor,
            spacing: self.spacing * factor,
        }
    }

    fn add(&mut self, other: &Components) {
        self.array += other.array;
        self.drivers += other.drivers;
        self.adc += other.adc;
        self.accumulation += other.accumulation;
        self.buffer += other.buffer;
        self.interconnect += other.interconnect;
        self.spacing += other.spacing;
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
    /// Mapped one kernel position per processing element (NeuroSim's novel mapping): a
    /// convolution whose input channels fill a subarray's rows.
    novel: bool,
    /// Input channels (rows per kernel position).
    channels_in: usize,
}

fn matrix_layers(graph: &Graph, params_rows: usize) -> Vec<MatrixLayer> {
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
                novel: conv && rows > c && c >= params_rows,
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

/// The area of one subarray as NeuroSim lays it out: periphery in strips along the cell
/// array, row circuits beside it (as tall as the array) and column circuits below it (as
/// wide as the array); the subarray takes the rectangle enclosing them all.
///
/// Beside: row switch matrices and, for resistive cells, word- and bit-line level
/// shifters; at least as wide as the column multiplexer's decoder. Below: source-line
/// level shifters and switches (resistive) or prechargers and write drivers (SRAM), the
/// multiplexer, the ADCs (SAR, or flash with its reference columns and encoder) and the
/// shift-adders of weight and input bits.
fn subarray_layout(p: &CostParams, adcs: usize) -> Components {
    let f = p.node.feature_m;
    let f2 = f * f;
    let cell = p.cell;
    let resistive = cell.resistive();
    let array_w = p.cols as f64 * cell.width_f * f;
    let array_h = p.rows as f64 * cell.height_f * f;
    let adcs = adcs as f64;
    let muxed = p.cols_per_adc > 1;

    let row_f2 = p.rows as f64
        * (ROW_SWITCH_F2[usize::from(!resistive)]
            + if resistive {
                2.0 * LEVEL_SHIFTER_F2
            } else {
                0.0
            });
    let decoder_w = if muxed { MUX_DECODER_F * f } else { 0.0 };
    let beside_w = (row_f2 * f2 / array_h).max(decoder_w);

    let column_f2 = p.cols as f64
        * if resistive {
            LEVEL_SHIFTER_F2 + COLUMN_SWITCH_F2
        } else {
            SRAM_COLUMN_F2
        };
    let levels = f64::from((1u32 << p.adc_bits) - 1);
    let (adc_f2, encoder_h) = match p.adc_type {
        Converter::Sar => (
            adcs * TRANSISTOR_F2 * (269.0 + 209.0 + f64::from(p.adc_bits - 1) * (109.0 + 73.0)),
            0.0,
        ),
        // One reference column per comparator level, shared by as many sense amplifiers
        // as there are levels (NeuroSim's dummy-column sharing).
        Converter::Flash => (
            adcs * levels * COMPARATOR_F2
                + adcs * levels / (levels + 1.0) * p.rows as f64 * cell.area_f2(),
            ENCODER_STRIP_F * f,
        ),
    };
    let weight_shift =
        f64::from(p.adc_bits + p.weight_bits) * DFF_F2 + f64::from(p.adc_bits) * ADDER_BIT_F2;
    let input_shift = f64::from(p.adc_bits + p.weight_bits + p.input_bits) * DFF_F2
        + f64::from(p.adc_bits + p.weight_bits) * ADDER_BIT_F2;
    let shift_add_f2 = adcs * (weight_shift + input_shift);
    let mux_h = if muxed { MUX_STRIP_F * f } else { 0.0 };
    let below_h = (column_f2 + adc_f2 + shift_add_f2) * f2 / array_w + mux_h + encoder_h;

    let mut area = Components {
        array: array_w * array_h,
        drivers: (row_f2 + column_f2) * f2 + mux_h * (array_w + decoder_w),
        adc: adc_f2 * f2 + encoder_h * array_w,
        accumulation: shift_add_f2 * f2,
        ..Components::default()
    };
    let rectangle = (beside_w + array_w) * (array_h + below_h);
    area.spacing = (rectangle - area.total()).max(0.0);
    area
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
    let t_conv = match p.adc_type {
        Converter::Sar => f64::from(p.adc_bits + 1) * SAR_CYCLE_S,
        Converter::Flash => SAR_CYCLE_S,
    };
    let levels = f64::from((1u32 << p.adc_bits) - 1);
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

    let layers = matrix_layers(graph, p.rows);
    let layout = subarray_layout(p, adcs_per_subarray);
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
        let column_conductance = if resistive {
            (rows_active * ACTIVITY).max(1.0) * g_mean
        } else {
            0.0
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
            adc: column_reads
                * match p.adc_type {
                    Converter::Sar => sar_power * t_conv,
                    Converter::Flash => {
                        levels * COMPARATOR_GATES * c_min * vdd2
                            + cell.read_v * cell.read_v * column_conductance * t_conv
                    }
                },
            accumulation: (column_reads * shift_add_bits + tree_adds * acc_bits) * e_full_adder,
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
        area.accumulation +=
            tree_adders * (FULL_ADDER_TRANSISTORS + REGISTER_BIT_TRANSISTORS) * transistor_area;
        area.buffer = (copies * (layer.rows + layer.cols)) as f64
            * f64::from(p.input_bits)
            * REGISTER_BIT_TRANSISTORS
            * transistor_area;

        // Latency per image.
        let t_read = p.clock_s + p.cols_per_adc as f64 * t_conv;
        let tree_depth = (row_tiles as f64).log2().ceil();
        let t_product = reads_per_product * t_read + (1.0 + tree_depth) * p.clock_s;
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
        let buffers = (output_buffer + input_buffer) * p.clock_s;
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
            latency_s: compute + buffers + movement,
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
    let periphery = area.total() - area.array - area.spacing;
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
        tops_per_w: ops / (energy.total() + leakage_j) / 1e12,
        tops_per_mm2: tops / (area.total() * 1e6),
    }
}
