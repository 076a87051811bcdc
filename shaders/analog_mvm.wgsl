// Tiled analog MVM with its periphery: one workgroup per (block of ROWS input vectors,
// output group, chip); over input groups, over bound-management rounds: noise management,
// DAC, MVM, output noise, ADC; partial sums of the input groups added in f32. Workgroups
// step over the row blocks by the grid's width, so a dispatch needs no more than 65,535
// of them per dimension.
// Chip instances of one layer run stacked in one dispatch (workgroup z = chip): chip z reads
// its own batch of x, weights and gains at z times their per-chip sizes, writes its own
// batch of y, and draws noise from stream p.stream + z (consecutive instances have
// consecutive streams). The CPU twin runs one chip per call, which is z = 0.
// Twin: src/backend/cpu/analog_mvm.rs (analog_mvm, tile_pass, adc_row).

// Twin of MvmParams in src/backend/params.rs.
struct MvmParams {
    batch: u32,
    n_in: u32,
    n_out: u32,
    in_groups: u32,
    out_groups: u32,
    group_first: u32,
    col_offset: u32,
    chunk_cols: u32,
    row_offset: u32,
    stream: u32,
    key_lo: u32,
    key_hi: u32,
    periphery: Periphery,
}

// Invocations per workgroup.
const WG: u32 = 128u;
// Columns per invocation: WG * COLS = 1024, the largest tile (config tile.cols).
const COLS: u32 = 8u;
// ROWS, the input vectors per workgroup, is prepended by the host (MVM_ROWS in
// src/backend/gpu/shaders.rs), which sizes the dispatch by it.
// Largest tile input count (config tile.rows).
const MAX_K: u32 = 1024u;
const SLOTS: u32 = ROWS * COLS;

@group(0) @binding(0) var<uniform> p: MvmParams;
// Inputs, (chips, batch, n_in).
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Effective weights, transposed: (chips, n_in, chunk_cols).
@group(0) @binding(2) var<storage, read> w_t: array<f32>;
// Digital gain per (chip, input group, output) of the layer: the tile's drift compensation
// times the column's weight scale.
@group(0) @binding(3) var<storage, read> gain: array<f32>;
// Outputs, (chips, batch, n_out).
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> xq: array<f32, 2048>; // ROWS * MAX_K
var<workgroup> red: array<f32, WG>;
var<workgroup> row_alpha: array<f32, ROWS>;
var<workgroup> row_rfac: array<f32, ROWS>;
var<workgroup> row_active: array<u32, ROWS>;
var<workgroup> row_exceeded: array<atomic<u32>, ROWS>;
var<workgroup> any_active: u32;

