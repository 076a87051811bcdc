//! Programming a chip instance of a layer: weights -> differential conductance pairs ->
//! device noise, stuck-at faults, drift and read noise -> effective weights.
//!
//! CPU twin of `shaders/program_conductances.wgsl` (same name, same `ProgramParams`, the same
//! per-element function); the GPU runs one invocation per weight, this runs rows in parallel.

use crate::backend::params::ProgramParams;
use crate::physics::device::{
    DeviceParams, MODEL_IDEAL, apply_stuck, drift_device, program_device, quantize_conductance,
};
use crate::physics::mapping::group_of;
use crate::physics::rng::{Purpose, normals4, uniforms4};
use rayon::prelude::*;

/// The arrays a programming pass writes, each (n_rows, n_in) row-major for the CPU.
pub struct ProgrammedArrays<'a> {
    /// Positive device of each pair, as programmed (uS).
    pub g_pos: &'a mut [f32],
    /// Negative device of each pair, as programmed (uS).
    pub g_neg: &'a mut [f32],
    /// Effective weights right after programming.
    pub w_prog: &'a mut [f32],
    /// Effective weights at inference time.
    pub w_now: &'a mut [f32],
}

/// The random draws of one element, by purpose; cached per Philox block (4 elements).
#[derive(Default)]
struct Draws {
    block: Option<u32>,
    prog: [[f32; 4]; 2],
    drift: [[f32; 4]; 2],
    read: [[f32; 4]; 2],
    stuck: [[f32; 4]; 2],
}

impl Draws {
    fn refresh(&mut self, p: &ProgramParams, dev: &DeviceParams, block: u32, slice: u32) {
        if self.block == Some(block) {
            return;
        }
        self.block = Some(block);
        let key = [p.key_lo, p.key_hi];
        let ctr = |purpose: Purpose| [block, slice, p.stream, purpose as u32];
        if dev.model != MODEL_IDEAL {
            self.prog = [
                normals4(ctr(Purpose::ProgPos), key),
                normals4(ctr(Purpose::ProgNeg), key),
            ];
        }
        if dev.drifts == 1 {
            self.drift = [
                normals4(ctr(Purpose::DriftPos), key),
                normals4(ctr(Purpose::DriftNeg), key),
            ];
            self.read = [
                normals4(ctr(Purpose::ReadPos), key),
                normals4(ctr(Purpose::ReadNeg), key),
            ];
        }
        if dev.stuck_on + dev.stuck_off > 0.0 {
            self.stuck = [
                uniforms4(ctr(Purpose::StuckPos), key),
                uniforms4(ctr(Purpose::StuckNeg), key),
            ];
        }
    }
}

/// One device of a pair from target to (programmed, at inference). `side` 0 is positive.
/// Twin of `program_one` in WGSL.
#[inline]
fn program_one(
    dev: &DeviceParams,
    draws: &Draws,
    side: usize,
    lane: usize,
    target: f32,
) -> (f32, f32) {
    let u = draws.stuck[side][lane];
    let stuck = u < dev.stuck_off + dev.stuck_on;
    let g_prog = apply_stuck(dev, program_device(dev, target, draws.prog[side][lane]), u);
    let g_now = if stuck {
        g_prog
    } else {
        drift_device(
            dev,
            target,
            g_prog,
            draws.drift[side][lane],
            draws.read[side][lane],
        )
    };
    (g_prog, g_now)
}

/// Programs rows `p.row_offset .. p.row_offset + p.n_rows` of a layer, of every slice.
///
/// `w` holds those rows of the layer's weights, (slices, n_rows, n_in); `scales` the
/// conductance scale of every tile of the layer. Slice `s` draws its devices with counter
/// word 1 = `s`; with `p.one_sided` the negative device is absent. The CPU always writes
/// `w_now` untransposed.
pub fn program_conductances(
    p: &ProgramParams,
    scales: &[f32],
    w: &[f32],
    out: ProgrammedArrays<'_>,
) {
    debug_assert_eq!(p.w_now_transposed, 0, "the CPU keeps weights row-major");
    let n_in = p.n_in as usize;
    let dev = p.device();
    w.par_chunks(n_in)
        .zip(out.g_pos.par_chunks_mut(n_in))
        .zip(out.g_neg.par_chunks_mut(n_in))
        .zip(out.w_prog.par_chunks_mut(n_in))
        .zip(out.w_now.par_chunks_mut(n_in))
        .enumerate()
        .for_each(|(i, ((((w_row, gp_row), gn_row), wp_row), wn_row))| {
            let slice = i as u32 / p.n_rows.max(1);
            let row = p.row_offset + i as u32 % p.n_rows.max(1);
            let o = group_of(row, p.n_out, p.out_groups);
            let mut draws = Draws::default();
            for j in 0..n_in {
                let g = group_of(j as u32, p.n_in, p.in_groups);
                let scale = scales[(g * p.out_groups + o) as usize];
                let e = row * p.n_in + j as u32;
                draws.refresh(p, &dev, e >> 2, slice);
                let lane = (e & 3) as usize;
                let target_pos = quantize_conductance(
                    (w_row[j] * scale).clamp(0.0, dev.g_max),
                    dev.g_max,
                    p.weight_levels,
                );
                let target_neg = quantize_conductance(
                    (-w_row[j] * scale).clamp(0.0, dev.g_max),
                    dev.g_max,
                    p.weight_levels,
                );
                let (gp, gp_now) = program_one(&dev, &draws, 0, lane, target_pos);
                let (gn, gn_now) = if p.one_sided == 1 {
                    (0.0, 0.0)
                } else {
                    program_one(&dev, &draws, 1, lane, target_neg)
                };
                gp_row[j] = gp;
                gn_row[j] = gn;
                wp_row[j] = (gp - gn) / scale;
                wn_row[j] = (gp_now - gn_now) / scale;
            }
        });
}
