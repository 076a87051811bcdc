// Programming a chip instance of a layer, one invocation per weight of every slice (the
// weights hold p.slices matrices of p.n_rows rows one after another; slice s draws with
// counter word 1 = s). With p.one_sided the negative device is absent (offset encoding).
// Twin: src/backend/cpu/program_conductances.rs (program_conductances, program_one) and
// src/physics/device.rs (program_device, drift_device, apply_stuck, quantize_conductance, pcm_*).

// Twin of ProgramParams in src/backend/params.rs.
struct ProgramParams {
    n_rows: u32,
    n_in: u32,
    row_offset: u32,
    n_out: u32,
    in_groups: u32,
    out_groups: u32,
    w_now_transposed: u32,
    stream: u32,
    key_lo: u32,
    key_hi: u32,
    weight_levels: u32,
    model: u32,
    drifts: u32,
    generic_proportional: u32,
    g_max: f32,
    prog_noise_scale: f32,
    read_noise_scale: f32,
    drift_scale: f32,
    drift_log_time: f32,
    read_time_factor: f32,
    stuck_on: f32,
    stuck_off: f32,
    generic_sigma: f32,
    slices: u32,
    one_sided: u32,
    reram_time: u32,
    pad2: u32,
}

const MODEL_IDEAL: u32 = 0u;
const MODEL_PCM: u32 = 1u;
const MODEL_GENERIC: u32 = 2u;
const MODEL_RERAM_WAN2022: u32 = 3u;

// Wan et al. 2022 ReRAM spread (uS) after 1 s (programming), 1 day and 2 days: coefficients
// of 1, G/g_max, ..., (G/g_max)^4. Twin of WAN2022_COEFF in src/physics/device.rs.
const WAN2022_COEFF = array<array<f32, 5>, 3>(
    array<f32, 5>(0.348, 16.030, -43.853, 45.393, -16.815),
    array<f32, 5>(0.701, 22.086, -50.773, 47.095, -16.458),
    array<f32, 5>(0.782, 20.274, -43.507, 37.062, -11.934),
);

fn wan2022_sigma(g: f32, time: u32) -> f32 {
    let gh = g / p.g_max;
    // A local copy: arrays are indexed at run time through memory.
    var table = WAN2022_COEFF;
    let c = table[time];
    return c[0] + gh * (c[1] + gh * (c[2] + gh * (c[3] + gh * c[4])));
}
// WORKGROUP, the invocations per workgroup, is prepended by the host (PROGRAM_WORKGROUP in
// src/backend/gpu/shaders.rs), which sizes the dispatch by it.

@group(0) @binding(0) var<uniform> p: ProgramParams;
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> g_pos: array<f32>;
@group(0) @binding(4) var<storage, read_write> g_neg: array<f32>;
@group(0) @binding(5) var<storage, read_write> w_prog: array<f32>;
@group(0) @binding(6) var<storage, read_write> w_now: array<f32>;

fn pcm_prog_sigma(g: f32) -> f32 {
    let gh = g / p.g_max;
    return (0.26348 + 1.965 * gh + -1.1731 * gh * gh) * (p.g_max / 25.0);
}

fn program_device(target_g: f32, z: f32) -> f32 {
    var sigma = 0.0;
    if (p.model == MODEL_PCM) {
        sigma = pcm_prog_sigma(target_g);
    } else if (p.model == MODEL_GENERIC) {
        if (p.generic_proportional == 1u) {
            sigma = p.generic_sigma * target_g;
        } else {
            sigma = p.generic_sigma * p.g_max;
        }
    } else if (p.model == MODEL_RERAM_WAN2022) {
        sigma = wan2022_sigma(target_g, 0u);
    } else {
        return target_g;
    }
    return max(target_g + p.prog_noise_scale * sigma * z, 0.0);
}

fn drift_device(target_g: f32, g_prog: f32, z_nu: f32, z_read: f32) -> f32 {
    if (p.drifts == 0u) {
        return g_prog;
    }
    if (p.model == MODEL_RERAM_WAN2022) {
        let sigma = wan2022_sigma(target_g, p.reram_time);
        return max(target_g + p.prog_noise_scale * sigma * z_nu, 0.0);
    }
    if (p.model != MODEL_PCM) {
        return g_prog;
    }
    let ln_gh = ln_poly(max(target_g / p.g_max, 1e-7));
    let mu = clamp(-0.0155 * ln_gh + 0.0244, 0.049, 0.1);
    let sigma = clamp(-0.0125 * ln_gh - 0.0059, 0.008, 0.045);
    let nu = abs(mu + sigma * z_nu) * p.drift_scale;
    let g_drift = g_prog * exp(-nu * p.drift_log_time);
    let gh = g_prog / p.g_max;
    var power = 0.0;
    if (gh > 0.0) {
        power = exp(0.65 * ln_poly(gh));
    }
    let q = min(0.0088 / max(power, 1e-3), 0.2);
    return max(g_drift + abs(g_drift) * q * p.read_time_factor * p.read_noise_scale * z_read, 0.0);
}

