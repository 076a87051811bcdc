//! Chip instances of a network evaluated together: a backend programs a set of consecutive
//! instances at once ([`NetworkBackend`]) and runs every image batch through all of them
//! ([`ChipSet`]). The CPU runs the instances of a set one after another; the GPU stacks
//! them into one pass with the activations kept on the device.

use super::Network;
use super::exec::Executor;
use super::matrices::AnalogMatrices;
use crate::backend::Backend;
use crate::backend::cpu::CpuBackend;
use crate::config::HwConfig;
use crate::engine::Chip;
use crate::error::Result;
use crate::rng::Seed;
use std::ops::Range;

/// Chip instances of one network, programmed on a backend.
pub trait ChipSet {
    /// Chip instances in the set.
    fn chips(&self) -> usize;

    /// Class logits (chips, batch, classes) of `batch` images (NCHW, pixels in [0, 1]) on
    /// every chip of the set, in instance order; `first_image` is the dataset index of the
    /// first image.
    ///
    /// # Errors
    /// Wrong input size, backend failures.
    fn logits(
        &self,
        exec: &Executor,
        images: &[f32],
        batch: usize,
        first_image: usize,
    ) -> Result<Vec<f32>>;
}

/// A backend that runs whole networks on sets of chip instances.
pub trait NetworkBackend: Backend {
    /// How many chip instances of `net` with hardware `hw` a set should hold for batches of
    /// `batch` images: as many as fit the backend's memory in one pass.
    ///
    /// # Errors
    /// Layers the engine cannot hold.
    fn chips_per_set(&self, hw: &HwConfig, net: &Network, batch: usize) -> Result<usize>;

    /// Programs the consecutive chip instances `instances` of `net` with hardware `hw`.
    ///
    /// # Errors
    /// Layers the engine cannot hold, backend failures.
    fn program_chips<'a>(
        &'a self,
        hw: &HwConfig,
        net: &Network,
        seed: Seed,
        instances: Range<u32>,
    ) -> Result<Box<dyn ChipSet + 'a>>;
}

/// Chip instances run one after another through the host executor.
struct HostChips<'b, B: Backend> {
    chips: Vec<AnalogMatrices<'b, B>>,
}

impl<B: Backend> ChipSet for HostChips<'_, B> {
    fn chips(&self) -> usize {
        self.chips.len()
    }

    fn logits(
        &self,
        exec: &Executor,
        images: &[f32],
        batch: usize,
        first_image: usize,
    ) -> Result<Vec<f32>> {
        let mut all = Vec::new();
        for matrices in &self.chips {
            all.extend(exec.logits(matrices, images, batch, first_image)?);
        }
        Ok(all)
    }
}

impl NetworkBackend for CpuBackend {
    /// One: the cores are busy with one instance already, and a set of one keeps memory low.
    fn chips_per_set(&self, _: &HwConfig, _: &Network, _: usize) -> Result<usize> {
        Ok(1)
    }

    fn program_chips<'a>(
        &'a self,
        hw: &HwConfig,
        net: &Network,
        seed: Seed,
        instances: Range<u32>,
    ) -> Result<Box<dyn ChipSet + 'a>> {
        let chips = instances
            .map(|instance| AnalogMatrices::program(self, hw, net, Chip { seed, instance }))
            .collect::<Result<_>>()?;
        Ok(Box::new(HostChips { chips }))
    }
}
