//! The CPU backend: the readable reference of every kernel, and the fast path for users
//! without a GPU (rayon over blocks of rows, blocked SIMD GEMM, vectorised noise).

mod analog_mvm;
mod gdc_readout;
pub mod gemm;
pub mod network_ops;
mod program_conductances;

pub use analog_mvm::analog_mvm;
pub use gdc_readout::gdc_readout;
pub use program_conductances::{ProgrammedArrays, program_conductances};

use super::params::{MvmParams, ProgramParams, ReadoutParams};
use super::{Backend, Conductances, WeightState};
use crate::error::Result;
use crate::mapping::TileGrid;
use std::sync::OnceLock;

/// Runs the kernels on the host's cores.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

/// A layer programmed on the CPU.
#[derive(Debug)]
pub struct CpuLayer {
    grid: TileGrid,
    g_pos: Vec<f32>,
    g_neg: Vec<f32>,
    w_prog: Vec<f32>,
    w_now: Vec<f32>,
    /// |w_now|, made on first use by the weight read noise.
    w_abs: OnceLock<Vec<f32>>,
    gains: Vec<f32>,
}

impl CpuLayer {
    /// Effective weights at inference time, (n_out, n_in).
    pub fn weights(&self) -> &[f32] {
        &self.w_now
    }
}

impl Backend for CpuBackend {
    type Layer = CpuLayer;

    fn describe(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn program(
        &self,
        grid: &TileGrid,
        w: &[f32],
        scales: &[f32],
        params: &ProgramParams,
    ) -> Result<CpuLayer> {
        let n = grid.n_out * grid.n_in;
        let mut layer = CpuLayer {
            grid: *grid,
            g_pos: vec![0.0; n],
            g_neg: vec![0.0; n],
            w_prog: vec![0.0; n],
            w_now: vec![0.0; n],
            w_abs: OnceLock::new(),
            gains: vec![1.0; grid.tiles()],
        };
        let arrays = ProgrammedArrays {
            g_pos: &mut layer.g_pos,
            g_neg: &mut layer.g_neg,
            w_prog: &mut layer.w_prog,
            w_now: &mut layer.w_now,
        };
        program_conductances(params, scales, w, arrays);
        Ok(layer)
    }

    fn readout(
        &self,
        layer: &CpuLayer,
        state: WeightState,
        params: &ReadoutParams,
    ) -> Result<Vec<f32>> {
        let w = match state {
            WeightState::Programmed => &layer.w_prog,
            WeightState::Now => &layer.w_now,
        };
        let mut sums = vec![0.0; params.group_count as usize * layer.grid.n_in];
        gdc_readout(params, w, &mut sums);
        Ok(sums)
    }

    fn set_gains(&self, layer: &mut CpuLayer, gains: &[f32]) -> Result<()> {
        layer.gains.copy_from_slice(gains);
        Ok(())
    }

    fn mvm(&self, layer: &CpuLayer, x: &[f32], params: &MvmParams) -> Result<Vec<f32>> {
        let mut y = vec![0.0; params.batch as usize * layer.grid.n_out];
        let w_abs = (params.w_noise > 0.0).then(|| {
            layer
                .w_abs
                .get_or_init(|| layer.w_now.iter().map(|v| v.abs()).collect())
        });
        analog_mvm(
            params,
            x,
            &layer.w_now,
            w_abs.map(Vec::as_slice),
            &layer.gains,
            &mut y,
        );
        Ok(y)
    }

    fn conductances(&self, layer: &CpuLayer) -> Result<Conductances> {
        Ok(Conductances {
            g_pos: layer.g_pos.clone(),
            g_neg: layer.g_neg.clone(),
        })
    }
}
