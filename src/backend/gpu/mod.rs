//! The GPU backend: the engine's kernels as WGSL compute shaders through wgpu, on any GPU
//! (Vulkan, Metal, DX12) and on software adapters such as llvmpipe when asked for.
//!
//! A programmed layer stays on the device. Layers whose weights exceed the adapter's
//! storage-binding limit are split into column chunks of whole output groups, and batches
//! into row chunks, so that every binding fits. Whole networks run with their activations
//! on the device, many chip instances stacked in one pass ([`GpuStack`]).

mod chip;
mod context;
mod layers;
mod shaders;

pub use chip::{GpuBackend, GpuLayer};
pub use context::is_hardware;
pub use layers::{DeviceBatch, GpuStack};
pub use shaders::{
    Kernel, MVM_ROWS, OPS_WORKGROUP, PROGRAM_WORKGROUP, READOUT_WORKGROUP, SLICED_WORKGROUP,
};

use super::params::{MvmParams, OpParams, ProgramParams, ReadoutParams, SlicedParams};
use super::{Backend, ChipLayer, Conductances, WeightState};
use crate::error::Result;
use crate::physics::mapping::TileGrid;

impl Backend for GpuBackend {
    type Layer = GpuLayer;
    type Stack = GpuStack;
    type Batch = DeviceBatch;

    fn describe(&self) -> String {
        let kind = if self.is_hardware() { "" } else { ", software" };
        format!(
            "gpu: {} ({:?}{kind})",
            self.ctx.info.name, self.ctx.info.backend
        )
    }

    fn program(
        &self,
        grid: &TileGrid,
        w: &[f32],
        scales: &[f32],
        params: &ProgramParams,
    ) -> Result<GpuLayer> {
        self.program_chip(grid, w, scales, params)
    }

    fn readout(
        &self,
        layer: &GpuLayer,
        state: WeightState,
        params: &ReadoutParams,
    ) -> Result<Vec<f32>> {
        self.readout_chip(layer, state, params)
    }

    fn set_gains(&self, layer: &mut GpuLayer, gains: &[f32]) -> Result<()> {
        self.set_gains_chip(layer, gains)
    }

    fn mvm(&self, layer: &GpuLayer, x: &[f32], params: &MvmParams) -> Result<Vec<f32>> {
        self.mvm_chip(layer, x, params)
    }

    fn conductances(&self, layer: &GpuLayer) -> Result<Conductances> {
        self.conductances_chip(layer)
    }

    fn set_ranges(&self, layer: &mut GpuLayer, ranges: &[f32]) -> Result<()> {
        self.set_ranges_chip(layer, ranges)
    }

    fn sliced_mvm(&self, layer: &GpuLayer, x: &[f32], params: &SlicedParams) -> Result<Vec<f32>> {
        self.sliced_mvm_chip(layer, x, params)
    }

    fn weights(&self, layer: &GpuLayer, state: WeightState) -> Result<Vec<f32>> {
        self.weights_chip(layer, state)
    }

    fn chips_per_set(
        &self,
        grids: &[(TileGrid, usize)],
        floats_per_image: usize,
        batch: usize,
    ) -> Result<usize> {
        self.set_size(grids, floats_per_image, batch)
    }

    fn images_per_pass(&self, chips: usize, floats_per_image: usize) -> Result<usize> {
        self.pass_size(chips, floats_per_image)
    }

    fn stack(
        &self,
        grid: &TileGrid,
        chips: Vec<ChipLayer<GpuLayer>>,
        bias: Option<&[f32]>,
        kept: Option<&[u32]>,
    ) -> Result<GpuStack> {
        self.stack_chips(grid, chips, bias, kept)
    }

    fn input(
        &self,
        p: &OpParams,
        images: &[f32],
        per_channel: &[f32],
        chips: usize,
    ) -> Result<DeviceBatch> {
        Ok(self.input_batch(p, images, per_channel, chips))
    }

    fn duplicate(&self, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.duplicate_batch(x))
    }

    fn conv(
        &self,
        layer: &GpuStack,
        p: &OpParams,
        x: &DeviceBatch,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        self.conv_layer(layer, p, x, row_offset)
    }

    fn linear(
        &self,
        layer: &GpuStack,
        p: &OpParams,
        x: &DeviceBatch,
        row_offset: u32,
    ) -> Result<DeviceBatch> {
        self.linear_layer(layer, p, x, row_offset)
    }

    fn channel_affine(&self, p: &OpParams, per_channel: &[f32], x: &mut DeviceBatch) -> Result<()> {
        self.channel_affine_batch(p, per_channel, x);
        Ok(())
    }

    fn relu(&self, p: &OpParams, x: &mut DeviceBatch) -> Result<()> {
        self.in_place(Kernel::Relu, p, None, x);
        Ok(())
    }

    fn add(&self, p: &OpParams, other: &DeviceBatch, x: &mut DeviceBatch) -> Result<()> {
        self.in_place(Kernel::Add, p, Some(other), x);
        Ok(())
    }

    fn pool(&self, p: &OpParams, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.to_new(Kernel::Pool, p, x))
    }

    fn global_avg_pool(&self, p: &OpParams, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.to_new(Kernel::GlobalAvgPool, p, x))
    }

    fn to_channels_first(&self, p: &OpParams, x: &DeviceBatch) -> Result<DeviceBatch> {
        Ok(self.to_new(Kernel::ToChannelsFirst, p, x))
    }

    fn output(&self, x: DeviceBatch) -> Result<Vec<f32>> {
        self.download_batch(x)
    }
}
