//! The tiled MVM of the sliced chip: per tile, noise management and the DAC turn each input
//! vector into integer magnitudes and signs; a tile's rows are read in groups, the inputs in
//! reads of a few magnitude bits (in one or two phases), and every (row group, phase, read,
//! weight slice, column) is one conversion: its analog partial sum, output and weight read
//! noise, and the ADC over that conversion's range. The conversions are shifted and added
//! digitally (by 2^(read bits) per read and 2^(slice bits) per slice), an offset encoding's
//! offset subtracted, and the tile's output scale applied.
//!
//! CPU twin of `shaders/sliced_mvm.wgsl` (same name, same `SlicedParams`, the same loops in
//! the same order: per output group, over input groups, row groups, phases, reads and slices;
//! the same noise counters), for one chip instance per call. Where the shader does each dot
//! product itself, this twin hands the product of a block of vectors' digits with a slice's
//! weights to a blocked SIMD GEMM.
//!
//! Units: a conversion's input is a sum over a group's rows of (G+ - G-) / g_max times the
//! input digit, so one row of weight 1 and input 1 gives 1 - g_min / g_max.

use super::gemm::matmul;
use crate::backend::params::SlicedParams;
use crate::physics::mapping::{group_count, split_size, split_start};
use crate::physics::rng::{Purpose, fill_normals_rows};
use rayon::prelude::*;
use std::sync::Mutex;

/// The noise word of a conversion: the purpose beside the phase, slice, read and the row
/// group's index in the layer (input group times the row groups of a tile, plus the group).
/// Twin of `conversion_word` in WGSL.
#[inline(always)]
pub fn conversion_word(
    purpose: Purpose,
    layer_group: u32,
    read: u32,
    phase: u32,
    slice: u32,
) -> u32 {
    purpose as u32 | (phase << 4) | (slice << 5) | (read << 9) | (layer_group << 13)
}

/// A value through an ADC of `levels` levels (2^bits - 1; 0 = ideal) over [-hi, hi]:
/// clipped, then rounded half to even on the grid from -hi (CrossSim's quantiser). Twin of
/// `adc_convert` in WGSL.
#[inline(always)]
pub fn adc_convert(v: f32, hi: f32, levels: u32) -> f32 {
    if levels == 0 {
        return v;
    }
    let c = v.clamp(-hi, hi);
    let q = (levels - 1) as f32 / (2.0 * hi);
    ((c + hi) * q).round_ties_even() / q - hi
}

/// `acc[c] += weight * adc_convert(v[c], hi, levels)` over a row: the same arithmetic as
/// [`adc_convert`], with its per-range constants hoisted so the loop vectorises.
#[inline(always)]
fn convert_and_add(acc: &mut [f32], v: &[f32], weight: f32, hi: f32, levels: u32) {
    if levels == 0 {
        for (a, &v) in acc.iter_mut().zip(v) {
            *a += weight * v;
        }
        return;
    }
    let q = (levels - 1) as f32 / (2.0 * hi);
    for (a, &v) in acc.iter_mut().zip(v) {
        let c = v.clamp(-hi, hi);
        *a += weight * (((c + hi) * q).round_ties_even() / q - hi);
    }
}

/// The DAC of one scaled input (`x / scale`) of a signed converter with `magnitude_bits`
/// (> 0): its integer magnitude and sign, the value being sign * magnitude / (2^m - 1)
/// (CrossSim's sign-magnitude DAC: clipped to [-1, 1], rounded on the grid from -1). Twin of
/// `dac_digits` in WGSL.
#[inline(always)]
pub fn dac_digits(v: f32, magnitude_bits: u32) -> (u32, f32) {
    let q = ((1u32 << magnitude_bits) - 1) as f32;
    let level = ((v.clamp(-1.0, 1.0) + 1.0) * q).round_ties_even() - q;
    (level.abs() as u32, level.signum() * f32::from(level != 0.0))
}

/// The weight of slice `slice` in the digital sum: 2^(slice * bits) * (2^bits - 1) (1 for
/// continuous weights). Twin of `slice_factor` in WGSL.
#[inline(always)]
pub fn slice_factor(p: &SlicedParams, slice: u32) -> f32 {
    if p.bits_per_slice == 0 {
        return 1.0;
    }
    let levels = ((1u32 << p.bits_per_slice) - 1) as f32;
    (1u64 << (slice * p.bits_per_slice)) as f32 * levels
}