@compute @workgroup_size(WG)
fn analog_mvm(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) grid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let o = p.group_first + wid.y;
    let c0 = split_start(p.n_out, p.out_groups, o);
    let cols = split_size(p.n_out, p.out_groups, o);
    let key = vec2<u32>(p.key_lo, p.key_hi);
    let chip = wid.z;
    let stream = p.stream + chip;
    let x0 = chip * p.batch * p.n_in;
    let y0 = chip * p.batch * p.n_out;
    let w0 = chip * p.n_in * p.chunk_cols;
    let gain0 = chip * p.in_groups * p.n_out;
    for (var block = wid.x; block * ROWS < p.batch; block += grid.x) {
        let row0 = block * ROWS;
        var out: array<f32, SLOTS>;
        var res: array<f32, SLOTS>;
        for (var s = 0u; s < SLOTS; s++) {
            out[s] = 0.0;
            res[s] = 0.0;
        }

        for (var g = 0u; g < p.in_groups; g++) {
            let k0 = split_start(p.n_in, p.in_groups, g);
            let kn = split_size(p.n_in, p.in_groups, g);

            // Noise management: one scale per input vector and tile.
            for (var r = 0u; r < ROWS; r++) {
                let b = row0 + r;
                var m = 0.0;
                if (b < p.batch) {
                    for (var j = t; j < kn; j += WG) {
                        m = max(m, abs(x[x0 + b * p.n_in + k0 + j]));
                    }
                }
                red[t] = m;
                workgroupBarrier();
                for (var half = WG / 2u; half > 0u; half = half / 2u) {
                    if (t < half) {
                        red[t] = max(red[t], red[t + half]);
                    }
                    workgroupBarrier();
                }
                if (t == 0u) {
                    // Abs-max noise management, or a fixed input scale.
                    var alpha = p.periphery.input_scale;
                    if (alpha <= 0.0) {
                        alpha = red[0];
                    }
                    row_alpha[r] = alpha;
                    row_rfac[r] = 1.0;
                    // An all-zero input vector gives zero output: no conversion happens.
                    row_active[r] = select(0u, 1u, b < p.batch && alpha > 0.0);
                }
                workgroupBarrier();
            }

            for (var bm_round = 0u; bm_round < p.periphery.max_rounds; bm_round++) {
                // DAC of the active rows.
                for (var r = 0u; r < ROWS; r++) {
                    if (row_active[r] == 1u) {
                        let scale = row_alpha[r] * row_rfac[r];
                        let b = row0 + r;
                        for (var j = t; j < kn; j += WG) {
                            xq[r * MAX_K + j] = quantize(x[x0 + b * p.n_in + k0 + j] / scale, p.periphery.dac_step, p.periphery.dac_bound);
                        }
                    }
                }
                if (t == 0u) {
                    for (var r = 0u; r < ROWS; r++) {
                        atomicStore(&row_exceeded[r], 0u);
                    }
                }
                workgroupBarrier();

                // Analog products of this invocation's columns.
                var acc: array<f32, SLOTS>;
                var acc_abs: array<f32, SLOTS>;
                // IR drop: total currents, and products with place-weighted inputs.
                var acc_cur: array<f32, SLOTS>;
                var acc_ir: array<f32, SLOTS>;
                for (var s = 0u; s < SLOTS; s++) {
                    acc[s] = 0.0;
                    acc_abs[s] = 0.0;
                    acc_cur[s] = 0.0;
                    acc_ir[s] = 0.0;
                }
                for (var j = 0u; j < kn; j++) {
                    let w_row = w0 + (k0 + j) * p.chunk_cols + c0 - p.col_offset;
                    let place = ir_drop_row(j, kn);
                    for (var r = 0u; r < ROWS; r++) {
                        let xv = xq[r * MAX_K + j];
                        for (var c = 0u; c < COLS; c++) {
                            let col = t + c * WG;
                            if (col < cols) {
                                let wv = w_t[w_row + col];
                                acc[r * COLS + c] = acc[r * COLS + c] + wv * xv;
                                if (p.periphery.w_noise > 0.0) {
                                    acc_abs[r * COLS + c] = acc_abs[r * COLS + c] + abs(wv) * (xv * xv);
                                }
                                if (p.periphery.ir_drop > 0.0) {
                                    acc_cur[r * COLS + c] = acc_cur[r * COLS + c] + abs(wv) * abs(xv);
                                    acc_ir[r * COLS + c] = acc_ir[r * COLS + c] + wv * (xv * place);
                                }
                            }
                        }
                    }
                }

                // Output noise, ADC, bound check.
                for (var r = 0u; r < ROWS; r++) {
                    if (row_active[r] == 1u) {
                        let row_global = p.row_offset + row0 + r;
                        var exceeded = false;
                        for (var c = 0u; c < COLS; c++) {
                            let col = t + c * WG;
                            if (col < cols) {
                                let gc = c0 + col;
                                var v = acc[r * COLS + c];
                                if (p.periphery.ir_drop > 0.0) {
                                    v = v - p.periphery.ir_drop * ir_drop_factor(p.periphery, kn, acc_cur[r * COLS + c]) * acc_ir[r * COLS + c];
                                }
                                if (p.periphery.out_noise > 0.0) {
                                    let n = normals4(vec4<u32>(gc >> 2u, row_global, stream, noise_word(PURPOSE_OUT_NOISE, g, bm_round)), key);
                                    v = v + p.periphery.out_noise * n[gc & 3u];
                                }
                                if (p.periphery.w_noise > 0.0) {
                                    let n = normals4(vec4<u32>(gc >> 2u, row_global, stream, noise_word(PURPOSE_WEIGHT_NOISE, g, bm_round)), key);
                                    v = v + p.periphery.w_noise * sqrt(acc_abs[r * COLS + c]) * n[gc & 3u];
                                }
                                let q = round_to_step(v, p.periphery.adc_step);
                                exceeded = exceeded || abs(q) > p.periphery.adc_bound;
                                res[r * COLS + c] = clamp(q, -p.periphery.adc_bound, p.periphery.adc_bound);
                            }
                        }
                        if (exceeded) {
                            atomicOr(&row_exceeded[r], 1u);
                        }
                    }
                }
                workgroupBarrier();

                // Bound management: rows that saturated repeat with half the input scale.
                if (t == 0u) {
                    var again = 0u;
                    for (var r = 0u; r < ROWS; r++) {
                        if (row_active[r] == 1u) {
                            if (atomicLoad(&row_exceeded[r]) == 1u && bm_round + 1u < p.periphery.max_rounds) {
                                row_rfac[r] = row_rfac[r] * 2.0;
                                again = 1u;
                            } else {
                                row_active[r] = 0u;
                            }
                        }
                    }
                    any_active = again;
                }
                if (workgroupUniformLoad(&any_active) == 0u) {
                    break;
                }
            }

            // Digital partial sum of this tile.
            let gain_g = gain0 + g * p.n_out + c0;
            for (var r = 0u; r < ROWS; r++) {
                if (row0 + r < p.batch && row_alpha[r] > 0.0) {
                    let back = row_alpha[r] * row_rfac[r];
                    for (var c = 0u; c < COLS; c++) {
                        let col = t + c * WG;
                        if (col < cols) {
                            out[r * COLS + c] = out[r * COLS + c] + res[r * COLS + c] * (back * gain[gain_g + col]);
                        }
                    }
                }
            }
            workgroupBarrier();
        }

        for (var r = 0u; r < ROWS; r++) {
            let b = row0 + r;
            if (b < p.batch) {
                for (var c = 0u; c < COLS; c++) {
                    let col = t + c * WG;
                    if (col < cols) {
                        y[y0 + b * p.n_out + c0 + col] = out[r * COLS + c];
                    }
                }
            }
        }
    }
}
