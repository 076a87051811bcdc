//! What the sliced chip's programming decides above the backends: a layer's weights as
//! integer slices, every tile's output scale, and the ADC range of every conversion (full,
//! fixed or calibrated on the partial sums of calibration inputs).
//!
//! A layer of `weight_bits` B is normalised by its largest magnitude w_max (one for the whole
//! layer, so that partial sums of every tile and row group share the integer grid; or, with
//! `mapping.weight_scaling`, one per tile or per output column of each tile, kept as a
//! digital factor), rounded
//! to integers W = R(w / w_max * (2^(B-1) - 1)) and cut into slices of `bits_per_slice` bits
//! from the least significant; each slice's devices hold its digit over 2^bits - 1, with the
//! sign (differential pairs) or as the digits of W + 2^(B-1) - 1 (the offset encoding).
//! Continuous weights (B = 0) are one slice of w / w_max.

use crate::backend::params::SlicedParams;
use crate::config::{AdcRange, HwConfig, Slicing, WeightEncoding, WeightScaling};
use crate::error::{Error, Result};
use crate::physics::mapping::{TileGrid, group_count, group_of, split_size};

/// A layer's weights cut into slices for the devices.
#[derive(Clone, Debug, PartialEq)]
pub struct SlicedWeights {
    /// Every slice's normalised device values, (slices, n_out, n_in): in [-1, 1] for a
    /// differential pair, in [0, 1] for an offset encoding's single device.
    pub slices: Vec<f32>,
    /// The weight magnitude a full-scale device value stands for, per (input group,
    /// output) at `g * n_out + i`: the layer's largest magnitude everywhere without weight
    /// scaling.
    pub magnitudes: Vec<f32>,
}

/// The integer of weight `w` on B = `bits` bits against `w_max`: R(w / (2 w_max) * 2^B *
/// (2^(B-1) - 1) / 2^(B-1)), in f64 and in that order (the rounding of ties then follows the
/// sign-magnitude convention of bit-sliced cores exactly), clipped to +-(2^(B-1) - 1).
pub fn integer_weight(w: f32, w_max: f32, bits: u32) -> i64 {
    let top = (1i64 << (bits - 1)) - 1;
    let half = (1i64 << (bits - 1)) as f64;
    let clipped = f64::from(w.clamp(-w_max, w_max));
    let v = clipped / (2.0 * f64::from(w_max)) * (2.0 * half) * (top as f64 / half);
    (v.round_ties_even() as i64).clamp(-top, top)
}

/// Cuts weights `w` (n_out, n_in) on `grid` into the slices `slicing` describes, each
/// normalised as `scaling` says.
pub fn slice_weights(
    w: &[f32],
    slicing: &Slicing,
    grid: &TileGrid,
    scaling: WeightScaling,
) -> SlicedWeights {
    let w_max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let magnitudes = match scaling {
        WeightScaling::None => vec![w_max; grid.digital_gains()],
        WeightScaling::Tile => grid.weight_magnitudes(w, false),
        WeightScaling::Column => grid.weight_magnitudes(w, true),
    };
    let n = w.len();
    let slices = slicing.slices as usize;
    let mut out = vec![0.0; slices * n];
    if w_max == 0.0 {
        return SlicedWeights {
            slices: out,
            magnitudes,
        };
    }
    // The magnitude of every weight's (input group, output).
    let magnitude_of = |e: usize| {
        let (i, j) = (e / grid.n_in, e % grid.n_in);
        let g = group_of(j as u32, grid.n_in as u32, grid.in_groups as u32) as usize;
        magnitudes[g * grid.n_out + i]
    };
    if slicing.weight_bits == 0 {
        for (e, (o, &v)) in out.iter_mut().zip(w).enumerate() {
            *o = (v / magnitude_of(e)).clamp(-1.0, 1.0);
        }
        return SlicedWeights {
            slices: out,
            magnitudes,
        };
    }
    let bits = slicing.weight_bits;
    let bs = slicing.bits_per_slice;
    let levels = ((1u64 << bs) - 1) as f64;
    let offset = (1i64 << (bits - 1)) - 1;
    for (e, &v) in w.iter().enumerate() {
        let int = integer_weight(v, magnitude_of(e), bits);
        let (magnitude, sign) = match slicing.encoding {
            WeightEncoding::Differential => (int.unsigned_abs(), int.signum() as f64),
            WeightEncoding::Offset => ((int + offset) as u64, 1.0),
        };
        for j in 0..slices {
            let shifted = magnitude >> (j as u32 * bs);
            // The top slice takes every bit left.
            let digit = if j + 1 == slices {
                shifted
            } else {
                shifted & ((1u64 << bs) - 1)
            };
            out[j * n + e] = (sign * digit as f64 / levels) as f32;
        }
    }
    SlicedWeights {
        slices: out,
        magnitudes,
    }
}