fn apply_stuck(g: f32, u: f32) -> f32 {
    if (u < p.stuck_off) {
        return 0.0;
    } else if (u < p.stuck_off + p.stuck_on) {
        return p.g_max;
    }
    return g;
}

fn quantize_conductance(g: f32) -> f32 {
    if (p.weight_levels < 2u) {
        return g;
    }
    let step = p.g_max / f32(p.weight_levels - 1u);
    return round(g / step) * step;
}

// One device from target to (programmed, at inference); the draws are lanes of the
// element's Philox blocks.
fn program_one(target_g: f32, z_prog: f32, z_nu: f32, z_read: f32, u: f32) -> vec2<f32> {
    let stuck = u < p.stuck_off + p.stuck_on;
    let g_prog = apply_stuck(program_device(target_g, z_prog), u);
    if (stuck) {
        return vec2<f32>(g_prog, g_prog);
    }
    return vec2<f32>(g_prog, drift_device(target_g, g_prog, z_nu, z_read));
}

@compute @workgroup_size(WORKGROUP)
fn program_conductances(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let index = (wid.y * nwg.x + wid.x) * WORKGROUP + lid;
    let per_slice = p.n_rows * p.n_in;
    if (index >= p.slices * per_slice) {
        return;
    }
    let slice = index / per_slice;
    let local = index % per_slice;
    let i = local / p.n_in;
    let j = local % p.n_in;
    let row = p.row_offset + i;
    let o = group_of(row, p.n_out, p.out_groups);
    let g = group_of(j, p.n_in, p.in_groups);
    let scale = scales[g * p.out_groups + o];
    let e = row * p.n_in + j;
    let key = vec2<u32>(p.key_lo, p.key_hi);
    let block = e >> 2u;
    let lane = e & 3u;
    var z_prog = vec2<f32>(0.0, 0.0);
    var z_nu = vec2<f32>(0.0, 0.0);
    var z_read = vec2<f32>(0.0, 0.0);
    var u = vec2<f32>(0.0, 0.0);
    if (p.model != MODEL_IDEAL) {
        z_prog = vec2<f32>(normals4(vec4<u32>(block, slice, p.stream, PURPOSE_PROG_POS), key)[lane],
                           normals4(vec4<u32>(block, slice, p.stream, PURPOSE_PROG_NEG), key)[lane]);
    }
    if (p.drifts == 1u) {
        z_nu = vec2<f32>(normals4(vec4<u32>(block, slice, p.stream, PURPOSE_DRIFT_POS), key)[lane],
                         normals4(vec4<u32>(block, slice, p.stream, PURPOSE_DRIFT_NEG), key)[lane]);
        z_read = vec2<f32>(normals4(vec4<u32>(block, slice, p.stream, PURPOSE_READ_POS), key)[lane],
                           normals4(vec4<u32>(block, slice, p.stream, PURPOSE_READ_NEG), key)[lane]);
    }
    if (p.stuck_on + p.stuck_off > 0.0) {
        u = vec2<f32>(uniforms4(vec4<u32>(block, slice, p.stream, PURPOSE_STUCK_POS), key)[lane],
                      uniforms4(vec4<u32>(block, slice, p.stream, PURPOSE_STUCK_NEG), key)[lane]);
    }
    let wv = w[index];
    let target_pos = quantize_conductance(clamp(wv * scale, 0.0, p.g_max));
    let target_neg = quantize_conductance(clamp(-wv * scale, 0.0, p.g_max));
    let pos = program_one(target_pos, z_prog.x, z_nu.x, z_read.x, u.x);
    var neg = vec2<f32>(0.0, 0.0);
    if (p.one_sided == 0u) {
        neg = program_one(target_neg, z_prog.y, z_nu.y, z_read.y, u.y);
    }
    g_pos[index] = pos.x;
    g_neg[index] = neg.x;
    w_prog[index] = (pos.x - neg.x) / scale;
    var now_index = index;
    if (p.w_now_transposed == 1u) {
        now_index = slice * per_slice + j * p.n_rows + i;
    }
    w_now[now_index] = (pos.y - neg.y) / scale;
}
