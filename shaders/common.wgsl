// Helpers prepended to every kernel of the engine.
// Twins: src/physics/rng.rs (philox4x32_10, uniform01, ln_poly, sincos_turn, normals4,
// uniforms4), src/physics/mapping.rs (split_start, split_size, group_of),
// src/backend/params.rs (round_to_step, quantize, Periphery).

// The converter and noise settings of a tile's forward pass, nested in MvmParams and
// ReadoutParams (at an offset that is a multiple of 16 bytes, as uniform buffers require).
// Twin of Periphery in src/backend/params.rs.
struct Periphery {
    input_scale: f32,
    max_rounds: u32,
    dac_step: f32,
    dac_bound: f32,
    adc_step: f32,
    adc_bound: f32,
    out_noise: f32,
    w_noise: f32,
    ir_drop: f32,
    ir_drop_inv_ratio: f32,
    pad0: u32,
    pad1: u32,
}

// IR drop (aihwkit's model): the correction factor of an output whose total current is
// `current` on a tile of `rows` rows, and the weight of row j. Twins: ir_drop_factor,
// ir_drop_row in src/backend/params.rs.
fn ir_drop_factor(p: Periphery, rows: u32, current: f32) -> f32 {
    let a = f32(rows) * p.ir_drop_inv_ratio * current;
    return a * (a * (0.05 * a - 0.2) + 0.5);
}

fn ir_drop_row(j: u32, rows: u32) -> f32 {
    let q = 1.0 - f32(j) / f32(rows);
    return 1.0 - q * q;
}

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;
const INV_2_24: f32 = 5.9604644775390625e-8;

// Noise purposes, as in rng::Purpose.
const PURPOSE_PROG_POS: u32 = 1u;
const PURPOSE_PROG_NEG: u32 = 2u;
const PURPOSE_DRIFT_POS: u32 = 3u;
const PURPOSE_DRIFT_NEG: u32 = 4u;
const PURPOSE_READ_POS: u32 = 5u;
const PURPOSE_READ_NEG: u32 = 6u;
const PURPOSE_STUCK_POS: u32 = 7u;
const PURPOSE_STUCK_NEG: u32 = 8u;
const PURPOSE_OUT_NOISE: u32 = 9u;
const PURPOSE_WEIGHT_NOISE: u32 = 10u;

// 32 x 32 -> 64-bit product as (hi, lo), from 16-bit halves: WGSL has no 64-bit integers.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
        }
        let p0 = mulhilo(PHILOX_M0, c.x);
        let p1 = mulhilo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

fn uniform01(word: u32) -> f32 {
    return f32(word >> 8u) * INV_2_24;
}

fn ln_poly(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    var exponent = i32((bits >> 23u) & 0xffu) - 126;
    var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f000000u);
    if (m < 0.70710677) {
        exponent = exponent - 1;
        m = m + m - 1.0;
    } else {
        m = m - 1.0;
    }
    let z = m * m;
    var p = 7.0376836e-2;
    p = p * m - 1.151461e-1;
    p = p * m + 1.1676999e-1;
    p = p * m - 1.2420141e-1;
    p = p * m + 1.4249323e-1;
    p = p * m - 1.6668058e-1;
    p = p * m + 2.0000714e-1;
    p = p * m - 2.4999994e-1;
    p = p * m + 3.333333e-1;
    let e = f32(exponent);
    var y = m * z * p;
    y = y + -2.1219444e-4 * e;
    y = y + -0.5 * z;
    return m + y + 0.6933594 * e;
}

fn sincos_turn(t: f32) -> vec2<f32> {
    let scaled = t * 4.0;
    let quadrant = floor(scaled);
    let f = scaled - quadrant;
    let a = (f - 0.5) * 1.5707964;
    let a2 = a * a;
    let sin_a = a + a * a2 * (-1.6666655e-1 + a2 * (8.332161e-3 + a2 * -1.9515296e-4));
    let cos_a = 1.0 - 0.5 * a2 + a2 * a2 * (4.1666646e-2 + a2 * (-1.3887316e-3 + a2 * 2.4433157e-5));
    let h = 0.70710677;
    let c = h * (cos_a - sin_a);
    let s = h * (cos_a + sin_a);
    let q = u32(quadrant);
    if (q == 0u) {
        return vec2<f32>(c, s);
    } else if (q == 1u) {
        return vec2<f32>(-s, c);
    } else if (q == 2u) {
        return vec2<f32>(-c, -s);
    }
    return vec2<f32>(s, -c);
}

fn box_muller(radius_word: u32, angle_word: u32) -> vec2<f32> {
    let u = f32((radius_word >> 8u) + 1u) * INV_2_24;
    let radius = sqrt(-2.0 * ln_poly(u));
    return radius * sincos_turn(uniform01(angle_word));
}

fn normals4(counter: vec4<u32>, key: vec2<u32>) -> vec4<f32> {
    let r = philox4x32_10(counter, key);
    return vec4<f32>(box_muller(r.x, r.y), box_muller(r.z, r.w));
}

fn uniforms4(counter: vec4<u32>, key: vec2<u32>) -> vec4<f32> {
    let r = philox4x32_10(counter, key);
    return vec4<f32>(uniform01(r.x), uniform01(r.y), uniform01(r.z), uniform01(r.w));
}

fn split_start(total: u32, groups: u32, g: u32) -> u32 {
    let base = total / groups;
    let extra = total % groups;
    return g * base + min(g, extra);
}

fn split_size(total: u32, groups: u32, g: u32) -> u32 {
    return total / groups + select(0u, 1u, g < total % groups);
}

fn group_of(x: u32, total: u32, groups: u32) -> u32 {
    let base = total / groups;
    let extra = total % groups;
    let big_end = extra * (base + 1u);
    if (x < big_end) {
        return x / (base + 1u);
    }
    return extra + (x - big_end) / base;
}

// Round half to even on the converter's step; step 0 (an ideal converter) keeps v.
fn round_to_step(v: f32, step: f32) -> f32 {
    if (step > 0.0) {
        return round(v / step) * step;
    }
    return v;
}

// DAC or ADC: round on the step, then clip (an ideal converter's bound is infinite).
fn quantize(v: f32, step: f32, bound: f32) -> f32 {
    return clamp(round_to_step(v, step), -bound, bound);
}

fn noise_word(purpose: u32, group: u32, round: u32) -> u32 {
    return purpose | (group << 8u) | (round << 24u);
}
