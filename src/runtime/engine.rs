//! The crossbar engine: a layer programmed onto tiles as one chip instance, with global
//! drift compensation, and its analog forward pass with digital bias. Backend-agnostic:
//! the same code drives the CPU and the GPU.

use crate::backend::params::{MvmParams, Periphery, ProgramParams, ReadoutParams};
use crate::backend::{Backend, ChipLayer, Conductances, WeightState};
use crate::config::{DriftCompensation, HwConfig};
use crate::error::{Error, Result, ensure_finite};
use crate::physics::device::DeviceParams;
use crate::physics::mapping::TileGrid;
use crate::physics::rng::{Purpose, Seed, Stream};

/// Which chip a layer is programmed on: the run's seed and the instance number. Each
/// instance is an independent draw of every device non-ideality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chip {
    /// Seed of all draws.
    pub seed: Seed,
    /// Chip instance (< 2^20).
    pub instance: u32,
}

/// A layer programmed onto crossbar tiles of one chip instance, held by a backend.
pub struct AnalogLayer<L> {
    grid: TileGrid,
    periphery: Periphery,
    bias: Option<Vec<f32>>,
    seed: Seed,
    stream: Stream,
    gains: Vec<f32>,
    layer: L,
}

impl<L> AnalogLayer<L> {
    /// How the layer is split onto tiles.
    pub fn grid(&self) -> &TileGrid {
        &self.grid
    }

    /// Drift-compensation gain of every tile (1 without compensation).
    pub fn gains(&self) -> &[f32] {
        &self.gains
    }

    /// The backend's layer.
    pub fn inner(&self) -> &L {
        &self.layer
    }

    /// The digital bias added after the analog product, if any.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }

    /// The layer as one chip of a set to stack ([`Backend::stack`]); the stack takes the
    /// digital bias once for all its chips.
    pub fn into_chip(self) -> ChipLayer<L> {
        ChipLayer {
            params: self.mvm_params(0, 0),
            layer: self.layer,
            gains: self.gains,
        }
    }

    /// The kernel parameters of a forward pass of `batch` vectors, the first of them number
    /// `row_offset` of the data set.
    pub fn mvm_params(&self, batch: usize, row_offset: u32) -> MvmParams {
        MvmParams::new(
            &self.grid,
            &self.periphery,
            batch,
            row_offset,
            self.seed,
            self.stream,
        )
    }
}

/// Programs chip `chip` of layer `layer_id` with weights `w` of shape (n_out, n_in) and an optional
/// digital bias (n_out).
///
/// # Errors
/// Shape mismatches, non-finite weights or bias, layers too large, GPU failures.
pub fn program_layer<B: Backend>(
    backend: &B,
    hw: &HwConfig,
    w: &[f32],
    (n_out, n_in): (usize, usize),
    bias: Option<&[f32]>,
    layer_id: u32,
    chip: Chip,
) -> Result<AnalogLayer<B::Layer>> {
    if Some(w.len()) != n_out.checked_mul(n_in) {
        return Err(Error::Shape(format!(
            "weights hold {} values, expected {n_out} x {n_in}",
            w.len()
        )));
    }
    ensure_finite("weights", w)?;
    if let Some(b) = bias {
        if b.len() != n_out {
            return Err(Error::Shape(format!(
                "bias holds {} values, the layer has {n_out} outputs",
                b.len()
            )));
        }
        ensure_finite("bias", b)?;
    }
    let grid = TileGrid::new(n_out, n_in, hw.tile_rows, hw.tile_cols)?;
    let scales = grid.conductance_scales(w, hw.device().g_max_us);
    let stream = Stream::chip(layer_id, chip.instance);
    let params = ProgramParams::new(hw, &grid, 0..n_out, chip.seed, stream);
    let mut layer = backend.program(&grid, w, &scales, &params)?;
    let periphery = Periphery::new(hw);

    let mut gains = vec![1.0; grid.tiles()];
    let drifts = DeviceParams::new(hw).drifts == 1;
    if hw.device().drift_compensation == DriftCompensation::Global && drifts {
        let before =
            ReadoutParams::new(&grid, &periphery, chip.seed, stream, Purpose::ReadoutBefore);
        let after = ReadoutParams::new(&grid, &periphery, chip.seed, stream, Purpose::ReadoutAfter);
        let sums_before = backend.readout(&layer, WeightState::Programmed, &before)?;
        let sums_after = backend.readout(&layer, WeightState::Now, &after)?;
        gains = compensation_gains(&grid, &sums_before, &sums_after);
        backend.set_gains(&mut layer, &gains)?;
    }
    Ok(AnalogLayer {
        grid,
        periphery,
        bias: bias.map(<[f32]>::to_vec),
        seed: chip.seed,
        stream,
        gains,
        layer,
    })
}

