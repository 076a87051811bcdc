//! Simulation backends: one trait in domain terms, a CPU reference and a WGSL/wgpu GPU
//! implementation that is tested against it.
//!
//! A backend holds programmed layers in its own memory (host vectors or GPU buffers) and
//! runs the three kernels of the engine on them: `program_conductances`, `gdc_readout` and
//! `analog_mvm`. What to program and how to combine the read-outs is decided once, in
//! [`crate::engine`], for both.

pub mod cpu;
pub mod gpu;
pub mod params;

use crate::error::Result;
use crate::mapping::TileGrid;
use params::{MvmParams, ProgramParams, ReadoutParams};

/// Which weights of a programmed layer a read-out sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightState {
    /// Right after programming (before drift).
    Programmed,
    /// At inference time.
    Now,
}

/// The programmed conductances of a layer, (n_out, n_in) row-major, in microsiemens.
#[derive(Clone, Debug, PartialEq)]
pub struct Conductances {
    /// Positive device of each pair.
    pub g_pos: Vec<f32>,
    /// Negative device of each pair.
    pub g_neg: Vec<f32>,
}

/// A place where the crossbar kernels run.
pub trait Backend {
    /// A programmed layer held by the backend.
    type Layer;

    /// One line naming the backend and its device.
    fn describe(&self) -> String;

    /// Programs one chip instance of a layer of weights `w` (n_out, n_in) with the
    /// conductance scale `scales[t]` of each tile; drift-compensation gains start at 1.
    ///
    /// # Errors
    /// GPU failures (out of memory, lost device).
    fn program(
        &self,
        grid: &TileGrid,
        w: &[f32],
        scales: &[f32],
        params: &ProgramParams,
    ) -> Result<Self::Layer>;

    /// Identity read-out sums per (output group, input column), `out_groups * n_in` values.
    ///
    /// # Errors
    /// GPU failures.
    fn readout(
        &self,
        layer: &Self::Layer,
        state: WeightState,
        params: &ReadoutParams,
    ) -> Result<Vec<f32>>;

    /// Sets the drift-compensation gain of every tile.
    ///
    /// # Errors
    /// GPU failures.
    fn set_gains(&self, layer: &mut Self::Layer, gains: &[f32]) -> Result<()>;

    /// Analog MVM of `params.batch` vectors `x` (batch, n_in) -> (batch, n_out).
    ///
    /// # Errors
    /// GPU failures.
    fn mvm(&self, layer: &Self::Layer, x: &[f32], params: &MvmParams) -> Result<Vec<f32>>;

    /// The programmed conductances (for inspection and tests).
    ///
    /// # Errors
    /// GPU failures.
    fn conductances(&self, layer: &Self::Layer) -> Result<Conductances>;
}