/// The output scale of every (input group, output), at `g * n_out + i`: what a digital sum
/// of conversions (in units of the partial sum, slices and reads weighted) is worth in the
/// layer's weight units, times its tile's drift-compensation gain (`gains`, per tile).
pub fn out_scales(
    hw: &HwConfig,
    slicing: &Slicing,
    grid: &TileGrid,
    magnitudes: &[f32],
    gains: &[f32],
) -> Vec<f32> {
    let integer_top = if slicing.weight_bits == 0 {
        1.0
    } else {
        ((1u64 << (slicing.weight_bits - 1)) - 1) as f32
    };
    let gains = grid.per_output(gains);
    gains
        .iter()
        .zip(magnitudes)
        .map(|(g, &m)| g * (m / (integer_top * hw.conductance_range)))
        .collect()
}

/// Rows of every row group of the layer, at `g * row_groups + r` (0 for the groups a smaller
/// tile does not have).
fn group_rows(grid: &TileGrid, p: &SlicedParams) -> Vec<usize> {
    let mut rows = vec![0; grid.in_groups * p.row_groups as usize];
    for g in 0..grid.in_groups {
        let kn = grid.in_range(g).len();
        let groups = group_count(kn, p.rows_parallel as usize);
        for r in 0..groups {
            rows[g * p.row_groups as usize + r] =
                split_size(kn as u32, groups as u32, r as u32) as usize;
        }
    }
    rows
}

/// The full range of a group of `rows` rows: its largest partial sum, on a grid aligned with
/// the values sliced weights and multi-level inputs can take. A partial sum is then an integer
/// multiple of δ = Wr / ((2^bits_per_slice - 1) (2^bits_per_read - 1)), at most
/// rows (2^bits_per_slice - 1)(2^bits_per_read - 1) of them; the ADC step is k δ with the
/// smallest k that covers it (made odd when above 1, so that no value lies on a rounding
/// midpoint). With k = 1 the conversion is lossless. Continuous weights or an ideal DAC take
/// +-rows Wr.
fn full_range(p: &SlicedParams, rows: usize) -> f32 {
    let rows_f = rows.max(1) as f64;
    let wr = f64::from(p.conductance_range);
    if p.bits_per_slice == 0 || p.magnitude_bits == 0 || p.adc_levels == 0 {
        return (rows_f * wr) as f32;
    }
    let per_weight = ((1u64 << p.bits_per_slice) - 1) as f64;
    let per_digit = ((1u64 << p.bits_per_read) - 1) as f64;
    let delta = wr / (per_weight * per_digit);
    let largest = rows_f * per_weight * per_digit;
    let steps = f64::from(p.adc_levels - 1);
    let mut k = (2.0 * largest / steps).ceil().max(1.0);
    if k > 1.0 && k % 2.0 == 0.0 {
        k += 1.0;
    }
    (k * delta * steps / 2.0) as f32
}

/// The value at percentile `pct` (0..=100) of sorted `v`, interpolated linearly between
/// neighbours (numpy's default).
fn percentile(sorted: &[f32], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = pct / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    f64::from(sorted[lo]) + (f64::from(sorted[hi]) - f64::from(sorted[lo])) * frac
}

/// The calibrated range of one slice from its profiled partial sums: with p = max(|P(100 -
/// pct)|, |P(pct)|) / rows (rows = the layer's inputs), the range is +-rows / 2^floor(log2(1 /
/// p)): the smallest power-of-two fraction of +-rows that still covers the percentile.
pub fn calibrated_range(values: &mut [f32], pct: f64, rows: usize) -> f32 {
    values.sort_unstable_by(f32::total_cmp);
    let rows = rows.max(1) as f64;
    let p = percentile(values, 100.0 - pct)
        .abs()
        .max(percentile(values, pct).abs())
        / rows;
    if p <= 0.0 {
        // Nothing to cover: the whole range.
        return rows as f32;
    }
    let shift = (1.0 / p).log2().floor().max(0.0);
    (rows / 2f64.powf(shift)) as f32
}

