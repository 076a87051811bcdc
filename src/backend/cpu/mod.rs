//! The CPU backend: the readable reference of every kernel, and the fast path for users
//! without a GPU (rayon over blocks of rows, blocked SIMD GEMM, vectorised noise).

mod analog_mvm;
mod chip;
mod gdc_readout;
pub mod gemm;
mod layers;
pub mod network_ops;
mod program_conductances;
mod sliced_mvm;

pub use analog_mvm::analog_mvm;
pub use chip::{CpuBackend, CpuLayer};
pub use gdc_readout::gdc_readout;
pub use layers::CpuStack;
pub use program_conductances::{ProgrammedArrays, program_conductances};
pub use sliced_mvm::{adc_convert, dac_digits, sliced_mvm, sliced_profile};

use super::params::{MvmParams, OpParams, ProgramParams, ReadoutParams, SlicedParams};
use super::{Backend, ChipLayer, Conductances, WeightState};
use crate::error::Result;
use crate::physics::mapping::TileGrid;
use layers::host_output;

impl Backend for CpuBackend {
    type Layer = CpuLayer;
    type Stack = CpuStack;
    type Batch = Vec<f32>;

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
        self.program_chip(grid, w, scales, params)
    }

    fn readout(
        &self,
        layer: &CpuLayer,
        state: WeightState,
        params: &ReadoutParams,
    ) -> Result<Vec<f32>> {
        self.readout_chip(layer, state, params)
    }

    fn set_gains(&self, layer: &mut CpuLayer, gains: &[f32]) -> Result<()> {
        self.set_gains_chip(layer, gains)
    }

    fn mvm(&self, layer: &CpuLayer, x: &[f32], params: &MvmParams) -> Result<Vec<f32>> {
        self.mvm_chip(layer, x, params)
    }

    fn conductances(&self, layer: &CpuLayer) -> Result<Conductances> {
        self.conductances_chip(layer)
    }

    fn set_ranges(&self, layer: &mut CpuLayer, ranges: &[f32]) -> Result<()> {
        self.set_ranges_chip(layer, ranges)
    }

    fn sliced_mvm(&self, layer: &CpuLayer, x: &[f32], params: &SlicedParams) -> Result<Vec<f32>> {
        self.sliced_mvm_chip(layer, x, params)
    }

    fn weights(&self, layer: &CpuLayer, state: WeightState) -> Result<Vec<f32>> {
        self.weights_chip(layer, state)
    }

    /// One: the cores are busy with one chip already, and a set of one keeps memory low.
    fn chips_per_set(&self, _: &[(TileGrid, usize)], _: usize, _: usize) -> Result<usize> {
        Ok(1)
    }

    /// Every image: host memory holds a batch.
    fn images_per_pass(&self, _: usize, _: usize) -> Result<usize> {
        Ok(usize::MAX)
    }

    fn stack(
        &self,
        grid: &TileGrid,
        chips: Vec<ChipLayer<CpuLayer>>,
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<CpuStack> {
        self.stack_chips(chips, (grid.n_out, grid.n_in), bias, kept)
    }

    fn input(
        &self,
        p: &OpParams,
        images: &[f32],
        per_channel: &[f32],
        chips: usize,
    ) -> Result<Vec<f32>> {
        Ok(Self::input_batch(p, images, per_channel, chips))
    }

    fn duplicate(&self, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(x.clone())
    }

    fn conv(
        &self,
        layer: &CpuStack,
        p: &OpParams,
        x: &Vec<f32>,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        self.conv_layer(layer, p, x, row_offset)
    }

    fn linear(
        &self,
        layer: &CpuStack,
        p: &OpParams,
        x: &Vec<f32>,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        self.linear_layer(layer, p, x, row_offset)
    }

    fn channel_affine(&self, p: &OpParams, per_channel: &[f32], x: &mut Vec<f32>) -> Result<()> {
        network_ops::channel_affine(p, per_channel, x);
        Ok(())
    }

    fn relu(&self, p: &OpParams, x: &mut Vec<f32>) -> Result<()> {
        network_ops::relu(p, x);
        Ok(())
    }

    fn add(&self, p: &OpParams, other: &Vec<f32>, x: &mut Vec<f32>) -> Result<()> {
        network_ops::add(p, other, x);
        Ok(())
    }

    fn pool(&self, p: &OpParams, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(host_output(p, |y| network_ops::pool(p, x, y)))
    }

    fn global_avg_pool(&self, p: &OpParams, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(host_output(p, |y| network_ops::global_avg_pool(p, x, y)))
    }

    fn to_channels_first(&self, p: &OpParams, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(host_output(p, |y| network_ops::to_channels_first(p, x, y)))
    }

    fn output(&self, x: Vec<f32>) -> Result<Vec<f32>> {
        Ok(x)
    }
}
