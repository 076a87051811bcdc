// The tiled MVM of the sliced chip: one workgroup per (input vector, output group and block
// of SWG columns, chip), one invocation per column;
// per tile, noise management and the DAC (integer magnitudes and signs in workgroup memory),
// then per column, over row groups, phases, reads and weight slices: the conversion's analog
// partial sum, output and weight read noise, and the ADC over its range, shifted and added
// digitally; an offset encoding's offset taken out and the tile's output scale applied.
// Workgroups step over the vectors by the grid's width. Chip z reads its own x, weights and
// output scales at z times their per-chip sizes and draws from stream p.stream + z.
// Twin: src/backend/cpu/sliced_mvm.rs (sliced_mvm, tile_pass, conversion_word, adc_convert,
// dac_digits, slice_factor, read_factor, input_digit).

// Twin of SlicedParams in src/backend/params.rs.
struct SlicedParams {
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
    rows_parallel: u32,
    row_groups: u32,
    slices: u32,
    bits_per_slice: u32,
    weight_bits: u32,
    offset_encoding: u32,
    magnitude_bits: u32,
    bits_per_read: u32,
    reads: u32,
    phases: u32,
    adc_levels: u32,
    nm_abs_max: u32,
    input_bound: f32,
    out_noise: f32,
    w_noise: f32,
    conductance_range: f32,
}

// Prepended by the host (src/backend/gpu/shaders.rs): SWG, the invocations (columns) per
// workgroup; SMAX_K, the largest tile's rows.

@group(0) @binding(0) var<uniform> p: SlicedParams;
// Inputs, (chips, batch, n_in).
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Effective weights of this column chunk, (chips, slices, n_in, chunk_cols).
@group(0) @binding(2) var<storage, read> w_t: array<f32>;
// Output scale per (chip, input group, output).
@group(0) @binding(3) var<storage, read> out_scale: array<f32>;
// ADC half-range per (layer row group, slice), the same for every chip.
@group(0) @binding(4) var<storage, read> ranges: array<f32>;
// Outputs, (chips, batch, n_out).
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> in_n: array<u32, SMAX_K>;
var<workgroup> in_sign: array<f32, SMAX_K>;
var<workgroup> in_value: array<f32, SMAX_K>;
var<workgroup> red: array<f32, SWG>;
var<workgroup> tile_scale: f32;
var<workgroup> tile_sum_xq: f32;

// Twin of conversion_word.
fn conversion_word(purpose: u32, layer_group: u32, read: u32, phase: u32, slice: u32) -> u32 {
    return purpose | (phase << 4u) | (slice << 5u) | (read << 9u) | (layer_group << 13u);
}

// Twin of adc_convert: clipped, then rounded half to even on the grid from -hi.
fn adc_convert(v: f32, hi: f32, levels: u32) -> f32 {
    if (levels == 0u) {
        return v;
    }
    let c = clamp(v, -hi, hi);
    let q = f32(levels - 1u) / (2.0 * hi);
    return round((c + hi) * q) / q - hi;
}

// Twin of dac_digits: the integer magnitude and the sign of a scaled input.
fn dac_digits(v: f32, magnitude_bits: u32) -> vec2<f32> {
    let q = f32((1u << magnitude_bits) - 1u);
    let level = round((clamp(v, -1.0, 1.0) + 1.0) * q) - q;
    return vec2<f32>(abs(level), sign(level));
}

// Twin of slice_factor.
fn slice_factor(slice: u32) -> f32 {
    if (p.bits_per_slice == 0u) {
        return 1.0;
    }
    let levels = f32((1u << p.bits_per_slice) - 1u);
    return f32(1u << (slice * p.bits_per_slice)) * levels;
}

// Twin of read_factor.
fn read_factor(read: u32) -> f32 {
    if (p.magnitude_bits == 0u) {
        return 1.0;
    }
    let digit = f32((1u << p.bits_per_read) - 1u);
    let full = f32((1u << p.magnitude_bits) - 1u);
    return f32(1u << (read * p.bits_per_read)) * digit / full;
}

// Twin of input_digit: the digit input i applies in this read and phase.
fn input_digit(i: u32, read: u32, phase: u32) -> f32 {
    var magnitude = 0.0;
    var s = 0.0;
    if (p.magnitude_bits == 0u) {
        let v = in_value[i];
        magnitude = abs(v);
        s = sign(v);
    } else {
        let mask = (1u << p.bits_per_read) - 1u;
        let digit = (in_n[i] >> (read * p.bits_per_read)) & mask;
        magnitude = f32(digit) / f32(mask);
        s = in_sign[i];
    }
    if (p.phases == 1u) {
        return s * magnitude;
    }
    if ((phase == 0u && s > 0.0) || (phase == 1u && s < 0.0)) {
        return magnitude;
    }
    return 0.0;
}

