//! Read-out of a tile's forward pass on the identity input, the measurement behind global
//! drift compensation: for every input column j, the unit vector e_j goes through DAC,
//! tile, output noise, ADC and bound management, and the magnitudes of the outputs of the
//! tile are summed.
//!
//! CPU twin of `shaders/gdc_readout.wgsl` (same name, same `ReadoutParams`, one
//! `(output group, input column)` item per GPU invocation).

use crate::backend::params::{ReadoutParams, ir_drop_factor, ir_drop_row, quantize, round_to_step};
use crate::physics::mapping::{group_of, split_size, split_start};
use crate::physics::rng::normals4;
use rayon::prelude::*;

/// Bit set in the noise word of the weight read noise, beside the purpose.
pub const READOUT_WEIGHT_NOISE: u32 = 1 << 16;

/// Writes `sums[(o - group_first) * n_in + j]`: the sum over the tile's outputs of |F(e_j)|.
/// `w` holds effective weights; element (i, j) at `(i - row_offset) * w_row_stride +
/// j * w_col_stride`.
pub fn gdc_readout(p: &ReadoutParams, w: &[f32], sums: &mut [f32]) {
    let n_in = p.n_in as usize;
    sums.par_chunks_mut(n_in)
        .enumerate()
        .for_each(|(k, sums_o)| {
            let o = p.group_first + k as u32;
            for (j, sum) in sums_o.iter_mut().enumerate() {
                *sum = readout_column(p, w, o, j as u32);
            }
        });
}

/// Twin of `readout_column` in WGSL.
fn readout_column(p: &ReadoutParams, w: &[f32], o: u32, j: u32) -> f32 {
    let key = [p.key_lo, p.key_hi];
    let c0 = split_start(p.n_out, p.out_groups, o);
    let cols = split_size(p.n_out, p.out_groups, o);
    // Column j's place in its tile, for the IR drop.
    let g = group_of(j, p.n_in, p.in_groups);
    let kn = split_size(p.n_in, p.in_groups, g);
    let place = ir_drop_row(j - split_start(p.n_in, p.in_groups, g), kn);
    let mut rfac = 1f32;
    let mut sum = 0f32;
    for bm_round in 0..p.periphery.max_rounds {
        // The unit input has abs-max 1, so noise management leaves it unscaled.
        let xq = quantize(1.0 / rfac, p.periphery.dac_step, p.periphery.dac_bound);
        let mut exceeded = false;
        sum = 0.0;
        for i in c0..c0 + cols {
            let wij = w[((i - p.row_offset) * p.w_row_stride + j * p.w_col_stride) as usize];
            let mut y = wij * xq;
            if p.periphery.ir_drop > 0.0 {
                y -= p.periphery.ir_drop
                    * ir_drop_factor(&p.periphery, kn, wij.abs() * xq.abs())
                    * (wij * (xq * place));
            }
            if p.periphery.out_noise > 0.0 {
                y += p.periphery.out_noise
                    * normals4([i >> 2, j, p.stream, p.purpose | (bm_round << 24)], key)
                        [(i & 3) as usize];
            }
            if p.periphery.w_noise > 0.0 {
                let word = p.purpose | READOUT_WEIGHT_NOISE | (bm_round << 24);
                y += p.periphery.w_noise
                    * (wij.abs() * xq * xq).sqrt()
                    * normals4([i >> 2, j, p.stream, word], key)[(i & 3) as usize];
            }
            let q = round_to_step(y, p.periphery.adc_step);
            exceeded = exceeded || q.abs() > p.periphery.adc_bound;
            sum += q.clamp(-p.periphery.adc_bound, p.periphery.adc_bound).abs();
        }
        if !exceeded || bm_round + 1 == p.periphery.max_rounds {
            break;
        }
        rfac *= 2.0;
    }
    sum * rfac
}
