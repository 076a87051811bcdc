//! One chip's layers on the CPU: the backend, a programmed layer (conductances, effective
//! weights, drift-compensation gains), and the kernels that act on one: programming, the
//! identity read-out and the analog MVM.

use super::analog_mvm::analog_mvm;
use super::gdc_readout::gdc_readout;
use super::program_conductances::{ProgrammedArrays, program_conductances};
use super::sliced_mvm::sliced_mvm;
use crate::backend::params::{MvmParams, ProgramParams, ReadoutParams, SlicedParams};
use crate::backend::{Conductances, WeightState};
use crate::error::Result;
use crate::physics::mapping::TileGrid;
use std::sync::OnceLock;

/// Runs the kernels on the host's cores.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

/// A layer programmed on the CPU: the devices of every slice, (slices, n_out, n_in).
#[derive(Debug)]
pub struct CpuLayer {
    pub(super) grid: TileGrid,
    g_pos: Vec<f32>,
    g_neg: Vec<f32>,
    w_prog: Vec<f32>,
    w_now: Vec<f32>,
    /// |w_now|, made on first use by the weight read noise.
    w_abs: OnceLock<Vec<f32>>,
    /// Digital gain per (input group, output): drift compensation and weight scale (aihwkit
    /// chip), or output scale (sliced).
    gains: Vec<f32>,
    /// ADC half-range per (layer row group, slice) of the sliced chip.
    ranges: Vec<f32>,
}

impl CpuLayer {
    /// Effective weights at inference time, (slices, n_out, n_in).
    pub fn weights(&self) -> &[f32] {
        &self.w_now
    }

    /// The ADC half-range of every conversion of a sliced layer, at `(layer row group) *
    /// slices + slice` (empty on aihwkit's chip).
    pub fn ranges(&self) -> &[f32] {
        &self.ranges
    }

    fn w_abs(&self) -> &[f32] {
        self.w_abs
            .get_or_init(|| self.w_now.iter().map(|v| v.abs()).collect())
    }
}

impl CpuBackend {
    pub(super) fn program_chip(
        &self,
        grid: &TileGrid,
        w: &[f32],
        scales: &[f32],
        params: &ProgramParams,
    ) -> Result<CpuLayer> {
        let n = grid.n_out * grid.n_in * params.slices.max(1) as usize;
        let mut layer = CpuLayer {
            grid: *grid,
            g_pos: vec![0.0; n],
            g_neg: vec![0.0; n],
            w_prog: vec![0.0; n],
            w_now: vec![0.0; n],
            w_abs: OnceLock::new(),
            gains: vec![1.0; grid.digital_gains()],
            ranges: Vec::new(),
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

    pub(super) fn readout_chip(
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

    pub(super) fn set_gains_chip(&self, layer: &mut CpuLayer, gains: &[f32]) -> Result<()> {
        layer.grid.check_digital_gains(gains)?;
        layer.gains.copy_from_slice(gains);
        Ok(())
    }

    pub(super) fn mvm_chip(
        &self,
        layer: &CpuLayer,
        x: &[f32],
        params: &MvmParams,
    ) -> Result<Vec<f32>> {
        let mut y = vec![0.0; params.batch as usize * layer.grid.n_out];
        let w_abs = (params.periphery.w_noise > 0.0 || params.periphery.ir_drop > 0.0)
            .then(|| layer.w_abs());
        analog_mvm(params, x, &layer.w_now, w_abs, &layer.gains, &mut y);
        Ok(y)
    }

    pub(super) fn set_ranges_chip(&self, layer: &mut CpuLayer, ranges: &[f32]) -> Result<()> {
        layer.ranges = ranges.to_vec();
        Ok(())
    }

    pub(super) fn sliced_mvm_chip(
        &self,
        layer: &CpuLayer,
        x: &[f32],
        params: &SlicedParams,
    ) -> Result<Vec<f32>> {
        let mut y = vec![0.0; params.batch as usize * layer.grid.n_out];
        let w_abs = (params.w_noise > 0.0).then(|| layer.w_abs());
        sliced_mvm(
            params,
            x,
            &layer.w_now,
            w_abs,
            &layer.gains,
            &layer.ranges,
            &mut y,
        );
        Ok(y)
    }

    pub(super) fn weights_chip(&self, layer: &CpuLayer, state: WeightState) -> Result<Vec<f32>> {
        Ok(match state {
            WeightState::Programmed => layer.w_prog.clone(),
            WeightState::Now => layer.w_now.clone(),
        })
    }

    pub(super) fn conductances_chip(&self, layer: &CpuLayer) -> Result<Conductances> {
        Ok(Conductances {
            g_pos: layer.g_pos.clone(),
            g_neg: layer.g_neg.clone(),
        })
    }
}