@compute @workgroup_size(SWG)
fn sliced_mvm(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) grid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    // Workgroups along y: (output group in this chunk) x (column block of SWG columns); the
    // host counts the blocks the same way.
    let col_blocks = (split_size(p.n_out, p.out_groups, 0u) + SWG - 1u) / SWG;
    let o = p.group_first + wid.y / col_blocks;
    let col = (wid.y % col_blocks) * SWG + t;
    let c0 = split_start(p.n_out, p.out_groups, o);
    let cols = split_size(p.n_out, p.out_groups, o);
    let key = vec2<u32>(p.key_lo, p.key_hi);
    let chip = wid.z;
    let stream = p.stream + chip;
    let x0 = chip * p.batch * p.n_in;
    let y0 = chip * p.batch * p.n_out;
    let w0 = chip * p.slices * p.n_in * p.chunk_cols;
    let scale0 = chip * p.in_groups * p.n_out;
    let full = f32((1u << p.magnitude_bits) - 1u);
    var offset = 0.0;
    if (p.offset_encoding == 1u) {
        offset = f32((1u << (p.weight_bits - 1u)) - 1u) * p.conductance_range;
    }
    for (var b = wid.x; b < p.batch; b += grid.x) {
        let row_id = p.row_offset + b;
        var out = 0.0;
        for (var g = 0u; g < p.in_groups; g++) {
            let k0 = split_start(p.n_in, p.in_groups, g);
            let kn = split_size(p.n_in, p.in_groups, g);

            // Noise management: one scale per vector and tile.
            var m = 0.0;
            for (var i = t; i < kn; i += SWG) {
                m = max(m, abs(x[x0 + b * p.n_in + k0 + i]));
            }
            red[t] = m;
            workgroupBarrier();
            for (var half = SWG / 2u; half > 0u; half = half / 2u) {
                if (t < half) {
                    red[t] = max(red[t], red[t + half]);
                }
                workgroupBarrier();
            }
            if (t == 0u) {
                if (p.nm_abs_max == 1u) {
                    tile_scale = red[0];
                } else {
                    tile_scale = p.input_bound;
                }
            }
            workgroupBarrier();
            let scale = workgroupUniformLoad(&tile_scale);

            // The DAC: integer magnitudes and signs (or scaled values of an ideal DAC).
            for (var i = t; i < kn; i += SWG) {
                var v = 0.0;
                if (scale > 0.0) {
                    v = x[x0 + b * p.n_in + k0 + i] / scale;
                }
                if (p.magnitude_bits == 0u) {
                    in_value[i] = v;
                    in_n[i] = 0u;
                    in_sign[i] = 0.0;
                } else {
                    let d = dac_digits(v, p.magnitude_bits);
                    in_n[i] = u32(d.x);
                    in_sign[i] = d.y;
                    in_value[i] = 0.0;
                }
            }
            workgroupBarrier();
            if (t == 0u) {
                // In input order, as the CPU sums them.
                var sum = 0.0;
                for (var i = 0u; i < kn; i++) {
                    if (p.magnitude_bits == 0u) {
                        sum = sum + in_value[i];
                    } else {
                        sum = sum + in_sign[i] * f32(in_n[i]) / full;
                    }
                }
                tile_sum_xq = sum;
            }
            let sum_xq = workgroupUniformLoad(&tile_sum_xq);

            if (scale > 0.0) {
                let groups = (kn + p.rows_parallel - 1u) / p.rows_parallel;
                if (col < cols) {
                    let gc = c0 + col;
                    let back = out_scale[scale0 + g * p.n_out + gc] * scale;
                    let wcol = gc - p.col_offset;
                    var acc = 0.0;
                    for (var r = 0u; r < groups; r++) {
                        let a = split_start(kn, groups, r);
                        let len = split_size(kn, groups, r);
                        let layer_group = g * p.row_groups + r;
                        for (var phase = 0u; phase < p.phases; phase++) {
                            var phase_sign = 1.0;
                            if (phase == 1u) {
                                phase_sign = -1.0;
                            }
                            for (var read = 0u; read < p.reads; read++) {
                                let factor = phase_sign * read_factor(read);
                                for (var slice = 0u; slice < p.slices; slice++) {
                                    var v = 0.0;
                                    var v_abs = 0.0;
                                    let ws = w0 + slice * p.n_in * p.chunk_cols;
                                    for (var i = a; i < a + len; i++) {
                                        let d = input_digit(i, read, phase);
                                        let wv = w_t[ws + (k0 + i) * p.chunk_cols + wcol];
                                        v = v + d * wv;
                                        v_abs = v_abs + abs(wv) * d * d;
                                    }
                                    v = v * p.conductance_range;
                                    if (p.out_noise > 0.0) {
                                        let word = conversion_word(PURPOSE_OUT_NOISE, layer_group, read, phase, slice);
                                        v = v + p.out_noise * normals4(vec4<u32>(gc >> 2u, row_id, stream, word), key)[gc & 3u];
                                    }
                                    if (p.w_noise > 0.0) {
                                        let word = conversion_word(PURPOSE_WEIGHT_NOISE, layer_group, read, phase, slice);
                                        v = v + p.w_noise * sqrt(v_abs) * normals4(vec4<u32>(gc >> 2u, row_id, stream, word), key)[gc & 3u];
                                    }
                                    let hi = ranges[layer_group * p.slices + slice];
                                    acc = acc + factor * slice_factor(slice) * adc_convert(v, hi, p.adc_levels);
                                }
                            }
                        }
                    }
                    out = out + (acc - offset * sum_xq) * back;
                }
            }
            workgroupBarrier();
        }
        if (col < cols) {
            y[y0 + b * p.n_out + c0 + col] = out;
        }
    }
}
