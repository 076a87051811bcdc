// Identity read-out of the tiles for global drift compensation: one invocation per
// (output group, input column j); e_j goes through DAC, tile, output noise, ADC and bound
// management, and |outputs| of the tile are summed.
// Twin: src/backend/cpu/gdc_readout.rs (gdc_readout, readout_column).

// Twin of ReadoutParams in src/backend/params.rs.
struct ReadoutParams {
    n_in: u32,
    n_out: u32,
    in_groups: u32,
    out_groups: u32,
    group_first: u32,
    group_count: u32,
    row_offset: u32,
    w_row_stride: u32,
    w_col_stride: u32,
    stream: u32,
    key_lo: u32,
    key_hi: u32,
    purpose: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    periphery: Periphery,
}

// WORKGROUP, the invocations per workgroup, is prepended by the host (READOUT_WORKGROUP in
// src/backend/gpu/shaders.rs), which sizes the dispatch by it.
// Twin of READOUT_WEIGHT_NOISE.
const READOUT_WEIGHT_NOISE: u32 = 65536u;

@group(0) @binding(0) var<uniform> p: ReadoutParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

fn readout_column(o: u32, j: u32) -> f32 {
    let key = vec2<u32>(p.key_lo, p.key_hi);
    let c0 = split_start(p.n_out, p.out_groups, o);
    let cols = split_size(p.n_out, p.out_groups, o);
    // Column j's place in its tile, for the IR drop.
    let g = group_of(j, p.n_in, p.in_groups);
    let kn = split_size(p.n_in, p.in_groups, g);
    let place = ir_drop_row(j - split_start(p.n_in, p.in_groups, g), kn);
    var rfac = 1.0;
    var sum = 0.0;
    for (var bm_round = 0u; bm_round < p.periphery.max_rounds; bm_round++) {
        let xq = quantize(1.0 / rfac, p.periphery.dac_step, p.periphery.dac_bound);
        var exceeded = false;
        sum = 0.0;
        for (var i = c0; i < c0 + cols; i++) {
            let wij = w[(i - p.row_offset) * p.w_row_stride + j * p.w_col_stride];
            var y = wij * xq;
            if (p.periphery.ir_drop > 0.0) {
                y = y - p.periphery.ir_drop * ir_drop_factor(p.periphery, kn, abs(wij) * abs(xq)) * (wij * (xq * place));
            }
            if (p.periphery.out_noise > 0.0) {
                y = y + p.periphery.out_noise * normals4(vec4<u32>(i >> 2u, j, p.stream, p.purpose | (bm_round << 24u)), key)[i & 3u];
            }
            if (p.periphery.w_noise > 0.0) {
                let word = p.purpose | READOUT_WEIGHT_NOISE | (bm_round << 24u);
                y = y + p.periphery.w_noise * sqrt(abs(wij) * xq * xq) * normals4(vec4<u32>(i >> 2u, j, p.stream, word), key)[i & 3u];
            }
            let q = round_to_step(y, p.periphery.adc_step);
            exceeded = exceeded || abs(q) > p.periphery.adc_bound;
            sum = sum + abs(clamp(q, -p.periphery.adc_bound, p.periphery.adc_bound));
        }
        if (!exceeded || bm_round + 1u == p.periphery.max_rounds) {
            break;
        }
        rfac = rfac * 2.0;
    }
    return sum * rfac;
}

@compute @workgroup_size(WORKGROUP)
fn gdc_readout(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let index = (wid.y * nwg.x + wid.x) * WORKGROUP + lid;
    if (index >= p.group_count * p.n_in) {
        return;
    }
    let k = index / p.n_in;
    let j = index % p.n_in;
    sums[index] = readout_column(p.group_first + k, j);
}