/// The ADC half-range of every conversion of a layer, at `(g * row_groups + r) * slices +
/// slice`: full, fixed or calibrated on `calibration` (vectors of the layer's inputs) through
/// the slice weights `w` (slices, n_out, n_in).
///
/// # Errors
/// A calibrated range without calibration inputs, or with calibration inputs of another width.
pub fn ranges(
    hw: &HwConfig,
    grid: &TileGrid,
    p: &SlicedParams,
    w: &[f32],
    calibration: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let slices = p.slices as usize;
    let rows = group_rows(grid, p);
    let mut out = vec![0.0; rows.len() * slices];
    match hw.adc_range {
        AdcRange::Full | AdcRange::Aihwkit => {
            for (group, &n) in rows.iter().enumerate() {
                let hi = full_range(p, n);
                out[group * slices..(group + 1) * slices].fill(hi);
            }
        }
        AdcRange::Fixed => out.fill(hw.file.adc.bound),
        AdcRange::Calibrated => {
            let x = calibration.ok_or_else(|| Error::Config {
                origin: hw.origin.clone(),
                message: "adc.range \"calibrated\" needs calibration inputs for every layer".into(),
            })?;
            if x.is_empty() || x.len() % grid.n_in != 0 {
                return Err(Error::Shape(format!(
                    "{} calibration values for a layer of {} inputs",
                    x.len(),
                    grid.n_in
                )));
            }
            let p = SlicedParams {
                batch: (x.len() / grid.n_in) as u32,
                row_offset: 0,
                ..*p
            };
            let mut profile = crate::backend::cpu::sliced_profile(&p, x, w);
            let pct = hw.file.adc.percentile;
            let per_slice: Vec<f32> = profile
                .iter_mut()
                .map(|values| calibrated_range(values, pct, grid.n_in))
                .collect();
            for group in out.chunks_mut(slices) {
                group.copy_from_slice(&per_slice);
            }
        }
    }
    Ok(out)
}

/// Drift compensation of the sliced chip: per tile, the summed magnitude of its devices'
/// contributions (every slice weighted by its place) right after programming over the same
/// sum now.
pub fn compensation_gains(
    grid: &TileGrid,
    p: &SlicedParams,
    before: &[f32],
    now: &[f32],
) -> Vec<f32> {
    let per_slice = grid.n_out * grid.n_in;
    let mut gains = Vec::with_capacity(grid.tiles());
    for g in 0..grid.in_groups {
        for o in 0..grid.out_groups {
            let (mut b, mut a) = (0.0f64, 0.0f64);
            for s in 0..p.slices as usize {
                let factor = if p.bits_per_slice == 0 {
                    1.0
                } else {
                    (1u64 << (s as u32 * p.bits_per_slice)) as f64
                };
                for r in grid.out_range(o) {
                    for j in grid.in_range(g) {
                        let e = s * per_slice + r * grid.n_in + j;
                        b += factor * f64::from(before[e].abs());
                        a += factor * f64::from(now[e].abs());
                    }
                }
            }
            gains.push(if b > 0.0 {
                (b / a.max(1e-12)) as f32
            } else {
                1.0
            });
        }
    }
    gains
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_recombine_to_the_integer_weight() {
        for (bits, cell, encoding) in [
            (8, 1, WeightEncoding::Differential),
            (8, 2, WeightEncoding::Differential),
            (8, 3, WeightEncoding::Differential),
            (7, 2, WeightEncoding::Offset),
            (8, 4, WeightEncoding::Offset),
        ] {
            let slicing = Slicing::new(bits, cell, encoding);
            let w: Vec<f32> = (0..41).map(|i| (i as f32 - 20.0) / 13.0).collect();
            let grid = TileGrid::new(1, w.len(), 64, 64).unwrap();
            let sliced = slice_weights(&w, &slicing, &grid, WeightScaling::None);
            let levels = ((1u64 << slicing.bits_per_slice) - 1) as f64;
            let offset = if encoding == WeightEncoding::Offset {
                ((1i64 << (bits - 1)) - 1) as f64
            } else {
                0.0
            };
            for (e, &v) in w.iter().enumerate() {
                let sum: f64 = (0..slicing.slices as usize)
                    .map(|j| {
                        f64::from(sliced.slices[j * w.len() + e])
                            * levels
                            * 2f64.powi((j as u32 * slicing.bits_per_slice) as i32)
                    })
                    .sum();
                let expected = integer_weight(v, sliced.magnitudes[0], bits) as f64;
                assert!(
                    (sum - offset - expected).abs() < 1e-4,
                    "{bits} bits on {cell}-bit cells ({encoding:?}): weight {v}: {sum} - {offset} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn calibrated_ranges_are_power_of_two_fractions_of_the_rows() {
        let mut v: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) / 100.0).collect();
        // |P| = 5 of 100 rows: 1/p = 20, floor(log2 20) = 4, 100 / 16 = 6.25.
        assert_eq!(calibrated_range(&mut v, 100.0, 100), 6.25);
        let mut zeros = vec![0.0; 10];
        assert_eq!(calibrated_range(&mut zeros, 99.0, 40), 40.0);
    }
}
