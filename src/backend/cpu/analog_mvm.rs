//! The tiled analog MVM with its periphery, one pass per tile and input block.
//!
//! CPU twin of `shaders/analog_mvm.wgsl` (same name, same `MvmParams`, the same loops: per
//! block of input vectors and output group, over input groups, over bound-management rounds:
//! noise management, DAC, MVM, output noise, ADC), for one chip instance per call (the
//! shader's stacked chip z = 0). Where the shader does the dot products
//! itself, this twin hands each tile's product for the whole block to a blocked SIMD GEMM
//! and fuses noise, ADC and the bound check into one pass over its result.

use super::gemm::matmul;
use crate::backend::params::{
    MvmParams, ir_drop_factor, ir_drop_row, noise_word, quantize, round_to_step,
};
use crate::physics::mapping::{split_size, split_start};
use crate::physics::rng::{Purpose, fill_normals_rows};
use rayon::prelude::*;

/// Input vectors handled by one task: large enough to amortise GEMM packing, small
/// enough to give every core several tasks.
fn rows_per_task(batch: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    batch.div_ceil(2 * threads).clamp(8, 256)
}

/// What every tile pass of one call reads: parameters, weights, gains.
#[derive(Clone, Copy)]
struct LayerView<'a> {
    p: &'a MvmParams,
    /// Effective weights (n_out, n_in).
    w: &'a [f32],
    /// |w|, for the weight read noise.
    w_abs: Option<&'a [f32]>,
    /// Digital gain per (input group, output): the tile's drift compensation times the
    /// column's weight scale.
    gain: &'a [f32],
}

/// Per-task scratch space, reused across tiles.
#[derive(Default)]
struct Scratch {
    /// Quantized inputs of the active rows, (active, kn).
    xq: Vec<f32>,
    /// Squared quantized inputs, for the weight read noise.
    xq2: Vec<f32>,
    /// Tile products of the active rows, (active, cols).
    acc: Vec<f32>,
    /// Products with |W|, for the weight read noise.
    acc_abs: Vec<f32>,
    /// IR drop: |inputs|, and inputs weighted by their row's place; the products of each.
    x_ir: Vec<f32>,
    acc_ir: Vec<f32>,
    /// IR drop: the correction factor of each output of the active rows.
    ir_factor: Vec<f32>,
    /// Output noise of the active rows, (active, cols).
    noise: Vec<f32>,
    /// Weight read noise of the active rows, (active, cols).
    noise_w: Vec<f32>,
    /// Global index of each active row (its noise counter).
    row_ids: Vec<u32>,
    /// Noise-management scale of each row of the block.
    alpha: Vec<f32>,
    /// Bound-management factor r of each row.
    rfac: Vec<f32>,
    /// Rows still converting in this round, and those repeating in the next.
    active: Vec<usize>,
    repeat: Vec<usize>,
}