/// The weight of read `read` in the digital sum: 2^(read * bits) * (2^bits - 1) / (2^m - 1)
/// (1 for an ideal DAC). Twin of `read_factor` in WGSL.
#[inline(always)]
pub fn read_factor(p: &SlicedParams, read: u32) -> f32 {
    if p.magnitude_bits == 0 {
        return 1.0;
    }
    let digit = ((1u32 << p.bits_per_read) - 1) as f32;
    let full = ((1u32 << p.magnitude_bits) - 1) as f32;
    (1u32 << (read * p.bits_per_read)) as f32 * digit / full
}

/// The digit read `read` in phase `phase` applies for an input of magnitude `n` and sign
/// `sign` (or the scaled value `v` of an ideal DAC). Twin of `input_digit` in WGSL.
#[inline(always)]
pub fn input_digit(p: &SlicedParams, n: u32, sign: f32, v: f32, read: u32, phase: u32) -> f32 {
    let (magnitude, sign) = if p.magnitude_bits == 0 {
        (v.abs(), v.signum() * f32::from(v != 0.0))
    } else {
        let mask = (1u32 << p.bits_per_read) - 1;
        let digit = (n >> (read * p.bits_per_read)) & mask;
        (digit as f32 / mask as f32, sign)
    };
    if p.phases == 1 {
        sign * magnitude
    } else if (phase == 0 && sign > 0.0) || (phase == 1 && sign < 0.0) {
        magnitude
    } else {
        0.0
    }
}

/// Input vectors handled by one task.
fn rows_per_task(batch: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    batch.div_ceil(2 * threads).clamp(8, 256)
}

/// What every tile pass of one call reads.
#[derive(Clone, Copy)]
struct LayerView<'a> {
    p: &'a SlicedParams,
    /// Effective weights of every slice (slices, n_out, n_in).
    w: &'a [f32],
    /// |w|, for the weight read noise.
    w_abs: Option<&'a [f32]>,
    /// Output scale per (input group, output), `out_scale[g * n_out + i]`.
    out_scale: &'a [f32],
    /// ADC half-range per (layer row group, slice).
    ranges: &'a [f32],
    /// When profiling: every conversion's analog value, per slice.
    profile: Option<&'a Mutex<Vec<Vec<f32>>>>,
}

/// Per-task scratch space, reused across tiles.
#[derive(Default)]
struct Scratch {
    /// Scale of each vector of the block (0: an all-zero vector, skipped).
    scale: Vec<f32>,
    /// Integer input magnitudes and signs, and scaled values for an ideal DAC, (block, kn).
    n: Vec<u32>,
    sign: Vec<f32>,
    value: Vec<f32>,
    /// The sum of each vector's quantised inputs (an offset encoding's correction).
    sum_xq: Vec<f32>,
    /// Digits of a row group for one read, (block, group rows), and their squares.
    digits: Vec<f32>,
    digits2: Vec<f32>,
    /// A conversion's analog values, (block, cols), and their |W| products.
    v: Vec<f32>,
    v_abs: Vec<f32>,
    noise: Vec<f32>,
    noise_w: Vec<f32>,
    /// The tile's digital sum, (block, cols).
    acc: Vec<f32>,
    row_ids: Vec<u32>,
}