/// Per tile: mean |F(I)| right after programming over mean |F(I)| now.
fn compensation_gains(grid: &TileGrid, before: &[f32], after: &[f32]) -> Vec<f32> {
    let mut gains = Vec::with_capacity(grid.tiles());
    for g in 0..grid.in_groups {
        let inputs = grid.in_range(g);
        for o in 0..grid.out_groups {
            // The read-out sums of tile (g, o): output group o's row, input group g's columns.
            let tile_sum = |sums: &[f32]| -> f64 {
                sums[o * grid.n_in..][inputs.clone()]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum()
            };
            let size = (inputs.len() * grid.out_range(o).len()) as f64;
            let (mean_before, mean_after) = (tile_sum(before) / size, tile_sum(after) / size);
            // A read-out of nothing carries no information: leave the tile alone.
            let gain = if mean_before > 0.0 {
                mean_before / mean_after.max(1e-4)
            } else {
                1.0
            };
            gains.push(gain as f32);
        }
    }
    gains
}

impl<L> AnalogLayer<L> {
    /// Analog forward pass of `batch` input vectors `x` (batch, n_in) -> (batch, n_out),
    /// bias added digitally. `row_offset` is the global index of the first vector: the
    /// output noise of vector r is drawn for index `row_offset + r`, so the vectors of a
    /// data set split into batches each get their own noise.
    ///
    /// # Errors
    /// Shape mismatches, non-finite inputs, GPU failures.
    pub fn forward<B: Backend<Layer = L>>(
        &self,
        backend: &B,
        x: &[f32],
        batch: usize,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        if Some(x.len()) != batch.checked_mul(self.grid.n_in) {
            return Err(Error::Shape(format!(
                "inputs hold {} values, expected {batch} x {} (the layer's inputs)",
                x.len(),
                self.grid.n_in
            )));
        }
        if batch > u32::MAX as usize {
            return Err(Error::Shape(format!(
                "batch of {batch} vectors is too large"
            )));
        }
        ensure_finite("inputs", x)?;
        let y = self.forward_finite(backend, x, batch, row_offset)?;
        // Finite inputs can still overflow f32 in the products.
        ensure_finite("outputs (the products overflow f32)", &y)?;
        Ok(y)
    }

    /// [`Self::forward`] of inputs known to be finite and of the right size.
    fn forward_finite<B: Backend<Layer = L>>(
        &self,
        backend: &B,
        x: &[f32],
        batch: usize,
        row_offset: u32,
    ) -> Result<Vec<f32>> {
        debug_assert_eq!(x.len(), batch * self.grid.n_in);
        let mut y = backend.mvm(&self.layer, x, &self.mvm_params(batch, row_offset))?;
        if let Some(bias) = &self.bias {
            for row in y.chunks_mut(self.grid.n_out) {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        Ok(y)
    }

    /// The programmed conductances.
    ///
    /// # Errors
    /// GPU failures.
    pub fn conductances<B: Backend<Layer = L>>(&self, backend: &B) -> Result<Conductances> {
        backend.conductances(&self.layer)
    }
}