/// Runs `p.batch` input vectors `x` (batch, n_in) through the layer and writes `y`
/// (batch, n_out). `w` is the layer's effective weights (n_out, n_in), `w_abs` their
/// magnitudes (needed when `p.periphery.w_noise > 0` or `p.periphery.ir_drop > 0`), `gain` the digital factor of every
/// (input group, output), `gain[g * n_out + i]`.
pub fn analog_mvm(
    p: &MvmParams,
    x: &[f32],
    w: &[f32],
    w_abs: Option<&[f32]>,
    gain: &[f32],
    y: &mut [f32],
) {
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    let rows = rows_per_task(p.batch as usize);
    y.par_chunks_mut(rows * n_out)
        .zip(x.par_chunks(rows * n_in))
        .enumerate()
        .for_each(|(block, (y_block, x_block))| {
            let layer = LayerView { p, w, w_abs, gain };
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

thread_local! {
    /// Each worker thread's scratch, kept between tasks and calls: rayon would run a
    /// per-task initialiser many times per call, and buffers of a few hundred KiB allocated
    /// that often cost page faults. The tile pass does not call back into rayon, so a thread
    /// never borrows it twice.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
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
/// tile's digitised partial sums into `y_block`. Twin of the body of `analog_mvm` in WGSL.
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
    let LayerView { p, w, w_abs, gain } = *layer;
    let (n_in, n_out) = (p.n_in as usize, p.n_out as usize);
    let n_rows = x_block.len() / n_in;
    let k0 = split_start(p.n_in, p.in_groups, g) as usize;
    let kn = split_size(p.n_in, p.in_groups, g) as usize;
    let c0 = split_start(p.n_out, p.out_groups, o) as usize;
    let cols = split_size(p.n_out, p.out_groups, o) as usize;
    let key = [p.key_lo, p.key_hi];
    // The weight read noise and IR drop need |W|, which the backend supplies exactly when
    // either is on.
    let ir_abs = w_abs.filter(|_| p.periphery.ir_drop > 0.0);
    let w_abs = w_abs.filter(|_| p.periphery.w_noise > 0.0);

    // Noise management: one scale per input vector and tile.
    // Plain loops (not iterator adaptors, which are compiled outside this function) so that
    // they are inlined into the SIMD build.
    s.alpha.clear();
    s.active.clear();
    for r in 0..n_rows {
        let alpha = if p.periphery.input_scale <= 0.0 {
            abs_max(&x_block[r * n_in + k0..r * n_in + k0 + kn])
        } else {
            p.periphery.input_scale
        };
        s.alpha.push(alpha);
        // An all-zero input vector gives zero output: no conversion happens.
        if alpha > 0.0 {
            s.active.push(r);
        }
    }
    s.rfac.clear();
    s.rfac.resize(n_rows, 1.0);
    let gain = &gain[g as usize * n_out + c0..][..cols];

    for bm_round in 0..p.periphery.max_rounds {
        if s.active.is_empty() {
            break;
        }
        let n_act = s.active.len();
        s.xq.clear();
        for &r in &s.active {
            let scale = s.alpha[r] * s.rfac[r];
            let xs = &x_block[r * n_in + k0..r * n_in + k0 + kn];
            let start = s.xq.len();
            s.xq.resize(start + kn, 0.0);
            dac(
                &mut s.xq[start..],
                xs,
                scale,
                p.periphery.dac_step,
                p.periphery.dac_bound,
            );
        }
        s.acc.resize(n_act * cols, 0.0);
        // acc (n_act, cols) = xq (n_act, kn) . W[c0.., k0..]^T
        matmul(
            &mut s.acc,
            (n_act, cols, kn),
            (&s.xq, kn),
            (&w[c0 * n_in + k0..], n_in),
        );
        if let Some(w_abs_ir) = ir_abs {
            ir_drop(layer, (k0, kn, c0, cols), n_act, w_abs_ir, s);
        }
        if let Some(w_abs) = w_abs {
            s.xq2.clear();
            s.xq2.extend(s.xq.iter().map(|v| v * v));
            s.acc_abs.resize(n_act * cols, 0.0);
            matmul(
                &mut s.acc_abs,
                (n_act, cols, kn),
                (&s.xq2, kn),
                (&w_abs[c0 * n_in + k0..], n_in),
            );
        }

        s.row_ids.clear();
        for &r in &s.active {
            s.row_ids.push(p.row_offset + first_row + r as u32);
        }
        let row_ids = &s.row_ids;
        let fill = |buffer: &mut Vec<f32>, purpose: Purpose| {
            buffer.resize(n_act * cols, 0.0);
            let word = noise_word(purpose, g, bm_round);
            fill_normals_rows(buffer, cols, c0 as u32, row_ids, p.stream, word, key);
        };
        // Sized even without output noise: the weight-noise pass reads it (times 0).
        s.noise.resize(n_act * cols, 0.0);
        if p.periphery.out_noise > 0.0 {
            fill(&mut s.noise, Purpose::OutNoise);
        }
        if w_abs.is_some() {
            fill(&mut s.noise_w, Purpose::WeightNoise);
        }

        s.repeat.clear();
        for (a, &r) in s.active.iter().enumerate() {
            let noise = &s.noise[a * cols..(a + 1) * cols];
            // The ADC writes its codes over the analog values of the row.
            let acc = &mut s.acc[a * cols..(a + 1) * cols];
            let exceeded = if w_abs.is_some() {
                let acc_abs = &s.acc_abs[a * cols..(a + 1) * cols];
                let noise_w = &s.noise_w[a * cols..(a + 1) * cols];
                for ((v, &va), (&n, &nw)) in
                    acc.iter_mut().zip(acc_abs).zip(noise.iter().zip(noise_w))
                {
                    *v = *v + p.periphery.out_noise * n + p.periphery.w_noise * va.sqrt() * nw;
                }
                adc_row(p, acc)
            } else if p.periphery.out_noise > 0.0 {
                for (v, &n) in acc.iter_mut().zip(noise) {
                    *v += p.periphery.out_noise * n;
                }
                adc_row(p, acc)
            } else {
                adc_row(p, acc)
            };
            if exceeded && bm_round + 1 < p.periphery.max_rounds {
                s.rfac[r] *= 2.0;
                s.repeat.push(r);
            } else {
                // Final round of this row: its digital partial sum joins the output.
                let back = s.alpha[r] * s.rfac[r];
                let y_row = &mut y_block[r * n_out + c0..r * n_out + c0 + cols];
                for ((y, &q), &gc) in y_row.iter_mut().zip(acc.iter()).zip(gain) {
                    *y += q * (back * gc);
                }
            }
        }
        std::mem::swap(&mut s.active, &mut s.repeat);
    }
}

/// aihwkit's IR drop on the products `s.acc` of `n_act` rows of the tile of inputs `k0..k0 +
/// kn` and outputs `c0..c0 + cols`: each output loses ir_drop c(total current) times the
/// product with inputs weighted by their row's place.
#[inline(always)]
fn ir_drop(
    layer: &LayerView<'_>,
    (k0, kn, c0, cols): (usize, usize, usize, usize),
    n_act: usize,
    w_abs: &[f32],
    s: &mut Scratch,
) {
    let LayerView { p, w, .. } = *layer;
    let n_in = p.n_in as usize;
    // The total currents: |xq| . |W|^T.
    s.x_ir.clear();
    s.x_ir.extend(s.xq.iter().map(|v| v.abs()));
    s.acc_ir.resize(n_act * cols, 0.0);
    matmul(
        &mut s.acc_ir,
        (n_act, cols, kn),
        (&s.x_ir, kn),
        (&w_abs[c0 * n_in + k0..], n_in),
    );
    s.ir_factor.clear();
    s.ir_factor.extend(
        s.acc_ir
            .iter()
            .map(|&current| ir_drop_factor(&p.periphery, kn as u32, current)),
    );
    // The place-weighted products: (xq_j (1 - (1 - j/kn)^2)) . W^T.
    s.x_ir.clear();
    for row in s.xq.chunks(kn) {
        s.x_ir.extend(
            row.iter()
                .enumerate()
                .map(|(j, v)| v * ir_drop_row(j as u32, kn as u32)),
        );
    }
    matmul(
        &mut s.acc_ir,
        (n_act, cols, kn),
        (&s.x_ir, kn),
        (&w[c0 * n_in + k0..], n_in),
    );
    for ((v, &f), &d) in s.acc.iter_mut().zip(&s.ir_factor).zip(&s.acc_ir) {
        *v -= p.periphery.ir_drop * f * d;
    }
}

/// Width of the fixed-size chunks the helpers below work on: one AVX2 vector. Tile rows are
/// short (25 inputs for a 5x5 convolution), so loops of unknown length would run mostly in
/// their scalar remainders; fixed chunks vectorise fully.
const CHUNK: usize = 8;

/// Largest |v| of finite values. The magnitudes' bit patterns order like the floats, and an
/// integer maximum vectorises where a float one (NaN-aware) does not.
#[inline(always)]
fn abs_max(xs: &[f32]) -> f32 {
    let magnitude = |v: f32| v.to_bits() & 0x7fff_ffff;
    let mut lanes = [0u32; CHUNK];
    let chunks = xs.chunks_exact(CHUNK);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = (*m).max(magnitude(v));
        }
    }
    let mut m = rest.iter().fold(0, |m, &v| m.max(magnitude(v)));
    for lane in lanes {
        m = m.max(lane);
    }
    f32::from_bits(m)
}

/// DAC of one input vector scaled by `1 / scale` (noise and bound management).
#[inline(always)]
fn dac(dst: &mut [f32], src: &[f32], scale: f32, step: f32, bound: f32) {
    let mut dst_chunks = dst.chunks_exact_mut(CHUNK);
    let mut src_chunks = src.chunks_exact(CHUNK);
    for (d, x) in (&mut dst_chunks).zip(&mut src_chunks) {
        for (q, &v) in d.iter_mut().zip(x) {
            *q = quantize(v / scale, step, bound);
        }
    }
    for (q, &v) in dst_chunks
        .into_remainder()
        .iter_mut()
        .zip(src_chunks.remainder())
    {
        *q = quantize(v / scale, step, bound);
    }
}

/// ADC of one row of analog outputs, in place; true when any output, rounded, lies beyond
/// the bound (the bound-management trigger).
#[inline(always)]
fn adc_row(p: &MvmParams, row: &mut [f32]) -> bool {
    // An ideal ADC (step 0) leaves the row as it is; testing that once, outside the loop,
    // keeps the loop branch-free and vectorised.
    if p.periphery.adc_step == 0.0 {
        return false;
    }
    let convert = |v: &mut f32| {
        let q = round_to_step(*v, p.periphery.adc_step);
        *v = q.clamp(-p.periphery.adc_bound, p.periphery.adc_bound);
        q.abs() > p.periphery.adc_bound
    };
    let mut lanes = [false; CHUNK];
    let mut chunks = row.chunks_exact_mut(CHUNK);
    for chunk in &mut chunks {
        for (exceeded, v) in lanes.iter_mut().zip(chunk) {
            *exceeded |= convert(v);
        }
    }
    let mut exceeded = lanes.contains(&true);
    for v in chunks.into_remainder() {
        exceeded |= convert(v);
    }
    exceeded
}