thread_local! {
    /// Each worker thread's scratch, kept between tasks and calls.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `p.batch` input vectors `x` (batch, n_in) through the layer and writes `y`
/// (batch, n_out). `w` holds the effective weights of every slice (slices, n_out, n_in),
/// `w_abs` their magnitudes (needed when `p.w_noise > 0`), `out_scale` every tile's output
/// scale and `ranges` the ADC half-range of every (layer row group, slice).
pub fn sliced_mvm(
    p: &SlicedParams,
    x: &[f32],
    w: &[f32],
    w_abs: Option<&[f32]>,
    out_scale: &[f32],
    ranges: &[f32],
    y: &mut [f32],
) {
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    let rows = rows_per_task(p.batch as usize);
    y.par_chunks_mut(rows * n_out)
        .zip(x.par_chunks(rows * n_in))
        .enumerate()
        .for_each(|(block, (y_block, x_block))| {
            let layer = LayerView {
                p,
                w,
                w_abs,
                out_scale,
                ranges,
                profile: None,
            };
            let first_row = (block * rows) as u32;
            y_block.fill(0.0);
            SCRATCH.with_borrow_mut(|scratch| {
                for o in 0..p.out_groups {
                    for g in 0..p.in_groups {
                        tile_pass(&layer, g, o, first_row, x_block, y_block, scratch);
                    }
                }
            });
        });
}

/// Every conversion's analog value (noise-free, before the ADC), per weight slice, of
/// `p.batch` vectors `x` through the layer of slices `w`: what a calibration of the ADC
/// ranges sees. The values of a slice are pooled over row groups, phases and reads.
pub fn sliced_profile(p: &SlicedParams, x: &[f32], w: &[f32]) -> Vec<Vec<f32>> {
    let p = SlicedParams {
        out_noise: 0.0,
        w_noise: 0.0,
        adc_levels: 0,
        ..*p
    };
    let profile = Mutex::new(vec![Vec::new(); p.slices as usize]);
    let out_scale = vec![1.0; (p.in_groups * p.n_out) as usize];
    let ranges = vec![0.0; (p.in_groups * p.row_groups * p.slices) as usize];
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    let rows = rows_per_task(p.batch as usize);
    x.par_chunks(rows * n_in)
        .enumerate()
        .for_each(|(block, x_block)| {
            let layer = LayerView {
                p: &p,
                w,
                w_abs: None,
                out_scale: &out_scale,
                ranges: &ranges,
                profile: Some(&profile),
            };
            let mut y_block = vec![0.0; x_block.len() / n_in * n_out];
            SCRATCH.with_borrow_mut(|scratch| {
                for o in 0..p.out_groups {
                    for g in 0..p.in_groups {
                        tile_pass(
                            &layer,
                            g,
                            o,
                            (block * rows) as u32,
                            x_block,
                            &mut y_block,
                            scratch,
                        );
                    }
                }
            });
        });
    profile.into_inner().unwrap_or_else(|e| e.into_inner())
}

// The tile pass, compiled for AVX2+FMA too and chosen when called.
crate::simd::dispatch_avx2!(
    fn tile_pass(
        layer: &LayerView<'_>,
        g: u32,
        o: u32,
        first_row: u32,
        x_block: &[f32],
        y_block: &mut [f32],
        s: &mut Scratch,
    ) => tile_pass_impl
);

/// One tile (input group `g`, output group `o`) on a block of input vectors; adds the
/// tile's digitised output into `y_block`. Twin of the body of `sliced_mvm` in WGSL.
#[inline(always)]
fn tile_pass_impl(
    layer: &LayerView<'_>,
    g: u32,
    o: u32,
    first_row: u32,
    x_block: &[f32],
    y_block: &mut [f32],
    s: &mut Scratch,
) {
    let LayerView {
        p,
        w,
        w_abs,
        out_scale,
        ranges,
        profile,
    } = *layer;
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    let n_rows = x_block.len() / n_in;
    let k0 = split_start(p.n_in, p.in_groups, g) as usize;
    let kn = split_size(p.n_in, p.in_groups, g) as usize;
    let c0 = split_start(p.n_out, p.out_groups, o) as usize;
    let cols = split_size(p.n_out, p.out_groups, o) as usize;
    let key = [p.key_lo, p.key_hi];
    let w_abs = w_abs.filter(|_| p.w_noise > 0.0);
    let full = ((1u32 << p.magnitude_bits) - 1) as f32;

    // Noise management and the DAC: one scale per vector and tile.
    s.scale.clear();
    s.n.clear();
    s.sign.clear();
    s.value.clear();
    s.sum_xq.clear();
    for r in 0..n_rows {
        let xs = &x_block[r * n_in + k0..r * n_in + k0 + kn];
        let scale = if p.nm_abs_max == 1 {
            xs.iter().fold(0.0f32, |m, v| m.max(v.abs()))
        } else {
            p.input_bound
        };
        s.scale.push(scale);
        let mut sum = 0.0f32;
        for &x in xs {
            let v = if scale > 0.0 { x / scale } else { 0.0 };
            if p.magnitude_bits == 0 {
                s.n.push(0);
                s.sign.push(0.0);
                s.value.push(v);
                sum += v;
            } else {
                let (n, sign) = dac_digits(v, p.magnitude_bits);
                s.n.push(n);
                s.sign.push(sign);
                s.value.push(0.0);
                sum += sign * n as f32 / full;
            }
        }
        s.sum_xq.push(sum);
    }
    s.row_ids.clear();
    for r in 0..n_rows {
        s.row_ids.push(p.row_offset + first_row + r as u32);
    }
    s.acc.clear();
    s.acc.resize(n_rows * cols, 0.0);

    let groups = group_count(kn, p.rows_parallel as usize) as u32;
    let per_slice = n_out * n_in;
    for r in 0..groups {
        let a = split_start(kn as u32, groups, r) as usize;
        let len = split_size(kn as u32, groups, r) as usize;
        let layer_group = g * p.row_groups + r;
        for phase in 0..p.phases {
            let phase_sign = if phase == 0 { 1.0 } else { -1.0 };
            for read in 0..p.reads {
                // This read's digits of the group's rows, every vector of the block.
                s.digits.clear();
                for b in 0..n_rows {
                    for i in a..a + len {
                        let e = b * kn + i;
                        s.digits
                            .push(input_digit(p, s.n[e], s.sign[e], s.value[e], read, phase));
                    }
                }
                if w_abs.is_some() {
                    s.digits2.clear();
                    s.digits2.extend(s.digits.iter().map(|d| d * d));
                }
                let factor = phase_sign * read_factor(p, read);
                for slice in 0..p.slices {
                    let at = slice as usize * per_slice + c0 * n_in + k0 + a;
                    s.v.resize(n_rows * cols, 0.0);
                    // v (block, cols) = digits (block, len) . W_slice[c0.., k0 + a..]^T
                    matmul(
                        &mut s.v,
                        (n_rows, cols, len),
                        (&s.digits, len),
                        (&w[at..], n_in),
                    );
                    if let Some(w_abs) = w_abs {
                        s.v_abs.resize(n_rows * cols, 0.0);
                        matmul(
                            &mut s.v_abs,
                            (n_rows, cols, len),
                            (&s.digits2, len),
                            (&w_abs[at..], n_in),
                        );
                    }
                    let fill = |buffer: &mut Vec<f32>, purpose: Purpose| {
                        buffer.resize(n_rows * cols, 0.0);
                        let word = conversion_word(purpose, layer_group, read, phase, slice);
                        fill_normals_rows(buffer, cols, c0 as u32, &s.row_ids, p.stream, word, key);
                    };
                    if p.out_noise > 0.0 {
                        fill(&mut s.noise, Purpose::OutNoise);
                    }
                    if w_abs.is_some() {
                        fill(&mut s.noise_w, Purpose::WeightNoise);
                    }
                    if let Some(profile) = profile {
                        let mut values = profile.lock().unwrap_or_else(|e| e.into_inner());
                        let range = p.conductance_range;
                        values[slice as usize].extend(s.v.iter().map(|v| v * range));
                    }
                    let hi = ranges[(layer_group * p.slices + slice) as usize];
                    let weight = factor * slice_factor(p, slice);
                    // The conversion's analog value (noise in the same order as the shader),
                    // then the ADC, in straight loops over a row's columns that vectorise.
                    let range = p.conductance_range;
                    for (e, v) in s.v.iter_mut().enumerate() {
                        let mut value = *v * range;
                        if p.out_noise > 0.0 {
                            value += p.out_noise * s.noise[e];
                        }
                        if w_abs.is_some() {
                            value += p.w_noise * s.v_abs[e].sqrt() * s.noise_w[e];
                        }
                        *v = value;
                    }
                    for b in 0..n_rows {
                        if s.scale[b] == 0.0 {
                            continue;
                        }
                        let v_row = &s.v[b * cols..(b + 1) * cols];
                        let acc_row = &mut s.acc[b * cols..(b + 1) * cols];
                        convert_and_add(acc_row, v_row, weight, hi, p.adc_levels);
                    }
                }
            }
        }
    }

    // The tile's output: an offset encoding's offset taken out, then the tile's scale.
    let offset = if p.offset_encoding == 1 {
        ((1u32 << (p.weight_bits - 1)) - 1) as f32 * p.conductance_range
    } else {
        0.0
    };
    let out_scale = &out_scale[g as usize * n_out + c0..][..cols];
    for b in 0..n_rows {
        if s.scale[b] == 0.0 {
            continue;
        }
        let correction = offset * s.sum_xq[b];
        let y_row = &mut y_block[b * n_out + c0..b * n_out + c0 + cols];
        for ((y, &q), &os) in y_row
            .iter_mut()
            .zip(&s.acc[b * cols..(b + 1) * cols])
            .zip(out_scale)
        {
            *y += (q - correction) * (os * s.scale[b]);
        }
    }
}
